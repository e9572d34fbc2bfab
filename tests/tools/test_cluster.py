"""Cluster-wide tools through the SDK client: log, options, replication, HA status, backup coverage."""

from __future__ import annotations

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, pick

pytestmark = pytest.mark.anyio


async def test_the_cluster_log_lists_the_newest_task_entries_first(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    upid = (await call(connect, "pve_start_qemu_vm", {"vmid": guest.vmid}))["task"]["upid"]
    items = (await call(connect, "pve_get_cluster_log", {"max": 5}))["items"]
    assert len(items) == 5
    assert items[0]["msg"] == f"end task {upid} OK" and items[1]["msg"] == f"starting task {upid}"
    assert [i["time"] for i in items] == sorted((i["time"] for i in items), reverse=True)
    assert {"uid", "node", "pid", "pri", "tag", "user"} <= set(items[0])
    assert len((await call(connect, "pve_get_cluster_log"))["items"]) == 50


async def test_the_cluster_options_are_the_datacenter_settings(connect: McpFactory, sim: Simulator) -> None:
    body = await call(connect, "pve_get_cluster_options")
    assert body == sim.state.admin.options
    assert body["keyboard"] == "en-us" and body["migration"] == {"type": "secure"}


async def test_replication_jobs_are_listed_with_guest_and_target(connect: McpFactory, sim: Simulator) -> None:
    items = (await call(connect, "pve_list_cluster_replication"))["items"]
    job = next(iter(sim.state.admin.replication.values()))
    assert items == [job.record()]
    assert items[0]["id"] == f"{job.guest}-0" and items[0]["target"] != items[0]["source"]


async def test_ha_status_shows_quorum_and_each_managed_guest(connect: McpFactory, sim: Simulator) -> None:
    for managed in sim.state.guests.values():  # the cluster comes with one HA guest; start without
        managed.hastate = None
    items = (await call(connect, "pve_get_cluster_ha_status"))["items"]
    assert [(i["type"], i["quorate"], i["status"]) for i in items] == [("quorum", 1, "OK")]
    guest = pick(sim, "lxc", "running")
    guest.hastate = "started"
    items = (await call(connect, "pve_get_cluster_ha_status"))["items"]
    assert {i["type"] for i in items} == {"quorum", "master", "lrm", "service"}
    service = next(i for i in items if i["type"] == "service")
    assert (service["sid"], service["node"], service["state"]) == (f"ct:{guest.vmid}", guest.node, "started")
    lrm = next(i for i in items if i["id"] == f"lrm:{guest.node}")
    assert "(active," in lrm["status"]


async def test_backup_info_lists_exactly_the_guests_no_backup_job_covers(connect: McpFactory, sim: Simulator) -> None:
    jobs = list(sim.state.backup.jobs.values())
    covered = {int(v) for job in jobs for v in str(job.get("vmid", "")).split(",") if v}
    expected = {g.vmid for g in sim.state.guests.values()} - covered
    items = (await call(connect, "pve_list_cluster_backup_info"))["items"]
    assert {i["vmid"] for i in items} == expected and expected
    uncovered = sim.state.guests[min(expected)]
    assert next(i for i in items if i["vmid"] == uncovered.vmid) == {
        "vmid": uncovered.vmid,
        "name": uncovered.name,
        "type": uncovered.type,
    }
    jobs[0]["all"] = 1
    assert (await call(connect, "pve_list_cluster_backup_info"))["items"] == []


async def test_preview_describes_a_start_and_starts_nothing(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    body = await call(connect, "pve_preview", {"tool": "pve_start_qemu_vm", "arguments": {"vmid": guest.vmid}})
    assert body["requests"] == [
        {"method": "POST", "path": f"/nodes/{guest.node}/qemu/{guest.vmid}/status/start", "params": {}}
    ]
    assert body["verdict"]["allowed"] and not body["verdict"]["needs_confirmation"]
    assert guest.status == "stopped" and {r.method for r in sim.requests} == {"GET"}


async def test_the_cluster_view_draws_what_the_simulator_holds(connect: McpFactory, sim: Simulator) -> None:
    """The app's data: the health check's findings, and a guest started in the simulator shows running with a
    CPU sparkline while one that never ran has none."""
    started = pick(sim, "qemu", "stopped")
    await call(connect, "pve_start_qemu_vm", {"vmid": started.vmid})
    sim.clock.advance(600)  # ten minutes of history for the sparkline
    view = await call(connect, "pve_cluster_view")
    findings = (await call(connect, "pve_cluster_health"))["findings"]
    assert view["findings"] == findings
    guests = {g["vmid"]: g for g in view["guests"]}
    assert guests[started.vmid]["status"] == "running"
    assert any(v is not None for v in guests[started.vmid]["spark"])
    assert all(v is None for v in guests[started.vmid]["spark"][:10]), "no history before it started"
    for vmid, guest in sim.state.guests.items():
        assert guests[vmid]["status"] == guest.status
        if guest.status != "running":
            assert guests[vmid]["spark"] == []
