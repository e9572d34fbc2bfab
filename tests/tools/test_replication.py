"""Replication tools through the SDK client: jobs are created, changed and removed, the scheduler
runs them on the sim clock, run-now syncs within a minute, and state and log tell what happened."""

from __future__ import annotations

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio

JOB = "100-0"  # the seeded job: VM 100 on pve1 to pve2, every 15 minutes


async def test_a_job_reads_with_its_state_and_last_log(connect: McpFactory, sim: Simulator) -> None:
    job = await call(connect, "pve_get_replication_job", {"id": JOB})
    assert (job["guest"], job["source"], job["target"], job["schedule"]) == (100, "pve1", "pve2", "*/15")
    (listed,) = (await call(connect, "pve_list_node_replication", {"node": "pve1"}))["items"]
    assert listed["id"] == JOB and listed["vmtype"] == "qemu" and listed["fail_count"] == 0
    assert listed["next_sync"] == listed["last_sync"] + 900
    assert (await call(connect, "pve_list_node_replication", {"node": "pve1", "guest": 103}))["items"] == []
    assert (await call(connect, "pve_list_node_replication", {"node": "pve2"}))["items"] == []
    status = await call(connect, "pve_get_replication_status", {"node": "pve1", "id": JOB})
    assert status["last_sync"] == int(sim.clock.now())
    log = (await call(connect, "pve_get_replication_log", {"node": "pve1", "id": JOB}))["items"]
    assert log[0]["t"].endswith(f"{JOB}: start replication job") and log[-1]["t"].endswith("end replication job")
    assert any("incremental sync 'local-lvm:vm-100-disk-0'" in line["t"] for line in log)
    page = await call(connect, "pve_get_replication_log", {"node": "pve1", "id": JOB, "start": 1, "limit": 2})
    assert [line["n"] for line in page["items"]] == [2, 3]
    unknown = await failed(connect, "pve_get_replication_status", {"node": "pve2", "id": JOB})
    assert unknown["message"] == f"no such replication job '{JOB}'"


async def test_the_scheduler_syncs_on_schedule_and_run_now_within_a_minute(connect: McpFactory, sim: Simulator) -> None:
    start = int(sim.clock.now())
    sim.clock.advance(900)
    status = await call(connect, "pve_get_replication_status", {"node": "pve1", "id": JOB})
    assert status["last_sync"] == start + 900 and status["next_sync"] == start + 1800
    sim.clock.advance(30)
    assert await call(connect, "pve_run_replication_now", {"node": "pve1", "id": JOB}) == {"value": None}
    pending = await call(connect, "pve_get_replication_status", {"node": "pve1", "id": JOB})
    assert pending["last_sync"] == start + 900 and pending["next_sync"] < start
    sim.clock.advance(30)
    ran = await call(connect, "pve_get_replication_status", {"node": "pve1", "id": JOB})
    assert ran["last_sync"] == start + 960 and ran["next_sync"] == start + 1800


async def test_a_job_is_created_changed_and_deleted(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "running")
    target = next(n for n in sim.state.nodes if n != guest.node)
    job_id = f"{guest.vmid}-0"
    args = {"id": job_id, "target": target, "schedule": "*/5", "rate": 50, "comment": "standby"}
    await call(connect, "pve_create_replication_job", args)
    job = sim.state.admin.replication[job_id]
    assert (job.source, job.target, job.schedule, job.rate) == (guest.node, target, "*/5", 50.0)
    again = await failed(connect, "pve_create_replication_job", args)
    assert again["message"] == f"replication job '{job_id}' already exists"
    sim.clock.advance(60)  # a new job syncs at the scheduler's next minute
    status = await call(connect, "pve_get_replication_status", {"node": guest.node, "id": job_id})
    assert status["last_sync"] > 0 and status["vmtype"] == "lxc"
    log = (await call(connect, "pve_get_replication_log", {"node": guest.node, "id": job_id}))["items"]
    assert any("full sync" in line["t"] for line in log) and any("rate limit: 50 MByte/s" in line["t"] for line in log)
    change = {"id": job_id, "disable": True, "delete": "rate", "schedule": "22:30"}
    await call(connect, "pve_update_replication_job", change)
    assert job.disable and job.rate is None and job.schedule == "22:30"
    listed = await call(connect, "pve_list_cluster_replication")
    assert next(i for i in listed["items"] if i["id"] == job_id)["disable"] == 1
    await call(connect, "pve_delete_replication_job", {"id": job_id, "confirm": True})
    assert job.remove_job == "full" and job_id in sim.state.admin.replication  # marked, not yet gone
    sim.clock.advance(60)
    listed = await call(connect, "pve_list_cluster_replication")
    assert job_id not in {i["id"] for i in listed["items"]} and job_id not in sim.state.admin.replication


async def test_proxmox_refuses_bad_jobs_in_its_own_words(connect: McpFactory, sim: Simulator) -> None:
    same = await failed(connect, "pve_create_replication_job", {"id": "100-1", "target": "pve1"})
    assert same["message"] == "Source and target must not be identical"
    ghost = await failed(connect, "pve_create_replication_job", {"id": "999-0", "target": "pve2"})
    assert ghost["message"] == "Guest '999' does not exist."
    node = await failed(connect, "pve_create_replication_job", {"id": "100-1", "target": "pve9"})
    assert node["message"] == "Target 'pve9' does not exist."
    missing = await failed(connect, "pve_get_replication_job", {"id": "100-7"})
    assert missing["message"] == "no such replication job '100-7'"
    gone = await failed(connect, "pve_update_replication_job", {"id": "100-7", "comment": "x"})
    assert gone["message"] == "no such job '100-7'"
    await call(connect, "pve_delete_replication_job", {"id": JOB, "force": True, "confirm": True})
    assert JOB not in sim.state.admin.replication  # force: at once, no cleanup


async def test_a_job_follows_its_guest_after_a_migration(connect: McpFactory, sim: Simulator) -> None:
    sim.state.guests[100].node = "pve2"  # moved to the replication target, as an HA failover does
    (listed,) = (await call(connect, "pve_list_node_replication", {"node": "pve2"}))["items"]
    assert (listed["source"], listed["target"]) == ("pve2", "pve1")
