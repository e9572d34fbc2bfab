"""Task tools through the SDK client: filters, the cluster-wide list, and stopping a running task."""

from __future__ import annotations

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio


async def test_node_tasks_filter_by_start_time(connect: McpFactory, sim: Simulator) -> None:
    tasks = sim.state.node_tasks["pve1"]
    middle = sorted(t.starttime for t in tasks)[len(tasks) // 2]
    since = (await call(connect, "pve_list_tasks", {"node": "pve1", "since": middle, "limit": 500}))["items"]
    until = (await call(connect, "pve_list_tasks", {"node": "pve1", "until": middle - 1, "limit": 500}))["items"]
    assert since and until and all(t["starttime"] >= middle for t in since)
    assert all(t["starttime"] < middle for t in until)
    assert len(since) + len(until) == len(tasks)


async def test_cluster_tasks_come_from_every_node_newest_first(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    upid = (await call(connect, "pve_start_qemu_vm", {"vmid": guest.vmid, "wait_seconds": 0}))["task"]["upid"]
    items = (await call(connect, "pve_list_cluster_tasks"))["items"]
    assert {t["node"] for t in items} == set(sim.state.nodes)
    starts = [t["starttime"] for t in items]
    assert starts == sorted(starts, reverse=True)
    running = next(t for t in items if t["upid"] == upid)
    assert "status" not in running
    assert all(t["status"] for t in items if t["upid"] != upid)


async def test_stopping_a_running_backup_interrupts_it_and_writes_no_archive(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "lxc", "running")
    archives = set(sim.state.backup.archives)
    args = {"node": guest.node, "vmid": str(guest.vmid), "storage": "nfs-backup", "confirm": True, "wait_seconds": 0}
    upid = (await call(connect, "pve_run_backup", args))["task"]["upid"]
    assert guest.lock == "backup"
    assert await call(connect, "pve_stop_task", {"upid": upid, "confirm": True}) == {"value": None}
    sim.clock.advance(30)
    status = await call(connect, "pve_get_task_status", {"upid": upid})
    assert status["status"] == "stopped" and status["exitstatus"] == "interrupted by signal"
    log = (await call(connect, "pve_get_task_log", {"upid": upid}))["items"]
    assert log[-1]["t"] == "TASK ERROR: interrupted by signal"
    assert set(sim.state.backup.archives) == archives and guest.lock is None


async def test_stopping_a_finished_task_leaves_it_as_it_ended(connect: McpFactory, sim: Simulator) -> None:
    finished = next(t for t in sim.state.node_tasks["pve2"] if t.status == "OK")
    await call(connect, "pve_stop_task", {"upid": finished.upid, "node": "pve2", "confirm": True})
    assert finished.status == "OK"
    unknown = finished.upid.replace(":pve2:", ":pve3:")
    body = await failed(connect, "pve_stop_task", {"upid": unknown, "confirm": True})
    assert "no such task" in body["message"]


async def test_waiting_for_a_finished_task_answers_at_once_with_its_outcome(
    connect: McpFactory, sim: Simulator
) -> None:
    finished = next(t for t in sim.state.node_tasks["pve2"] if t.status == "OK")
    now = sim.clock.now()
    task = (await call(connect, "pve_wait_task", {"upid": finished.upid}))["task"]
    assert (task["node"], task["type"], task["status"], task["exitstatus"]) == ("pve2", finished.type, "stopped", "OK")
    assert task["duration_s"] == (finished.endtime or 0) - finished.starttime
    assert sim.clock.now() == now  # nothing to wait for


async def test_waiting_for_a_running_task_follows_it_to_the_end(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    upid = (await call(connect, "pve_start_qemu_vm", {"vmid": guest.vmid, "wait_seconds": 0}))["task"]["upid"]
    task = (await call(connect, "pve_wait_task", {"upid": upid, "timeout": 600}))["task"]
    assert (task["status"], task["exitstatus"]) == ("stopped", "OK") and guest.status == "running"
    again = await call(connect, "pve_wait_task", {"upid": upid, "timeout": 0})
    assert again["task"]["exitstatus"] == "OK" and "next" not in again


async def test_waiting_for_an_unknown_task_is_proxmox_error(connect: McpFactory, sim: Simulator) -> None:
    finished = next(t for t in sim.state.node_tasks["pve2"] if t.status == "OK")
    body = await failed(connect, "pve_wait_task", {"upid": finished.upid.replace(":pve2:", ":pve3:")})
    assert body["code"] == "TASK_NOT_FOUND" and "no such task" in body["message"]
    body = await failed(connect, "pve_wait_task", {"upid": "UPID:nonsense"})
    assert body["code"] == "TOOL_INPUT_REJECTED"
