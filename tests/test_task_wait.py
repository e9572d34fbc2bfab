"""Waiting for tasks through the SDK client: progress notifications, failures, the budget, cancellation.

The simulator's tasks take 12 simulated seconds here, and the server waits on the simulator's clock,
so every wait is instant in real time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from pvemcp.audit import AuditLog
from pvemcp.pve.client import ProxmoxClient
from pvemcp.pve.tasks import percent_of
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory
from pvesim import Simulator
from pvesim.simulator import SimWaitClock
from tests.conftest import FULL, McpFactory, payload
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio

TASK_SECONDS = 12.0
Note = tuple[float, float | None, str]


@pytest.fixture
def sim() -> Simulator:
    return Simulator(task_seconds=(TASK_SECONDS, TASK_SECONDS))


class Notes:
    """The progress notifications one call received, in order."""

    def __init__(self) -> None:
        self.items: list[Note] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.items.append((progress, total, message or ""))

    @property
    def messages(self) -> list[str]:
        return [message for _, _, message in self.items]


async def test_progress_arrives_in_order_with_percentages_and_ends_with_the_outcome(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "stopped")
    source, target = guest.node, next(n for n in sim.state.nodes if n != guest.node)
    notes = Notes()
    async with connect() as client:
        result = await client.call_tool(
            "pve_qemu_migrate", {"vmid": guest.vmid, "target": target, "confirm": True}, progress_callback=notes
        )
    assert not result.is_error, result.structured_content
    task = payload(result)["task"]
    assert (task["type"], task["node"], task["status"], task["exitstatus"]) == ("qmigrate", source, "stopped", "OK")
    assert TASK_SECONDS <= task["duration_s"] <= TASK_SECONDS + 2
    assert guest.node == target

    progress = [value for value, _, _ in notes.items]
    assert len(progress) > 5 and progress == sorted(set(progress))  # strictly increasing
    assert all(total is None for _, total, _ in notes.items)
    label = f"qmigrate {guest.vmid} on {source}"
    running, last = notes.messages[:-1], notes.messages[-1]
    assert all(m.startswith(f"{label}: running, ") for m in running)
    percents = [float(m.rsplit(", ", 1)[1].rstrip("%")) for m in running if m.endswith("%")]
    assert percents and percents == sorted(percents) and percents[-1] < 100
    assert last.startswith(f"{label}: OK, ")


async def test_a_failed_task_is_task_failed_with_its_exit_status_and_log_tail(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "lxc", "running")
    notes = Notes()
    args = {"node": guest.node, "vmid": str(guest.vmid), "storage": "local-lvm", "confirm": True}
    async with connect() as client:
        result = await client.call_tool("pve_run_backup", args, progress_callback=notes)
    assert result.is_error
    body = payload(result)
    reason = "can't use storage 'local-lvm' for backups - wrong content type"
    assert body["code"] == "TASK_FAILED" and reason in body["message"]
    details = body["details"]
    assert details["upid"] == details["task"]["upid"] and details["task"]["status"] == "stopped"
    assert reason in details["task"]["exitstatus"]
    tail = details["log_tail"]
    assert tail[-1].startswith("TASK ERROR: ") and reason in tail[-1]
    assert any(line.startswith("INFO: ") and "%" in line for line in tail)  # vzdump's progress lines
    assert "failed: " in notes.messages[-1] and reason in notes.messages[-1]


async def test_a_long_failing_log_returns_only_its_last_twenty_lines(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    target = next(n for n in sim.state.nodes if n != guest.node)
    args = {"vmid": guest.vmid, "target": target, "online": True, "with-local-disks": True, "confirm": True}
    upid = (await call(connect, "pve_qemu_migrate", {**args, "wait_seconds": 0}))["task"]["upid"]
    sim.state.nodes[target].online = False  # the target goes down while the disks are copied
    sim.state.tasks[upid].log[:0] = [f"line {n}" for n in range(600)]  # more than one page of the log
    body = await failed(connect, "pve_wait_task", {"upid": upid})
    tail = body["details"]["log_tail"]
    assert len(tail) == 20 and tail[-1] == f"TASK ERROR: migration aborted: node '{target}' is not online"
    assert "transferred" in tail[-2]


async def test_when_the_budget_runs_out_the_result_says_the_task_still_runs_and_what_to_call(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "stopped")
    target = next(n for n in sim.state.nodes if n != guest.node)
    notes = Notes()
    args = {"vmid": guest.vmid, "target": target, "confirm": True, "wait_seconds": 5}
    async with connect() as client:
        result = await client.call_tool("pve_qemu_migrate", args, progress_callback=notes)
        body = payload(result)
        task = body["task"]
        assert task["status"] == "running" and "exitstatus" not in task
        assert 5 <= task["duration_s"] < 6 and 0 < task["percent"] < 100
        assert "pve_wait_task" in body["next"] and sim.state.tasks[task["upid"]].running
        assert "still running after 5 s" in notes.messages[-1]

        rest = await client.call_tool("pve_wait_task", {"upid": task["upid"], "timeout": 60})
    done = payload(rest)["task"]
    assert (done["status"], done["exitstatus"]) == ("stopped", "OK")
    assert TASK_SECONDS <= done["duration_s"] <= TASK_SECONDS + 3
    assert guest.node == target


async def test_wait_seconds_zero_reads_the_status_once(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    body = await call(connect, "pve_start_qemu_vm", {"vmid": guest.vmid, "wait_seconds": 0})
    assert body["task"]["status"] == "running" and body["task"]["duration_s"] == 0
    reads = [r for r in sim.requests if r.path.startswith(f"/nodes/{guest.node}/tasks/")]
    assert [r.method for r in reads] == ["GET"] and reads[0].path.endswith("/status")
    assert guest.status == "stopped"


class HeldClock:
    """The simulator's wait clock, except that the second sleep lasts until the call is cancelled."""

    def __init__(self, inner: SimWaitClock) -> None:
        self.inner = inner
        self.sleeps = 0

    def now(self) -> float:
        return self.inner.now()

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await self.inner.sleep(seconds)
        if self.sleeps >= 2:
            await anyio.Event().wait()


