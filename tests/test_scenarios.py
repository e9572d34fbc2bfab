"""Admin requests on the consolidated surface: each the shortest call sequence an assistant needs, the facts
of the answer checked against the simulator's state, the calls counted exactly, in both protocol eras.

Reads run at the read-only default (with the advanced module where the front needs it), changes with every
tier. A request the admin phrased as an instruction passes confirm=true; the confirmation round is its own
scenario.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.concise import human_bytes
from pvesim import Simulator, rrd
from pvesim.state.metrics import guest_usage, max_disk, max_mem, node_usage
from tests.conftest import McpFactory
from tests.scenario_support import (
    READ,
    READ_ADVANCED,
    WRITE,
    Assistant,
    Book,
    Scenario,
    one,
    percent,
    setting,
    tags,
    where,
)

pytestmark = pytest.mark.anyio
scenario = Book()
DAY = 86_400


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def task_ok(answer: dict[str, Any]) -> None:
    assert answer["task"]["task_state"] == "stopped" and answer["task"]["exitstatus"] == "OK", answer


# Inventory and search


@scenario("Where is mail-01 running, and is it up?", calls=1)
async def find_a_guest_by_name(a: Assistant, sim: Simulator) -> None:
    row = one((await a.ask("pve_inventory", type="vm"))["items"], name="mail-01")
    guest = sim.state.guests[row["vmid"]]
    assert guest.name == "mail-01" and (row["node"], row["status"]) == (guest.node, guest.status)


@scenario("List everything tagged prod, with where it runs.", calls=1)
async def search_by_tag(a: Assistant, sim: Simulator) -> None:
    rows = [r for r in (await a.ask("pve_inventory", type="vm"))["items"] if "prod" in tags(r)]
    expected = {g.vmid: g.node for g in sim.state.guests.values() if "prod" in str(g.config.get("tags", "")).split(";")}
    assert {r["vmid"]: r["node"] for r in rows} == expected and len(expected) >= 5


@scenario("What is running on pve3 right now?", calls=1)
async def search_by_node(a: Assistant, sim: Simulator) -> None:
    rows = where((await a.ask("pve_inventory", type="vm"))["items"], node="pve3", status="running")
    expected = {g.vmid for g in sim.state.guests.values() if g.node == "pve3" and g.running}
    assert {r["vmid"] for r in rows} == expected and expected


@scenario("Which containers are stopped?", calls=1)
async def search_by_state(a: Assistant, sim: Simulator) -> None:
    rows = where((await a.ask("pve_inventory", action="containers"))["items"], status="stopped")
    expected = {g.vmid for g in sim.state.guests.values() if g.type == "lxc" and g.status == "stopped"}
    assert {r["vmid"] for r in rows} == expected == {202, 205}


# Node and guest status, metrics


@scenario("How busy is pve2: CPU, memory, how long has it been up?", calls=1)
async def node_status(a: Assistant, sim: Simulator) -> None:
    status = await a.ask("pve_node", node="pve2")
    node = sim.state.nodes["pve2"]
    usage = node_usage(node, sim.clock.now())
    assert status["cpuinfo"]["model"] == node.cpu_model and status["cpuinfo"]["cpus"] == node.cpus
    assert status["cpu_percent"] == round(usage.cpu * 100, 1)
    assert percent(status["memory"], "used") == round(usage.mem_used / node.mem_total * 100, 1)
    assert status["uptime"].startswith(f"{int((sim.clock.now() - node.boot_time) // DAY)}d ")


@scenario("Is ct-proxy (201) up, and how full is its memory?", calls=1)
async def guest_status(a: Assistant, sim: Simulator) -> None:
    status = await a.ask("pve_guest", vmid=201)
    guest = sim.state.guests[201]
    assert (status["name"], status["type"], status["status"]) == ("ct-proxy", "lxc", guest.status) and guest.running
    assert percent(status, "mem") == round(guest_usage(guest, sim.clock.now()).mem / max_mem(guest) * 100, 1)


@scenario("How has pve1's CPU load looked over the last day?", calls=1)
async def node_metrics_over_a_day(a: Assistant, sim: Simulator) -> None:
    metrics = await a.ask("pve_node", action="metrics", node="pve1", timeframe="day")
    cpu = [v for v in metrics["series"]["cpu_percent"] if v is not None]
    rows = rrd.node_rows(sim.state, sim.state.nodes["pve1"], "day", "AVERAGE", sim.clock.now())
    recorded = [float(r["cpu"]) * 100 for r in rows if "cpu" in r]
    assert metrics["timeframe"] == "day" and len(cpu) == metrics["count"] >= 24
    assert abs(sum(cpu) / len(cpu) - sum(recorded) / len(recorded)) < 0.5  # the day's average, as recorded
    assert min(recorded) - 0.1 <= min(cpu) < max(cpu) <= max(recorded) + 0.1


@scenario("Has ct-dns (200) been filling its disk over the past week?", calls=1)
async def guest_metrics_over_a_week(a: Assistant, sim: Simulator) -> None:
    metrics = await a.ask("pve_guest", action="metrics", vmid=200, timeframe="week")
    disk = [v for v in metrics["series"]["disk_bytes"] if v is not None]
    rows = rrd.guest_rows(sim.state, sim.state.guests[200], "week", "AVERAGE", sim.clock.now())
    recorded = [float(r["disk"]) for r in rows if "disk" in r]
    assert metrics["timeframe"] == "week" and len(disk) >= 7 and disk[-1] > disk[0]
    assert min(recorded) <= disk[0] and disk[-1] <= max(recorded) < max_disk(sim.state.guests[200])


@scenario("db-02 (103) does not come up. What is wrong with it?", calls=1)
async def diagnose_a_guest(a: Assistant, sim: Simulator) -> None:
    answer = await a.ask("pve_guest", action="diagnose", vmid=103)
    failed = next(t for t in sim.state.tasks.values() if t.id == "103" and t.status != "OK")
    worst = answer["findings"][0]
    assert answer["state"] == sim.state.guests[103].status == "stopped"
    assert worst["severity"] == "critical" and str(failed.status) in worst["message"]
    assert worst["next"] == {"tool": "pve_task", "arguments": {"action": "log", "upid": failed.upid}}


# Health, capacity, tasks


SEVERITY = {"critical": 0, "warning": 1, "info": 2}


@scenario("Anything on the cluster I should look at before the weekend?", calls=1)
async def health_findings(a: Assistant, sim: Simulator) -> None:
    health = await a.ask("pve_health")
    ranks = [SEVERITY[f["severity"]] for f in health["findings"]]
    assert ranks == sorted(ranks) and health["status"] == "warning"
    assert health["summary"]["nodes_online"] == sum(n.online for n in sim.state.nodes.values()) == 3
    start = one(health["findings"], type="qmstart")
    failed = next(t for t in sim.state.tasks.values() if t.type == "qmstart" and t.status != "OK")
    assert start["exit"] == failed.status and start["next"]["arguments"]["upid"] == failed.upid


@scenario("The health check says a backup had errors. Show me what failed.", calls=2)
async def health_then_the_failed_tasks_log(a: Assistant, sim: Simulator) -> None:
    finding = one((await a.ask("pve_health"))["findings"], type="vzdump")
    log = await a.follow(finding["next"])
    task = sim.state.tasks[finding["next"]["arguments"]["upid"]]
    errors = [row["t"] for row in log["items"] if row["t"].startswith("ERROR:")]
    assert errors == [line for line in task.log if line.startswith("ERROR:")] and "VM 205" in errors[0]


@scenario("How much room is left on local-lvm on pve1, and what is using it?", calls=1)
async def storage_capacity(a: Assistant, sim: Simulator) -> None:
    row = one((await a.ask("pve_storage", storage="local-lvm", node="pve1"))["storages"], node="pve1")
    storage = sim.state.storages["local-lvm"]
    # concise: sizes as text with their unit (response_format=detailed keeps the *_bytes integers)
    assert (row["total"], row["used"]) == (human_bytes(storage.total), human_bytes(storage.used["pve1"]))
    assert row["free"] == human_bytes(storage.total - storage.used["pve1"])
    biggest = max(sim.state.volumes[("local-lvm", "pve1")], key=lambda v: v.size)
    assert row["consumers"][0]["vmid"] == biggest.vmid == 100 and row["consumers"][0]["size"] == human_bytes(
        biggest.size
    )


@scenario("At the current rate, which storage fills up first, and when?", calls=1)
async def storage_growth(a: Assistant, sim: Simulator) -> None:
    filling = [s for s in (await a.ask("pve_storage"))["storages"] if s["trend"].get("days_until_full")]
    first = min(filling, key=lambda s: s["trend"]["days_until_full"])
    assert first["storage"] == "nfs-backup" and first["trend"]["growth_per_day"].endswith("iB")
    assert first["consumers_note"].startswith("the largest 5 of 15 guests")  # a short list says it is one
    free = sim.state.storages["nfs-backup"].total - sim.state.storages["nfs-backup"].used[""]
    assert first["free"] == human_bytes(free)


@scenario("Did last night's backups finish cleanly on every node?", calls=1)
async def last_nights_backups(a: Assistant, sim: Simulator) -> None:
    midnight = sim.clock.now() // DAY * DAY
    rows = [r for r in (await a.ask("pve_task"))["items"] if r["type"] == "vzdump" and r["starttime"] >= iso(midnight)]
    expected = {t.upid: t.status for t in sim.state.tasks.values() if t.type == "vzdump" and t.starttime >= midnight}
    assert {r["upid"]: r["exitstatus"] for r in rows} == expected
    assert [r["node"] for r in rows if r["exitstatus"] != "OK"] == ["pve1"]


# Backups


@scenario("What backups of db-01 do we have?", calls=3)
async def a_guests_backups(a: Assistant, sim: Simulator) -> None:
    items = (await a.ask("pve_inventory"))["items"]
    guest = one(items, name="db-01")
    holding = [s for s in items if s["type"] == "storage" and "backup" in str(s.get("content", "")).split(",")]
    found: list[str] = []
    for name in sorted({s["storage"] for s in holding if s.get("shared") or s["node"] == guest["node"]}):
        answer = await a.ask("pve_backup", action="backups", node=guest["node"], storage=name, vmid=guest["vmid"])
        found += [row["volid"] for row in answer["items"]]
    expected = [v.volid for vols in sim.state.volumes.values() for v in vols if v.content == "backup" and v.vmid == 102]
    assert sorted(found) == sorted(expected) and len(expected) == 3


@scenario("Back up ct-redis now, to nfs-backup.", calls=2, policy=WRITE)
async def run_a_backup(a: Assistant, sim: Simulator) -> None:
    guest = one((await a.ask("pve_inventory", type="vm"))["items"], name="ct-redis")
    args = {"action": "run", "node": guest["node"], "vmid": str(guest["vmid"]), "storage": "nfs-backup"}
    task_ok(await a.ask("pve_backup", args, confirm=True))
    today = dt.datetime.fromtimestamp(sim.clock.now(), dt.UTC).strftime("%Y_%m_%d")
    assert any(f"lxc-205-{today}" in v.volid for v in sim.state.volumes[("nfs-backup", "")])


@scenario("When does the nightly backup run, and is ct-log in it?", calls=1)
async def backup_jobs(a: Assistant, sim: Simulator) -> None:
    job = one((await a.ask("pve_backup", action="jobs"))["items"], comment="nightly")
    (expected,) = sim.state.backup.jobs.values()
    assert job["schedule"] == expected["schedule"] == "01:00" and job["enabled"] is True
    assert "204" in job["vmid"].split(",") and job["storage"] == "nfs-backup"


# Snapshots


@scenario("Snapshot ct-log as before-logrotate, then show me its snapshots.", calls=2, policy=WRITE)
async def take_and_list_snapshots(a: Assistant, sim: Simulator) -> None:
    task_ok(await a.ask("pve_snapshot", action="create", vmid=204, snapname="before-logrotate"))
    listed = (await a.ask("pve_guest", action="snapshots", vmid=204))["items"]
    taken = sim.state.admin.of(sim.state.guests[204]).snapshots["before-logrotate"]
    assert one(listed, name="before-logrotate")["snaptime"] == iso(taken.snaptime)
    assert one(listed, name="current")["parent"] == "before-logrotate"


async def snapshotted(sim: Simulator, pve: ProxmoxClient) -> None:
    await pve.post("/nodes/pve2/qemu/107/snapshot", {"snapname": "before-upgrade", "description": "Before the upgrade"})
    sim.clock.advance(10)
    await pve.request("PUT", "/nodes/pve2/qemu/107/config", {"memory": 8192})


@scenario("Roll ci-runner-01 back to its snapshot from before the upgrade.", calls=2, policy=WRITE, setup=snapshotted)
async def roll_back_a_snapshot(a: Assistant, sim: Simulator) -> None:
    assert setting(sim, 107, "memory") == "8192"
    snaps = (await a.ask("pve_guest", action="snapshots", vmid=107))["items"]
    chosen = next(s for s in snaps if "upgrade" in s.get("description", "").lower() and s["name"] != "current")
    task_ok(await a.ask("pve_snapshot", action="rollback", vmid=107, snapname=chosen["name"], confirm=True))
    assert setting(sim, 107, "memory") == "4096"


# Power


@scenario("Bring ct-ntp up.", calls=1, policy=WRITE)
async def start_a_container(a: Assistant, sim: Simulator) -> None:
    task_ok(await a.ask("pve_guest_power", action="start", vmid=202))
    assert sim.state.guests[202].status == "running"


@scenario("Shut monitor-01 (108) down cleanly, please.", calls=1, policy=WRITE)
async def shut_down_a_vm(a: Assistant, sim: Simulator) -> None:
    task_ok(await a.ask("pve_guest_power", action="shutdown", vmid=108, confirm=True))
    assert sim.state.guests[108].status == "stopped"


@scenario("cache-01 (105) hangs. Pull the plug on it.", calls=1, policy=WRITE)
async def stop_a_hung_vm(a: Assistant, sim: Simulator) -> None:
    task_ok(await a.ask("pve_guest_power", action="stop", vmid=105, confirm=True))
    assert sim.state.guests[105].status == "stopped"


@scenario("Reboot the ct-monitor container (203).", calls=1, policy=WRITE)
async def reboot_a_container(a: Assistant, sim: Simulator) -> None:
    answer = await a.ask("pve_guest_power", action="reboot", vmid=203, confirm=True)
    task_ok(answer)
    assert sim.state.tasks[answer["task"]["upid"]].type == "vzreboot" and sim.state.guests[203].running


# Creating, cloning, migrating, changing guests


@scenario(
    "Create a VM build-02 on pve2: 4 GB RAM, 2 cores, a 32 GB disk on local-lvm, booting the Debian netinst ISO"
    " from local.",
    calls=2,
    policy=WRITE,
)
async def create_a_vm(a: Assistant, sim: Simulator) -> None:
    isos = (await a.ask("pve_storage", action="isos", node="pve2", storage="local"))["items"]
    iso_volid = next(i["volid"] for i in isos if "debian" in i["volid"] and "netinst" in i["volid"])
    args = {"action": "create", "type": "qemu", "node": "pve2", "name": "build-02", "memory": 4096, "cores": 2}
    created = await a.ask("pve_guest_lifecycle", args, disk_size=32, storage="local-lvm", iso=iso_volid)
    task_ok(created)
    guest = sim.state.guests[created["vmid"]]
    assert (guest.type, guest.node, guest.name) == ("qemu", "pve2", "build-02")
    assert (setting(sim, guest.vmid, "memory"), setting(sim, guest.vmid, "cores")) == ("4096", "2")
    assert guest.config.get("ide2") == f"{iso_volid},media=cdrom" and "size=32G" in str(guest.config.get("scsi0"))


@scenario("An Alpine container ct-cache2 on pve3: template from local, disk on local-lvm.", calls=2, policy=WRITE)
async def create_a_container(a: Assistant, sim: Simulator) -> None:
    templates = (await a.ask("pve_storage", action="templates", node="pve3", storage="local"))["items"]
    alpine = next(t["volid"] for t in templates if "alpine" in t["volid"])
    args = {"action": "create", "type": "lxc", "node": "pve3", "hostname": "ct-cache2", "ostemplate": alpine}
    created = await a.ask("pve_guest_lifecycle", args, storage="local-lvm")
    task_ok(created)
    guest = sim.state.guests[created["vmid"]]
    assert (guest.type, guest.node, guest.name, guest.config.get("ostype")) == ("lxc", "pve3", "ct-cache2", "alpine")
    assert str(guest.config.get("rootfs")).startswith(f"local-lvm:vm-{guest.vmid}-disk-0")


@scenario("Clone the Debian template into a new VM named web-03.", calls=2, policy=WRITE)
async def clone_a_template(a: Assistant, sim: Simulator) -> None:
    template = next(t for t in (await a.ask("pve_inventory", action="templates"))["items"] if "debian" in t["name"])
    cloned = await a.ask("pve_guest_lifecycle", action="clone", vmid=template["vmid"], name="web-03")
    task_ok(cloned)
    guest = sim.state.guests[cloned["newid"]]
    assert (guest.name, guest.node, guest.template) == ("web-03", template["node"], False)
    assert sim.state.guests[template["vmid"]].template


@scenario("Move mail-01 (106) to pve2 without shutting it down.", calls=2, policy=WRITE)
async def live_migrate_after_preflight(a: Assistant, sim: Simulator) -> None:
    check = await a.ask("pve_guest", action="preflight", vmid=106, target="pve2")
    assert check["can_migrate"] is True and check["running"] is True
    assert check["use"]["tool"] == "pve_guest_lifecycle" and check["use"]["arguments"]["online"] is True
    task_ok(await a.follow(check["use"], confirm=True))
    assert (sim.state.guests[106].node, sim.state.guests[106].status) == ("pve2", "running")


@scenario("ci-runner-01 is switched off; move it to pve3.", calls=1, policy=WRITE)
async def migrate_a_stopped_vm(a: Assistant, sim: Simulator) -> None:
    task_ok(await a.ask("pve_guest_lifecycle", action="migrate", vmid=107, target="pve3", confirm=True))
    assert sim.state.guests[107].node == "pve3"
    assert [v.volid for v in sim.state.volumes[("local-lvm", "pve3")] if v.vmid == 107] == ["local-lvm:vm-107-disk-0"]


async def under_ha(sim: Simulator, pve: ProxmoxClient) -> None:
    await pve.post("/cluster/ha/resources", {"sid": "vm:108", "state": "started"})


@scenario(
    "Move monitor-01 over to pve1 while we service pve3.",
    calls=2,
    policy=WRITE,
    setup=under_ha,
)
async def migrate_an_ha_managed_vm(a: Assistant, sim: Simulator) -> None:
    refusal = await a.refused("pve_guest_lifecycle", action="migrate", vmid=108, target="pve1", confirm=True)
    assert "HA" in refusal["message"] and sim.state.guests[108].node == "pve3"
    use = refusal["details"]["use"]
    await a.follow(use, confirm=True)
    sim.clock.advance(120)  # the CRM moves it
    assert (sim.state.guests[108].node, sim.state.guests[108].status) == ("pve1", "running")
    assert use == {"tool": "pve_ha", "arguments": {"action": "migrate", "sid": "vm:108", "target": "pve1"}}
    assert "pve_ha action migrate" in refusal["hint"]  # the consolidated surface's own names


@scenario("Give db-02 (103) 8 GB of RAM and 4 cores.", calls=2, policy=WRITE)
async def a_confirmation_round(a: Assistant, sim: Simulator) -> None:
    args = {"action": "configure", "vmid": 103, "memory": 8192, "cores": 4}
    asked = await a.refused("pve_guest_lifecycle", args)
    assert asked["code"] == "CONFIRMATION_REQUIRED" and "VM 103 'db-02'" in asked["message"]
    assert setting(sim, 103, "memory") == "16384"  # nothing changed before the "yes"
    await a.ask("pve_guest_lifecycle", args, confirm=True)
    assert (setting(sim, 103, "memory"), setting(sim, 103, "cores")) == ("8192", "4")


# Firewall


@scenario("Is the firewall actually enforced for ct-dns, and does it let DNS in?", calls=1)
async def effective_firewall(a: Assistant, sim: Simulator) -> None:
    fw = await a.ask("pve_firewall", vmid=200)
    assert fw["name"] == "ct-dns" and fw["enabled"] is False and fw["why_not_enforced"]
    assert not sim.state.firewall.options_of(200, sim.state.guests[200]).get("enable")
    assert one(fw["rules"], macro="DNS")["action"] == "ACCEPT"


@scenario("Allow HTTPS into db-01 (102) from the management ipset.", calls=1, policy=WRITE)
async def add_a_guest_firewall_rule(a: Assistant, sim: Simulator) -> None:
    rule = {"type": "in", "rule_action": "ACCEPT", "macro": "HTTPS", "source": "+management", "enable": 1}
    await a.ask("pve_firewall", {"action": "guest_rule_add", "vmid": 102, **rule}, confirm=True)
    rules = sim.state.firewall.rules_of(102, sim.state.guests[102])
    added = one(rules, macro="HTTPS")
    assert (added["action"], added["source"], added["type"], added["enable"]) == ("ACCEPT", "+management", "in", 1)


# Storage, HA, replication


@scenario("Which ISOs do we have on pve1's local storage?", calls=1)
async def storage_contents(a: Assistant, sim: Simulator) -> None:
    isos = (await a.ask("pve_storage", action="isos", node="pve1", storage="local"))["items"]
    expected = [v.volid for v in sim.state.volumes[("local", "pve1")] if v.content == "iso"]
    assert sorted(i["volid"] for i in isos) == sorted(expected) and len(expected) == 3


@scenario("What is HA managing right now, and is it quorate?", calls=1)
async def ha_status(a: Assistant, sim: Simulator) -> None:
    items = (await a.ask("pve_ha"))["items"]
    assert one(items, type="quorum")["quorate"] is True
    managed = {g.vmid: g for g in sim.state.guests.values() if g.hastate}
    services = where(items, type="service")
    assert {s["sid"] for s in services} == {f"vm:{vmid}" for vmid in managed} == {"vm:104"}
    assert (services[0]["node"], services[0]["state"]) == (managed[104].node, managed[104].hastate)


@scenario("When did web-01's replica last sync, and has it been failing?", calls=2, policy=READ_ADVANCED)
async def replication_state(a: Assistant, sim: Simulator) -> None:
    job = one((await a.ask("pve_replication"))["items"], guest=100)
    status = await a.ask("pve_replication", action="status", id=job["id"], node=job["source"])
    run = sim.state.replication_runs.runs[job["id"]]
    assert status["fail_count"] == run.fail_count == 0
    assert status["last_sync"] == iso(run.last_sync) and status["target"] == "pve2"


# Users and permissions, the raw API, preview, refusals


@scenario("Can bob power-cycle web-01 (100)? And take snapshots of it?", calls=1, policy=READ_ADVANCED)
async def a_users_permissions(a: Assistant, sim: Simulator) -> None:
    answer = await a.ask("pve_access", action="permissions", userid="bob@pve", path="/vms/100")
    privileges = answer["/vms/100"]
    assert privileges["VM.PowerMgmt"] in (True, 1) and privileges["VM.Snapshot"] in (False, 0)
    assert "VM.PowerMgmt" in sim.state.roles["PVEVMUser"] and "VM.Snapshot" not in sim.state.roles["PVEVMUser"]


@scenario("Which accounts are disabled or expired?", calls=1, policy=READ_ADVANCED)
async def disabled_accounts(a: Assistant, sim: Simulator) -> None:
    users = (await a.ask("pve_access", action="users"))["items"]
    off = {u["userid"] for u in users if u["enable"] is False or u.get("expire") not in (0, None)}
    now = sim.clock.now()
    expected = {u.userid for u in sim.state.users.values() if not u.enable or 0 < u.expire < now}
    assert off == expected == {"dave@pve"}


@scenario("Show me local-lvm's use on pve1 over the past week, point by point.", calls=1, policy=READ_ADVANCED)
async def the_raw_api(a: Assistant, sim: Simulator) -> None:
    path = "/nodes/pve1/storage/local-lvm/rrddata"
    points = (await a.ask("pve_api", path=path, params={"timeframe": "week"}))["items"]
    storage, node = sim.state.storages["local-lvm"], sim.state.nodes["pve1"]
    rows = rrd.storage_rows(sim.state, storage, node, "week", "AVERAGE", sim.clock.now())
    assert [p["time"] for p in points] == [iso(r["time"]) for r in rows]
    assert percent(points[-1], "used") == round(float(rows[-1]["used"]) / float(rows[-1]["total"]) * 100, 1)


@scenario("What exactly would deleting ci-runner-01 (107) do? Do not do it yet.", calls=1, policy=WRITE)
async def preview_a_deletion(a: Assistant, sim: Simulator) -> None:
    preview = await a.ask("pve_preview", tool="pve_guest_lifecycle", arguments={"action": "delete", "vmid": 107})
    assert preview["requests"] == [{"method": "DELETE", "path": "/nodes/pve2/qemu/107", "params": {}}]
    assert preview["verdict"]["allowed"] is True and preview["verdict"]["needs_confirmation"] is True
    assert 107 in sim.state.guests and sim.state.guests[107].name == "ci-runner-01"


@scenario("Back up web-01 now.", calls=1, policy=READ)
async def refused_at_read_only(a: Assistant, sim: Simulator) -> None:
    before = set(sim.state.tasks)
    refusal = await a.refused("pve_backup", action="run", node="pve1", vmid="100", confirm=True)
    assert refusal["code"] == "TOOL_NOT_EXPOSED" and "read-execute access tier" in refusal["message"]
    assert "backups, jobs, job" in refusal["message"]  # what this server offers instead
    assert set(sim.state.tasks) == before


# The book and the run


HELD_OUT = (
    "is my cluster healthy",
    "what is taking the space on nfs-backup",
    "which firewall rules apply to vm 100",
    "how has vm 102 done this week",
    "container 202 is down, why",
    "move vm 104 to pve3",
    "snapshot container 201 called pre-upgrade",
    "create scratch-01 on pve1 with 2 gb",
    "start vm 103",
    "which guests have no backup job",
    "which tasks failed today",
)


def test_the_book() -> None:
    requests = [case.request.lower() for case in scenario.scenarios]
    assert len(requests) >= 32 and len(set(requests)) == len(requests)
    assert not [r for r in requests for held in HELD_OUT if held in r]


@pytest.mark.parametrize("case", scenario.params())
async def test_scenario(case: Scenario, sim: Simulator, pve: ProxmoxClient, connect: McpFactory) -> None:
    if case.setup is not None:
        await case.setup(sim, pve)
    async with connect(case.policy) as client:
        assistant = Assistant(client)
        await case.run(assistant, sim)
    assert len(assistant.calls) == case.calls, assistant.calls
