"""The one-call answers through the SDK client: is the cluster healthy (problems made in the simulator show up
as findings, worst first, each with the tool to look closer) and what is taking the space (figures equal the
simulator's volumes summed per guest)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from pvemcp.server.composites.health_checks import check_subscriptions
from pvemcp.server.scope import Scope
from pvesim import Fault, Simulator
from pvesim.history import past_task
from pvesim.rrd import storage_rows
from pvesim.state import Storage, Task, Volume
from pvesim.state.metrics import wave
from tests.conftest import McpFactory, client_for, mcp_client, payload
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio
DAY = 86_400
GIB = 1024**3
AREAS = ["quorum", "nodes", "guests", "ceph", "ha", "storage", "replication", "tasks", "certificates", "subscription"]
RANK = {"critical": 0, "warning": 1, "info": 2}


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def health(connect: McpFactory, **args: Any) -> dict[str, Any]:
    body = await call(connect, "pve_cluster_health", args)
    ranks = [RANK[f["severity"]] for f in body["findings"]]
    assert ranks == sorted(ranks), "findings come worst first"
    expected = "critical" if 0 in ranks else "warning" if 1 in ranks else "ok"
    assert body["status"] == expected
    return body


def brief(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["severity"], f["area"], f["subject"]) for f in body["findings"]]


def failed_tasks(sim: Simulator, since: float, nodes: Callable[[str], bool] = lambda _: True) -> list[Task]:
    """What the cluster holds: finished tasks started since `since` whose exit status is not OK, newest first."""
    tasks = [
        t
        for t in sim.state.tasks.values()
        if not t.running and t.status != "OK" and t.starttime >= since and nodes(t.node)
    ]
    return sorted(tasks, key=lambda t: -(t.endtime or 0))


def no_key(nodes: str) -> tuple[str, str, str]:
    return ("info", "subscription", nodes)


# pve_cluster_health


async def test_a_seeded_cluster_is_healthy_but_for_two_failed_tasks(connect: McpFactory, sim: Simulator) -> None:
    quiet = await health(connect, since_hours=1)
    guests = [g for g in sim.state.guests.values() if not g.template]
    assert quiet["status"] == "ok" and brief(quiet) == [no_key("pve1, pve2, pve3")]
    assert quiet["checked"] == AREAS and quiet["skipped"] == []
    assert quiet["summary"] == {
        "quorate": True,
        "nodes_online": 3,
        "nodes_total": 3,
        "guests_running": sum(g.running for g in guests),
        "guests_total": len(guests),
        "storages": 7,  # local and local-lvm on each node, nfs-backup once
        "storages_above_threshold": 0,
        "storage_threshold_percent": 85.0,
        "failed_tasks": 0,
        "failed_tasks_since_at": iso(sim.clock.now() - 3600),
        "ha_services": 1,
        "replication_jobs": 1,
        "replication_failed": 0,
        "subscriptions_active": 0,
        "ceph_health": "HEALTH_OK",
        "critical": 0,
        "warning": 0,
        "info": 1,
    }
    body = await health(connect)
    expected = failed_tasks(sim, sim.clock.now() - DAY)
    assert [t.type for t in expected] == ["qmstart", "vzdump"]  # a VM start and last night's backup job
    tasks = [f for f in body["findings"] if f["area"] == "tasks"]
    assert body["status"] == "warning" and body["summary"]["failed_tasks"] == 2
    for found, task in zip(tasks, expected, strict=True):
        assert found["severity"] == "warning"
        assert (found["node"], found["type"], found["id"], found["exit"]) == (
            task.node,
            task.type,
            task.id,
            task.status,
        )
        assert found["ended_at"] == iso(task.endtime or 0) and found["message"] == task.status
        assert found["next"] == {"tool": "pve_get_task_log", "arguments": {"node": task.node, "upid": task.upid}}
    closer = await call(connect, tasks[0]["next"]["tool"], tasks[0]["next"]["arguments"])
    assert closer["items"][-1]["t"] == f"TASK ERROR: {expected[0].status}"


async def test_an_offline_node_its_ha_service_and_replication_show_up_worst_first(
    connect: McpFactory, sim: Simulator
) -> None:
    ha_guest = next(g for g in sim.state.guests.values() if g.hastate)
    job = next(iter(sim.state.admin.replication.values()))
    assert ha_guest.node == job.target == "pve2"
    sim.state.nodes["pve2"].online = False
    sim.clock.advance(20 * 60)  # the replication scheduler tries the job and finds its target gone
    run = sim.state.replication_runs.runs[job.id]
    assert run.fail_count >= 1 and run.error == "node 'pve2' is offline"
    body = await health(connect, since_hours=1)
    assert brief(body) == [
        ("critical", "nodes", "pve2"),
        ("critical", "ha", f"vm:{ha_guest.vmid}"),
        ("warning", "ceph", "OSD_DOWN"),  # pve2's OSDs and monitor went with it
        ("warning", "ceph", "MON_DOWN"),
        ("warning", "replication", job.id),
        no_key("pve1, pve3"),
    ]
    node, service, _, _, replication, _ = body["findings"]
    assert node["next"] == {"tool": "pve_get_cluster_status", "arguments": {}}
    assert "offline" in service["message"] and service["next"]["tool"] == "pve_get_cluster_ha_status"
    assert replication["fail_count"] == run.fail_count and "node 'pve2' is offline" in replication["message"]
    assert replication["last_sync_at"] == iso(run.last_sync)
    assert replication["next"] == {"tool": "pve_get_replication_log", "arguments": {"node": job.source, "id": job.id}}
    summary = body["summary"]
    assert (summary["nodes_online"], summary["nodes_total"], summary["quorate"]) == (2, 3, True)
    assert (summary["replication_jobs"], summary["replication_failed"]) == (1, 1)
    reason = "pve2 is offline: its tasks, replication jobs, certificates and subscription were not read"
    assert body["skipped"] == [{"area": "nodes", "reason": reason}]
    log = await call(connect, replication["next"]["tool"], replication["next"]["arguments"])
    assert log["items"][-1]["t"].endswith("end replication job with error: node 'pve2' is offline")
    assert not any(r.path.startswith("/nodes/pve2/") for r in sim.requests)  # an offline node is not asked


async def test_lost_quorum_comes_first(connect: McpFactory, sim: Simulator) -> None:
    for name in ("pve2", "pve3"):
        sim.state.nodes[name].online = False
    body = await health(connect, since_hours=1)
    assert brief(body)[:3] == [
        ("critical", "quorum", sim.state.cluster_name),
        ("critical", "nodes", "pve2"),
        ("critical", "nodes", "pve3"),
    ]
    assert ("critical", "ha", "quorum") in brief(body)
    assert body["summary"]["quorate"] is False and body["summary"]["nodes_online"] == 1


async def test_full_storage_is_reported_once_and_by_the_threshold(connect: McpFactory, sim: Simulator) -> None:
    lvm, nfs = sim.state.storages["local-lvm"], sim.state.storages["nfs-backup"]
    lvm.used["pve2"] = int(lvm.total * 0.88)
    nfs.used[""] = int(nfs.total * 0.97)  # shared: every node lists it, reported once
    body = await health(connect, since_hours=1)
    storage = [f for f in body["findings"] if f["area"] == "storage"]
    assert [(f["severity"], f["subject"], f["used_percent"]) for f in storage] == [
        ("critical", "nfs-backup", round(nfs.used[""] * 100 / nfs.total, 1)),
        ("warning", "local-lvm on pve2", round(lvm.used["pve2"] * 100 / lvm.total, 1)),
    ]
    assert storage[0]["next"] == {"tool": "pve_storage_capacity", "arguments": {"storage": "nfs-backup"}}
    assert storage[1]["next"] == {"tool": "pve_storage_capacity", "arguments": {"storage": "local-lvm", "node": "pve2"}}
    assert body["summary"]["storages_above_threshold"] == 2
    stricter = await health(connect, since_hours=1, storage_threshold_percent=90)
    assert [f["subject"] for f in stricter["findings"] if f["area"] == "storage"] == ["nfs-backup"]
    assert stricter["summary"]["storage_threshold_percent"] == 90.0


async def test_only_the_newest_failed_tasks_are_listed(connect: McpFactory, sim: Simulator) -> None:
    node, now = sim.state.nodes["pve3"], sim.clock.now()
    guest = next(g for g in sim.state.guests.values() if g.node == "pve3")
    for i in range(7):
        lines = [f"ERROR: attempt {i}"]
        past_task(
            sim.state, node, "qmsnapshot", str(guest.vmid), now - 3000 + i * 300, 20, lines, f"snapshot {i} failed"
        )
    expected = failed_tasks(sim, now - 3600)
    assert len(expected) == 7
    body = await health(connect, since_hours=1)
    tasks = [f for f in body["findings"] if f["area"] == "tasks"]
    assert [f["next"]["arguments"]["upid"] for f in tasks[:5]] == [t.upid for t in expected[:5]]
    assert [f["exit"] for f in tasks[:5]] == [f"snapshot {i} failed" for i in (6, 5, 4, 3, 2)]
    assert tasks[5]["severity"] == "info" and tasks[5]["message"] == f"2 more failed tasks since {iso(now - 3600)}."
    assert tasks[5]["next"] == {
        "tool": "pve_list_tasks",
        "arguments": {"node": "pve3", "errors": True, "since": int(now - 3600)},
    }
    assert body["summary"]["failed_tasks"] == 7
    listed = await call(connect, tasks[5]["next"]["tool"], tasks[5]["next"]["arguments"])
    assert {item["upid"] for item in listed["items"]} == {t.upid for t in expected}


async def test_certificates_near_their_end_warn_and_expired_ones_are_critical(
    connect: McpFactory, sim: Simulator
) -> None:
    now = sim.clock.now()
    sim.state.node_admin.anchor = now - 320 * DAY  # node certificates last 730 days from anchor - 400 days
    expires = now - 320 * DAY - 400 * DAY + 730 * DAY
    body = await health(connect, since_hours=1)
    certs = [f for f in body["findings"] if f["area"] == "certificates"]
    assert [(f["severity"], f["subject"]) for f in certs] == [("warning", f"pve{i} pve-ssl.pem") for i in (1, 2, 3)]
    assert all(f["expires_at"] == iso(expires) and "expires in 10 days" in f["message"] for f in certs)
    assert certs[1]["next"] == {"tool": "pve_get_node_certificates", "arguments": {"node": "pve2"}}
    sim.state.node_admin.anchor = now - 331 * DAY
    expired = await health(connect, since_hours=1)
    assert brief(expired)[:3] == [("critical", "certificates", f"pve{i} pve-ssl.pem") for i in (1, 2, 3)]
    assert "expired at" in expired["findings"][0]["message"]


async def test_ceph_health_checks_become_findings_and_a_cluster_without_ceph_skips_it(
    connect: McpFactory, sim: Simulator
) -> None:
    sim.state.ceph.warn("OSD_NEARFULL", "1 nearfull osd(s)")
    sim.state.ceph.warn("PG_DAMAGED", "Possible data damage: 1 pg inconsistent", severity="HEALTH_ERR")
    body = await health(connect, since_hours=1)
    ceph = [f for f in body["findings"] if f["area"] == "ceph"]
    assert [(f["severity"], f["subject"], f["message"]) for f in ceph] == [
        ("critical", "PG_DAMAGED", "Possible data damage: 1 pg inconsistent"),
        ("warning", "OSD_NEARFULL", "1 nearfull osd(s)"),
    ]
    assert ceph[0]["next"] == {"tool": "pve_get_ceph_health", "arguments": {}}
    assert body["summary"]["ceph_health"] == "HEALTH_ERR"
    sim.state.ceph.initialized = False
    without = await health(connect, since_hours=1)
    assert "ceph" not in without["checked"] and "ceph_health" not in without["summary"]
    reason = "pveceph configuration not initialized - missing '/etc/pve/ceph.conf'"
    assert without["skipped"] == [{"area": "ceph", "reason": reason, "code": "PROXMOX_SERVER_ERROR"}]
    assert without["status"] == "ok"


async def test_cpu_and_memory_pressure_on_a_node(connect: McpFactory, sim: Simulator) -> None:
    node, now = sim.state.nodes["pve1"], sim.clock.now()
    w = wave(node.phase, now)
    node.cpu_base = 0.92 / (0.7 + 0.6 * w)  # the simulator's live figures: 92% CPU, 96% memory now
    node.mem_frac = 0.96 / (0.97 + 0.06 * w)
    body = await health(connect, since_hours=1)
    nodes = [f for f in body["findings"] if f["area"] == "nodes"]
    assert [(f["severity"], f["subject"]) for f in nodes] == [("critical", "pve1"), ("warning", "pve1")]
    assert nodes[0]["memory_percent"] == 96.0 and nodes[1]["cpu_percent"] == 92.0
    assert nodes[1]["next"] == {"tool": "pve_get_node_status", "arguments": {"node": "pve1"}}


async def test_a_refused_or_failed_read_is_skipped_not_fatal(connect: McpFactory, sim: Simulator) -> None:
    sim.arm(Fault("status", status=403, message="Permission check failed (/, Sys.Audit)", path_prefix="/cluster/ha"))
    sim.arm(Fault("status", status=500, message="got timeout", path_prefix="/nodes/pve3/certificates"))
    body = await health(connect, since_hours=1)
    assert body["skipped"] == [
        {"area": "ha", "reason": "Permission check failed (/, Sys.Audit)", "code": "PROXMOX_ACL_FORBIDDEN"},
        {"area": "certificates", "reason": "pve3: got timeout", "code": "PROXMOX_SERVER_ERROR"},
    ]
    assert "ha" not in body["checked"] and "certificates" in body["checked"]  # pve1 and pve2 answered
    assert body["status"] == "ok" and body["summary"]["nodes_online"] == 3
    sim.arm(Fault("status", status=503, count=0))  # nothing answers at all: that is an error, not a clean bill
    error = await failed(connect, "pve_cluster_health", {})
    assert error["code"] == "PROXMOX_SERVER_ERROR"


async def test_the_scope_limits_what_is_read_and_counted(era: str) -> None:
    sim = Simulator(record_effects=True)
    sim.state.nodes["pve3"].online = False  # outside the scope: neither a finding nor a read
    pve = client_for(sim)
    scope = Scope(nodes=frozenset({"pve1", "pve2"}), vmids=((100, 199),))
    async with mcp_client(pve, sim, era, scope=scope) as client:
        body = payload(await client.call_tool("pve_cluster_health", {}))
    await pve.aclose()
    inside = [g for g in sim.state.guests.values() if g.node != "pve3" and g.vmid < 200 and not g.template]
    assert (body["summary"]["nodes_total"], body["summary"]["guests_total"]) == (2, len(inside))
    assert body["summary"]["storages"] == 5 and body["skipped"] == []
    assert not any("pve3" in f["subject"] for f in body["findings"])
    assert [f["subject"] for f in body["findings"] if f["area"] == "tasks"] == ["qmstart 103 on pve1", "vzdump on pve1"]
    reads, changes = sim.touched()
    assert ("node", "pve3") not in reads and not changes


def test_lapsed_and_due_subscriptions_are_judged_per_node() -> None:
    """The simulator's nodes have no key; these are the other answers PVE gives, as its schema lists them."""
    now = float(calendar.timegm((2025, 11, 24, 12, 0, 0)))
    subs = {
        "pve1": {"status": "active", "nextduedate": "2025-12-10"},
        "pve2": {"status": "expired", "message": "subscription has expired"},
        "pve3": {"status": "active", "nextduedate": "2026-06-01"},
        "pve4": {"status": "active", "nextduedate": "2025-11-20"},
        "pve5": {"status": "notfound"},
        "pve6": {"status": "new"},
    }
    active, found = check_subscriptions(subs, now)
    assert active == 3
    assert [(f["severity"], f["subject"], f["message"]) for f in found] == [
        ("info", "pve1", "The subscription of pve1 is due on 2025-12-10."),
        ("warning", "pve2", "The subscription of pve2 is expired: subscription has expired."),
        ("warning", "pve4", "The subscription of pve4 was due on 2025-11-20."),
        ("info", "pve5, pve6", "No active subscription key on pve5, pve6: no enterprise repository."),
    ]


