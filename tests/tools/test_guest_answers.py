"""Answers about one guest through the SDK client: the migration preflight, the migrate tools that run it first
(and refuse what Proxmox would fail), pve_preview of a blocked migration, and "why is this guest down or slow"."""

from __future__ import annotations

from typing import Any

import pytest

from pvemcp.catalog import BY_NAME
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.scope import Scope
from pvesim import Simulator
from pvesim.state import Guest
from tests.conftest import McpFactory, mcp_client, payload
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio

GIB = 1024**3


def ha_guest(sim: Simulator) -> Guest:
    return next(g for g in sim.state.guests.values() if g.hastate)


def other_node(sim: Simulator, guest: Guest, *skip: str) -> str:
    return next(n for n in sim.state.nodes if n != guest.node and n not in skip)


def calls_named(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every call an answer points to: its `use` and each finding's or blocker's `next`."""
    found = [answer["use"]] if answer.get("use") else []
    return found + [f["next"] for f in answer.get("findings", []) if "next" in f]


def assert_callable(answer: dict[str, Any]) -> None:
    """Each call named exists in the catalog and takes the arguments given."""
    for named in calls_named(answer):
        spec = BY_NAME[named["tool"]]
        assert set(named["arguments"]) <= {p.name for p in spec.all_params}, named


def writes(sim: Simulator, since: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sim.requests[since:] if r.method != "GET"]


async def test_a_running_vm_with_local_disks_needs_online_and_with_local_disks(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "running")
    job = next(j for j in sim.state.admin.replication.values() if j.guest == guest.vmid)  # 100 replicates
    target = job.target  # a migration to it turns the job around
    answer = await call(connect, "pve_migration_preflight", {"vmid": guest.vmid, "target": target})
    assert (answer["type"], answer["node"], answer["running"], answer["target"]) == ("qemu", guest.node, True, target)
    assert answer["can_migrate"] is True and answer["ha"] == {"managed": False, "sid": None, "state": None}
    codes = [(b["code"], b["fixed_by_use"], b["severity"]) for b in answer["blockers"]]
    assert codes == [("needs_online", True, "critical"), ("local_disks", True, "critical")]
    local = next(b for b in answer["blockers"] if b["code"] == "local_disks")
    assert local["message"] == "can't live migrate attached local disks without with-local-disks option"
    assert "with-local-disks=true" in local["hint"]
    disk = str(guest.config["scsi0"]).split(",")[0]
    assert answer["local_disks"] == [
        {"volid": disk, "drive": "scsi0", "size_bytes": 128 * GIB, "cdrom": False, "unused": False}
    ]
    arguments = {"vmid": guest.vmid, "target": target, "online": True, "with-local-disks": True}
    assert answer["use"] == {"tool": "pve_qemu_migrate", "arguments": arguments}
    assert sorted(answer["allowed_nodes"]) == sorted(n for n in sim.state.nodes if n != guest.node)
    assert_callable(answer)

    elsewhere = other_node(sim, guest, target)  # not the replication target: Proxmox refuses a live move
    blocked = await call(connect, "pve_migration_preflight", {"vmid": guest.vmid, "target": elsewhere})
    assert blocked["can_migrate"] is False and blocked["use"] is None
    assert blocked["blockers"][0]["code"] == "replication" and not blocked["blockers"][0]["fixed_by_use"]

    mark = len(sim.requests)
    refused = await failed(connect, "pve_qemu_migrate", {**arguments, "with-local-disks": False, "confirm": True})
    assert refused["code"] == "TOOL_INPUT_REJECTED"
    assert refused["message"] == "can't live migrate attached local disks without with-local-disks option"
    assert "with-local-disks=true" in refused["hint"] and refused["details"]["use"]["arguments"] == arguments
    assert writes(sim, mark) == [] and guest.node != target

    body = await call(connect, "pve_qemu_migrate", {**answer["use"]["arguments"], "confirm": True})
    assert body["task"]["exitstatus"] == "OK"
    assert (guest.node, guest.status, guest.lock) == (target, "running", None)
    assert disk in {v.volid for v in sim.state.volumes[("local-lvm", target)]}


async def test_without_a_target_the_allowed_node_with_most_free_memory_is_chosen(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "stopped")
    answer = await call(connect, "pve_migration_preflight", {"vmid": guest.vmid})
    nodes = {n["node"]: n["maxmem"] - n["mem"] for n in (await call(connect, "pve_list_nodes"))["items"]}
    assert answer["target"] == max(answer["allowed_nodes"], key=lambda n: nodes[n])
    assert answer["blockers"] == [] and answer["can_migrate"] is True and answer["running"] is False
    assert answer["use"] == {"tool": "pve_qemu_migrate", "arguments": {"vmid": guest.vmid, "target": answer["target"]}}
    assert any("most free memory" in w["message"] for w in answer["warnings"])


async def test_an_ha_managed_vm_is_sent_to_the_ha_manager_and_its_own_migrate_refused(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = ha_guest(sim)
    source, target, sid = guest.node, other_node(sim, guest), f"vm:{guest.vmid}"
    answer = await call(connect, "pve_migration_preflight", {"vmid": guest.vmid, "target": target})
    assert answer["ha"] == {"managed": True, "sid": sid, "state": "started"}
    assert [b["code"] for b in answer["blockers"]] == ["ha_managed"] and answer["can_migrate"] is True
    assert answer["use"]["tool"] == "pve_migrate_ha_resource" and answer["use"]["arguments"]["sid"] == sid
    assert target in answer["use"]["arguments"].values()
    rule = next(iter(sim.state.ha.rules.values()))  # the seed's node-affinity rule prefers the guest's home
    assert answer["warnings"][0] == {
        "severity": "warning",
        "message": f"HA rule {rule.rule} prefers {source}: unless its failback is off, HA moves it back.",
    }
    assert_callable(answer)

    mark, tasks = len(sim.requests), len(sim.state.node_tasks[source])
    args = {"vmid": guest.vmid, "target": target, "online": True, "with-local-disks": True, "confirm": True}
    refused = await failed(connect, "pve_qemu_migrate", args)
    assert refused["code"] == "TOOL_INPUT_REJECTED" and sid in refused["message"]
    assert "pve_migrate_ha_resource" in refused["hint"] and f"sid={sid}" in refused["hint"]
    assert writes(sim, mark) == [] and len(sim.state.node_tasks[source]) == tasks
    assert (guest.node, guest.lock, guest.hastate) == (source, None, "started")
    assert guest not in sim.state.ha.requests

    await call(connect, answer["use"]["tool"], {**answer["use"]["arguments"], "confirm": True})
    sim.clock.advance(60)
    sim.settle()
    assert guest.node == target and guest.running


async def test_a_container_moves_in_restart_mode_and_a_stopped_one_plainly(connect: McpFactory, sim: Simulator) -> None:
    running = pick(sim, "lxc", "running")
    answer = await call(connect, "pve_migration_preflight", {"vmid": running.vmid, "target": other_node(sim, running)})
    assert answer["type"] == "lxc" and [b["code"] for b in answer["blockers"]] == ["needs_restart"]
    assert answer["blockers"][0]["message"] == "can't migrate running container without --online or --restart"
    assert answer["use"]["tool"] == "pve_lxc_migrate" and answer["use"]["arguments"]["restart"] is True
    assert answer["warnings"][0]["severity"] == "warning" and "restart mode" in answer["warnings"][0]["message"]
    assert [d["drive"] for d in answer["local_disks"]] == ["rootfs"]

    stopped = pick(sim, "lxc", "stopped")
    target = other_node(sim, stopped)
    plain = await call(connect, "pve_migration_preflight", {"vmid": stopped.vmid, "target": target})
    assert plain["blockers"] == [] and plain["use"] == {
        "tool": "pve_lxc_migrate",
        "arguments": {"vmid": stopped.vmid, "target": target},
    }
    body = await call(connect, "pve_lxc_migrate", {**plain["use"]["arguments"], "confirm": True})
    assert body["task"]["exitstatus"] == "OK" and stopped.node == target


async def test_a_node_that_cannot_take_the_guest_is_a_blocker_with_proxmoxs_reason(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "stopped")
    home, barred, offline = guest.node, *[n for n in sim.state.nodes if n != guest.node]
    sim.state.storages["local-lvm"].nodes = tuple(n for n in sim.state.nodes if n != barred)
    sim.state.nodes[offline].online = False
    answer = await call(connect, "pve_migration_preflight", {"vmid": guest.vmid})
    assert answer["allowed_nodes"] == [] and answer["can_migrate"] is False and answer["target"] is None
    assert answer["not_allowed_nodes"] == {
        barred: ["storage 'local-lvm' is not available there"],
        offline: ["the node is offline"],
    }
    mark = len(sim.requests)
    for target, words in ((barred, "storage 'local-lvm' is not available there"), (offline, "offline")):
        refused = await failed(connect, "pve_qemu_migrate", {"vmid": guest.vmid, "target": target, "confirm": True})
        assert refused["code"] == "TOOL_INPUT_REJECTED" and words in refused["message"]
    assert writes(sim, mark) == [] and guest.node == home


async def test_nodes_outside_the_scope_are_neither_offered_nor_explained(pve: ProxmoxClient, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    inside = next(n for n in sim.state.nodes if n != guest.node)
    scope = Scope(nodes=frozenset({guest.node, inside}))
    async with mcp_client(pve, sim, scope=scope) as client:
        answer = payload(await client.call_tool("pve_migration_preflight", {"vmid": guest.vmid}))
    assert answer["allowed_nodes"] == [inside] and answer["target"] == inside
    assert answer["not_allowed_nodes"] == {}


async def test_a_locked_guest_cannot_migrate(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    guest.lock = "backup"
    answer = await call(connect, "pve_migration_preflight", {"vmid": guest.vmid, "target": other_node(sim, guest)})
    assert answer["can_migrate"] is False and answer["blockers"][0]["message"] == "VM is locked (backup)"
    assert "pve_list_tasks" in answer["blockers"][0]["hint"]


async def test_a_preview_of_a_blocked_migration_says_it_would_be_refused(connect: McpFactory, sim: Simulator) -> None:
    guest = ha_guest(sim)
    movable = pick(sim, "qemu", "stopped")
    async with connect() as client:
        blocked = payload(
            await client.call_tool(
                "pve_preview",
                {"tool": "pve_qemu_migrate", "arguments": {"vmid": guest.vmid, "target": other_node(sim, guest)}},
            )
        )
        fine = payload(
            await client.call_tool(
                "pve_preview",
                {"tool": "pve_qemu_migrate", "arguments": {"vmid": movable.vmid, "target": other_node(sim, movable)}},
            )
        )
    verdict = blocked["verdict"]
    assert verdict["allowed"] is False and verdict["refused"] is True and verdict["code"] == "TOOL_INPUT_REJECTED"
    assert verdict["reason"].startswith("would be refused: ") and f"vm:{guest.vmid}" in verdict["reason"]
    assert "pve_migrate_ha_resource" in verdict["hint"]
    assert fine["verdict"]["allowed"] is True and "refused" not in fine["verdict"]
    assert [r["method"] for r in fine["requests"]] == ["POST"]
    assert all(r.method == "GET" for r in sim.requests) and guest.node != other_node(sim, guest)


async def test_a_stopped_guest_whose_start_failed_shows_that_error_first(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    guest.lock = "backup"  # left behind by a backup that died
    failed_start = payload(await _call(connect, "pve_start_qemu_vm", {"vmid": guest.vmid}))
    assert failed_start["code"] == "TASK_FAILED"
    answer = await call(connect, "pve_diagnose_guest", {"vmid": guest.vmid})
    assert (answer["vmid"], answer["type"], answer["node"], answer["state"]) == (
        guest.vmid,
        "qemu",
        guest.node,
        "stopped",
    )
    first = answer["findings"][0]
    assert first["severity"] == "critical" and "VM is locked (backup)" in first["message"]
    assert first["next"] == {"tool": "pve_get_task_log", "arguments": {"upid": failed_start["details"]["upid"]}}
    lock = next(f for f in answer["findings"] if "no task of it runs" in f["message"])
    assert lock["severity"] == "critical" and lock["next"]["tool"] == "pve_list_tasks"
    task = answer["recent_tasks"][0]
    assert (task["type"], task["status"], task["exitstatus"]) == ("qmstart", "failed", "VM is locked (backup)")
    assert task["started_at"].endswith("Z") and isinstance(task["log_tail"], list)
    assert answer["status"]["lock"] == "backup" and answer["status"]["cpu_percent"] is None
    severities = [f["severity"] for f in answer["findings"]]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    assert_callable(answer)


async def test_a_running_healthy_guest_has_no_critical_finding_and_node_pressure(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "running")
    answer = await call(connect, "pve_diagnose_guest", {"vmid": guest.vmid, "tasks": 3})
    assert answer["state"] == "running" and answer["name"] == guest.name
    assert not any(f["severity"] == "critical" for f in answer["findings"])
    status = answer["status"]
    assert status["cores"] == guest.config["cores"] and 0 <= status["cpu_percent"] <= 100
    assert status["memory_bytes"] == int(str(guest.config["memory"])) * 1024**2 and 0 < status["memory_percent"] <= 100
    pressure = answer["node_pressure"]
    node = sim.state.nodes[guest.node]
    assert (pressure["node"], pressure["cpus"], pressure["memory_total_bytes"]) == (
        guest.node,
        node.cpus,
        node.mem_total,
    )
    assert 0 <= pressure["cpu_percent"] <= 100 and 0 <= pressure["memory_percent"] <= 100
    assert {"load_1", "load_5", "load_15", "swap_percent", "iowait_percent"} <= set(pressure)
    assert len(answer["recent_tasks"]) <= 3 and answer["status"]["ha"]["managed"] is False
    assert_callable(answer)
    managed = ha_guest(sim)
    ha = (await call(connect, "pve_diagnose_guest", {"vmid": managed.vmid}))["status"]["ha"]
    assert ha == {"managed": True, "sid": f"vm:{managed.vmid}", "state": "started"}


async def test_a_container_and_missing_storage_and_a_silent_agent_are_diagnosed(
    connect: McpFactory, sim: Simulator
) -> None:
    container = pick(sim, "lxc", "stopped")
    del sim.state.storages["local-lvm"]
    answer = await call(connect, "pve_diagnose_guest", {"vmid": container.vmid})
    assert answer["type"] == "lxc" and answer["findings"][0]["severity"] == "critical"
    assert "Storage 'local-lvm' of rootfs" in answer["findings"][0]["message"]
    assert answer["findings"][0]["next"] == {"tool": "pve_list_node_storage", "arguments": {"node": container.node}}

    vm = pick(sim, "qemu", "running")
    vm.paused = True  # a paused VM's agent does not answer
    paused = await call(connect, "pve_diagnose_guest", {"vmid": vm.vmid})
    messages = [f["message"] for f in paused["findings"]]
    assert paused["state"] == "paused" and "It is paused: its CPUs do not run." in messages
    assert any(m.startswith("The guest agent is enabled but does not answer") for m in messages)
    assert_callable(paused)


async def test_a_guest_on_an_offline_node_is_diagnosed_without_asking_it(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "running")
    sim.state.nodes[guest.node].online = False
    answer = await call(connect, "pve_diagnose_guest", {"vmid": guest.vmid})
    assert answer["state"] == "unknown" and answer["node_pressure"] == {"node": guest.node, "online": False}
    assert answer["findings"] == [
        {
            "severity": "critical",
            "message": f"Node {guest.node}, where CT {guest.vmid} lives, is offline: nothing on it answers.",
            "next": {"tool": "pve_list_nodes", "arguments": {}},
        }
    ]


async def _call(connect: McpFactory, name: str, args: dict[str, Any]) -> Any:
    async with connect() as client:
        return await client.call_tool(name, args)
