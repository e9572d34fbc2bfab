"""Waiting for a Proxmox task within the caller's budget, with MCP progress notifications.

A tool that starts a task waits for it (`wait_seconds`, default 30, 0: not at all) so the model
gets the outcome in one call; pve_wait_task waits for any task the same way. The status is polled
with a growing interval on the runtime's clock (simulated time in tests).

Progress notifications: `progress` is the seconds waited so far (one decimal, strictly increasing,
as MCP requires), `total` is None (no one knows how long a task takes), and the message reads
"qmigrate 104 on pve1: running, 12 s, 45%" (the percentage where the task log shows one). The last
notification states how the wait ended: "qmigrate 104 on pve1: OK, 14 s".

If the client cancels, the wait stops where it is; the task itself goes on (dispatch audits that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pvemcp.catalog.spec import WAIT_DEFAULT
from pvemcp.pve.errors import ErrorCode, PveMcpError
from pvemcp.pve.tasks import PERCENT_KINDS, LogReader, percent_of, read_status, succeeded
from pvemcp.pve.upid import parse_upid
from pvemcp.pve.upstream import Upstream
from pvemcp.server.context import CallContext, WaitClock

FIRST_POLL, POLL_GROWTH, MAX_POLL = 0.2, 1.5, 2.0


@dataclass(slots=True)
class Waited:
    """Where a wait ended: the task's state as the result reports it."""

    upid: str
    node: str
    type: str
    label: str  # "qmigrate 104 on pve1"
    status: str = "unknown"
    exitstatus: str | None = None
    duration_s: float | None = None
    percent: float | None = None
    status_error: str | None = None
    budget: float = 0
    log: LogReader | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def failed(self) -> bool:
        return self.status == "stopped" and not succeeded(self.exitstatus)

    def task(self) -> dict[str, Any]:
        task: dict[str, Any] = {"upid": self.upid, "node": self.node, "type": self.type, "status": self.status}
        if self.exitstatus is not None:
            task["exitstatus"] = self.exitstatus
        if self.duration_s is not None:
            task["duration_s"] = self.duration_s
        if self.running and self.percent is not None:
            task["percent"] = self.percent
        return task

    def summary(self) -> str:
        took = "" if self.duration_s is None else f", {self.duration_s:.0f} s"
        if self.running:
            share = "" if self.percent is None else f", {self.percent:g}%"
            return f"{self.label}: running{took}{share}"
        if self.status == "stopped":
            return f"{self.label}: {'failed: ' if self.failed else ''}{self.exitstatus}{took}"
        return f"{self.label}: status unknown ({self.status_error})"


class Progress:
    """Sends the wait's notifications with a strictly increasing `progress`."""

    def __init__(self, ctx: CallContext) -> None:
        self._ctx = ctx
        self._last = -1.0

    async def send(self, elapsed: float, message: str) -> None:
        value = round(elapsed, 1)
        if value <= self._last:
            value = round(self._last + 0.1, 1)
        self._last = value
        await self._ctx.report(value, None, message)


async def wait_for(
    client: Upstream,
    clock: WaitClock,
    upid: str,
    budget: float,
    ctx: CallContext,
    *,
    first: Mapping[str, Any] | None = None,
    age: float | None = 0.0,
) -> Waited:
    """Poll the task until it stops or `budget` seconds passed; `first` is a status already read.

    `age` is how long the task had run when the wait began (None: unknown); the reported duration
    adds the time waited. A status read that fails ends the wait with status "unknown".
    """
    parsed = parse_upid(upid)
    node, kind, ident = (parsed.node, parsed.type, parsed.id) if parsed else ("", "task", "")
    label = f"{kind} {ident} on {node}" if ident else f"{kind} on {node}"
    waited = Waited(upid, node, kind, label, budget=budget)
    if parsed is None:
        waited.status_error = "the UPID cannot be read"
        return waited
    if kind in PERCENT_KINDS:
        waited.log = LogReader(client, node, upid)
    progress = Progress(ctx)
    began = clock.now()
    interval = FIRST_POLL
    status = first
    while True:
        if status is None:
            try:
                status = await read_status(client, node, upid)
            except PveMcpError as exc:  # the action was sent; a failed read must not look like a failed action
                waited.status, waited.status_error = "unknown", exc.message
                break
        elapsed = clock.now() - began
        waited.status = str(status.get("status") or "unknown")
        waited.exitstatus = None if status.get("exitstatus") is None else str(status["exitstatus"])
        waited.duration_s = None if age is None else round(age + elapsed, 1)
        if not waited.running:
            break
        if budget > 0:
            await _read_percent(waited)
        remaining = budget - elapsed
        if remaining <= 0:
            break
        await progress.send(elapsed, waited.summary())
        await clock.sleep(min(interval, remaining))
        interval = min(interval * POLL_GROWTH, MAX_POLL)
        status = None
    final = waited.summary() + (f" (still running after {budget:g} s of waiting)" if waited.running else "")
    await progress.send(clock.now() - began, final)
    return waited


async def _read_percent(waited: Waited) -> None:
    if waited.log is None:
        return
    try:
        found = percent_of(await waited.log.more(pages=4))
    except PveMcpError:
        return  # the percentage is a courtesy; the wait goes on without it
    if found is not None:
        waited.percent = found


async def conclude(client: Upstream, waited: Waited, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The result: `extra` (a composite's other keys) plus `task`; a failed task raises TASK_FAILED."""
    if waited.failed:
        log = waited.log or LogReader(client, waited.node, waited.upid)
        try:
            tail = await log.last_lines()
        except PveMcpError:
            tail = []
        raise PveMcpError(
            ErrorCode.TASK_FAILED,
            f"Task {waited.label} failed: {waited.exitstatus}",
            "The log tail shows why; fix the cause before retrying. pve_get_task_log has the whole log.",
            details={**extra, "upid": waited.upid, "task": waited.task(), "log_tail": tail},
        )
    result = {**extra, "task": waited.task()}
    if waited.running:
        result["next"] = (
            f"The task is still running after {waited.budget:g} s; call pve_wait_task with its upid to keep waiting."
        )
    elif waited.status != "stopped":
        result["status_error"] = waited.status_error
        result["next"] = "The task's status could not be read; check it with pve_wait_task and its upid."
    return result


async def follow(
    client: Upstream, clock: WaitClock, started: Mapping[str, Any], args: Mapping[str, Any], ctx: CallContext
) -> dict[str, Any]:
    """The handler's result with `task` filled in once the task ended or the budget ran out."""
    upid = str(started["upid"])
    budget = args.get("wait_seconds")
    waited = await wait_for(client, clock, upid, WAIT_DEFAULT if budget is None else float(budget), ctx)
    return await conclude(client, waited, {key: value for key, value in started.items() if key != "upid"})