# pve_storage_capacity


def per_guest(sim: Simulator, storage: Storage, node: str) -> dict[int, dict[str, Any]]:
    """The simulator's volumes on a storage, summed per guest, with a size per content kind."""
    found: dict[int, dict[str, Any]] = {}
    for volume in sim.state.volumes_of(storage, node):
        if volume.vmid is None:
            continue
        entry = found.setdefault(volume.vmid, {"vmid": volume.vmid, "size_bytes": 0, "volumes": 0})
        guest = sim.state.guests.get(volume.vmid)
        if guest is not None:
            entry.update(name=guest.name, type=guest.type)
        entry["size_bytes"] += volume.size
        entry["volumes"] += 1
        entry[f"{volume.content}_bytes"] = entry.get(f"{volume.content}_bytes", 0) + volume.size
    return found


def least_squares_per_day(rows: list[dict[str, float | int]]) -> int:
    points = [(float(r["time"]), float(r["used"])) for r in rows if "used" in r]
    mt = sum(t for t, _ in points) / len(points)
    mu = sum(u for _, u in points) / len(points)
    slope = sum((t - mt) * (u - mu) for t, u in points) / sum((t - mt) ** 2 for t, _ in points)
    return round(slope * DAY)


async def test_every_storage_once_with_its_consumers_summed_per_guest(connect: McpFactory, sim: Simulator) -> None:
    body = await call(connect, "pve_storage_capacity")
    entries = body["storages"]
    assert [e["used_percent"] for e in entries] == sorted((e["used_percent"] for e in entries), reverse=True)
    shared = [e for e in entries if e["shared"]]
    assert [(e["storage"], e["nodes"]) for e in shared] == [("nfs-backup", ["pve1", "pve2", "pve3"])]
    assert len(entries) == 7
    for entry in entries:
        storage = sim.state.storages[entry["storage"]]
        node = entry.get("node") or "pve1"
        used = storage.used_on(node)
        assert (entry["used_bytes"], entry["total_bytes"]) == (used, storage.total)
        assert entry["used_percent"] == round(used * 100 / storage.total, 1)
        assert entry["free_bytes"] == storage.total - used and entry["content"] == sorted(storage.content)
        guests = per_guest(sim, storage, node)
        ranked = sorted(guests.values(), key=lambda g: (-g["size_bytes"], g["vmid"]))
        assert entry["consumers"] == ranked[:5] and entry["consumers_total"] == len(guests)
        volumes = sim.state.volumes_of(storage, node)
        assert entry["volumes_size_bytes"] == sum(v.size for v in volumes)
        unowned = [v for v in volumes if v.vmid is None]
        if unowned:
            assert entry["unowned"]["size_bytes"] == sum(v.size for v in unowned)
            assert entry["unowned"]["iso_bytes"] == sum(v.size for v in unowned if v.content == "iso")
    lvm = next(e for e in entries if e["storage"] == "local-lvm")
    assert {c.get("images_bytes", 0) + c.get("rootdir_bytes", 0) for c in lvm["consumers"]} == {
        c["size_bytes"] for c in lvm["consumers"]
    }
    assert body["totals"]["used_bytes"] == sum(e["used_bytes"] for e in entries) and body["skipped"] == []
    contents = [r.path for r in sim.requests if r.path.endswith("/nfs-backup/content")]
    assert len(contents) == 1  # a shared storage is read once