class WatchedAudit(AuditLog):
    """The real audit log, plus an event a test can wait on."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.written = anyio.Event()
        self.entries: list[dict[str, Any]] = []

    async def append(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        try:
            await super().append(entry)
        finally:
            self.written.set()


@asynccontextmanager
async def audited_client(runtime: Runtime, era: str) -> AsyncIterator[Client]:
    try:
        async with Client(build_server(runtime), mode=era) as client:
            yield client
    finally:
        assert isinstance(runtime.audit, AuditLog)
        runtime.audit.close()


async def test_a_cancelled_wait_stops_while_the_task_goes_on_and_the_audit_says_so(
    sim: Simulator, pve: ProxmoxClient, era: str, tmp_path: Path
) -> None:
    clock = HeldClock(sim.wait_clock())
    audit = WatchedAudit(tmp_path / "audit.jsonl")
    runtime = Runtime(pve, Inventory(FULL), clock=clock, audit=audit)
    guest = pick(sim, "lxc", "running")
    args = {"node": guest.node, "vmid": str(guest.vmid), "storage": "nfs-backup", "confirm": True, "wait_seconds": 600}
    began = sim.clock.now()
    async with audited_client(runtime, era) as client:
        with anyio.CancelScope() as scope:

            async def cancel_on_first_note(progress: float, total: float | None, message: str | None) -> None:
                scope.cancel()

            await client.call_tool("pve_run_backup", args, progress_callback=cancel_on_first_note)
        assert scope.cancelled_caught
        with anyio.fail_after(5):
            await audit.written.wait()

    entry = audit.entries[-1]
    upid = entry["upid"]
    assert entry["tool"] == "pve_run_backup" and entry["outcome"] == "cancelled"
    assert "the Proxmox task goes on" in entry["note"]
    assert sim.state.tasks[upid].running and guest.lock == "backup"
    status_reads = [r for r in sim.requests if r.path.endswith("/status") and "/tasks/" in r.path]
    assert clock.sleeps <= 2 and len(status_reads) <= 2  # the wait stopped by its second poll
    assert sim.clock.now() - began < 1
    written = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert (written["outcome"], written["upid"]) == ("cancelled", upid)


@pytest.mark.parametrize(
    ("line", "percent"),
    [
        ("INFO:  25% (8.0 GiB of 32.0 GiB) in 5s, read: 1.6 GiB/s, write: 1.5 GiB/s", 25.0),
        ("INFO: 100% (32.0 GiB of 32.0 GiB) in 20s, read: 1.6 GiB/s, write: 0 B/s", 100.0),
        ("drive-scsi0: transferred 8.0 GiB of 32.0 GiB (25.00%) in 5s", 25.0),
        ("transferred 1.2 GiB of 10.0 GiB (12.34%)", 12.34),
        ("progress 42% (read 4509715660 bytes, duration 3 sec)", 42.0),
        ("INFO: starting new backup job: vzdump 100 --storage nfs-backup", None),
        ("migration active, transferred 1.2 GiB of 4.0 GiB VM-state, 110.5 MiB/s", None),
    ],
)
def test_percentages_are_read_from_each_worker_s_own_log_wording(line: str, percent: float | None) -> None:
    assert percent_of([line]) == percent