async def test_top_storage_and_node_narrow_the_answer(connect: McpFactory, sim: Simulator) -> None:
    nfs = sim.state.storages["nfs-backup"]
    body = await call(connect, "pve_storage_capacity", {"storage": "nfs-backup", "top": 2})
    (entry,) = body["storages"]
    ranked = sorted(per_guest(sim, nfs, "").values(), key=lambda g: (-g["size_bytes"], g["vmid"]))
    assert entry["consumers"] == ranked[:2] and entry["consumers_total"] == len(ranked) > 2
    start = len(sim.requests)
    on_pve2 = await call(connect, "pve_storage_capacity", {"node": "pve2"})
    assert sorted((e["storage"], e.get("node")) for e in on_pve2["storages"]) == [
        ("local", "pve2"),
        ("local-lvm", "pve2"),
        ("nfs-backup", None),
    ]
    reads = {r.path for r in sim.requests[start:] if "/storage/" in r.path}
    assert all(path.startswith("/nodes/pve2/") for path in reads) and len(reads) == 6
    unknown = await failed(connect, "pve_storage_capacity", {"storage": "nope"})
    assert (unknown["code"], unknown["message"]) == ("PROXMOX_NOT_FOUND", "storage 'nope' does not exist")
    nowhere = await failed(connect, "pve_storage_capacity", {"node": "pve9"})
    assert nowhere["code"] == "PROXMOX_NOT_FOUND" and "pve9" in nowhere["message"]


async def test_the_weeks_growth_gives_the_days_until_full(connect: McpFactory, sim: Simulator) -> None:
    nfs, now = sim.state.storages["nfs-backup"], sim.clock.now()
    big = Volume("nfs-backup:backup/vzdump-qemu-102-extra.vma.zst", "backup", "vma.zst", 400 * GIB, int(now - DAY), 102)
    sim.state.volumes[("nfs-backup", "")].append(big)  # a large backup written yesterday
    nfs.used[""] += big.size
    body = await call(connect, "pve_storage_capacity", {"node": "pve1"})
    entries = {e["storage"]: e for e in body["storages"]}
    rows = storage_rows(sim.state, nfs, sim.state.nodes["pve1"], "week", "AVERAGE", now)
    trend = entries["nfs-backup"]["trend"]
    growth = least_squares_per_day(rows)
    assert trend == {
        "since_at": iso(rows[0]["time"]),
        "points": 336,
        "growth_bytes_per_day": growth,
        "days_until_full": round((nfs.total - nfs.used[""]) / growth, 1),
    }
    assert growth > 400 * GIB / 7  # the new backup alone spreads to more than that over the week
    assert entries["local-lvm"]["trend"]["growth_bytes_per_day"] == 0
    assert "days_until_full" not in entries["local-lvm"]["trend"]
    top = entries["nfs-backup"]["consumers"][0]
    assert top["vmid"] == 102 and top["backup_bytes"] == per_guest(sim, nfs, "")[102]["size_bytes"]


async def test_backups_of_a_destroyed_guest_and_an_offline_node(connect: McpFactory, sim: Simulator) -> None:
    del sim.state.guests[100]  # its backups stay behind in nfs-backup
    sim.state.nodes["pve3"].online = False
    body = await call(connect, "pve_storage_capacity")
    nfs = next(e for e in body["storages"] if e["storage"] == "nfs-backup")
    gone = next(c for c in nfs["consumers"] if c["vmid"] == 100)
    assert gone["guest_exists"] is False and "name" not in gone
    offline = [e for e in body["storages"] if e.get("node") == "pve3"]
    assert [(e["storage"], e["status"]) for e in offline] == [("local", "node offline"), ("local-lvm", "node offline")]
    assert all("consumers" not in e and "trend" not in e for e in offline)
    assert not any(r.path.startswith("/nodes/pve3/") for r in sim.requests)


async def test_consumers_outside_the_scope_are_left_out(era: str) -> None:
    sim = Simulator(record_effects=True)
    pve = client_for(sim)
    async with mcp_client(pve, sim, era, scope=Scope(nodes=frozenset({"pve1"}), vmids=((100, 104),))) as client:
        body = payload(await client.call_tool("pve_storage_capacity", {}))
        refused = await client.call_tool("pve_storage_capacity", {"node": "pve2"})
    await pve.aclose()
    assert refused.is_error and payload(refused)["code"] == "PROXMOX_NOT_FOUND"
    assert sorted((e["storage"], e.get("node"), e.get("nodes")) for e in body["storages"]) == [
        ("local", "pve1", None),
        ("local-lvm", "pve1", None),
        ("nfs-backup", None, ["pve1"]),
    ]
    vmids = {c["vmid"] for e in body["storages"] for c in e.get("consumers", [])}
    assert vmids and all(100 <= v <= 104 and sim.state.guests[v].node == "pve1" for v in vmids)
    reads, _ = sim.touched()
    assert reads == {("node", "pve1")}
