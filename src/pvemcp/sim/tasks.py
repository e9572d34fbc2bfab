"""Worker tasks: UPIDs, a deterministic duration, and lazy completion on the sim clock.

A mutating call starts a task and returns its UPID at once; the change it makes to the
cluster happens when the task finishes, as with PVE's forked workers. Nothing runs in
the background: every request first completes the tasks that became due, so advancing a
``ManualClock`` is enough for the next request to see the effect.
"""

from __future__ import annotations

import heapq
import itertools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .clock import Clock
from .state import ClusterState, Node, Task

# The shape PVE::Tools::upid_decode accepts (pstart may grow to nine hex digits).
UPID_RE = re.compile(
    r"^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
    r"([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$"
)

TaskAction = Callable[[Task], str | None]


@dataclass(frozen=True, slots=True)
class UpidInfo:
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str


def encode_upid(info: UpidInfo) -> str:
    return f"UPID:{info.node}:{info.pid:08X}:{info.pstart:08X}:{info.starttime:08X}:{info.type}:{info.id}:{info.user}:"


def decode_upid(upid: str) -> UpidInfo | None:
    match = UPID_RE.match(upid)
    if match is None:
        return None
    node, pid, pstart, start, kind, ident, user = match.groups()
    return UpidInfo(node, int(pid, 16), int(pstart, 16), int(start, 16), kind, ident, user)


def split_user(user: str) -> tuple[str, str | None]:
    """PVE lists a token's task as user 'root@pam' plus tokenid 'name'."""
    if "!" in user:
        owner, token = user.split("!", 1)
        return owner, token
    return user, None


def new_task(
    node: Node,
    kind: str,
    ident: str,
    user: str,
    *,
    start: float,
    end_at: float,
    log: list[str],
    action: TaskAction | None = None,
    status: str | None = None,
    endtime: int | None = None,
) -> Task:
    """A task record with a fresh UPID: a new worker pid on ``node``, started at ``start``."""
    info = UpidInfo(
        node=node.name,
        pid=node.new_pid(),
        pstart=max(1, int((start - node.boot_time) * 100)),
        starttime=int(start),
        type=kind,
        id=ident,
        user=user,
    )
    return Task(
        upid=encode_upid(info),
        node=node.name,
        pid=info.pid,
        pstart=info.pstart,
        starttime=info.starttime,
        type=kind,
        id=ident,
        user=user,
        end_at=end_at,
        log=log,
        action=action,
        status=status,
        endtime=endtime,
    )


def task_record(task: Task) -> dict[str, object]:
    """The fields PVE decodes from the UPID, with token tasks split the way PVE splits them."""
    user, token = split_user(task.user)
    record: dict[str, object] = {
        "upid": task.upid,
        "node": task.node,
        "pid": task.pid,
        "pstart": task.pstart,
        "starttime": task.starttime,
        "type": task.type,
        "id": task.id,
        "user": user,
    }
    if token is not None:
        record["tokenid"] = token
    return record


def read_log(task: Task | None, start: int, limit: int) -> tuple[int, list[dict[str, object]]]:
    """Page through a task log the way PVE::Tools::dump_logfile does (limit 0 reads all)."""
    if task is None:
        return 1, [{"n": 1, "t": "unable to open file - No such file or directory"}]
    lines = task.log
    total = len(lines)
    if total == 0:
        return 1, [{"n": 1, "t": "no content"}]
    end = total if limit == 0 else min(total, start + limit)
    return total, [{"n": i + 1, "t": lines[i]} for i in range(start, end)]


class TaskRunner:
    """Starts tasks with deterministic durations and finishes them when they become due."""

    def __init__(self, state: ClusterState, clock: Clock, seconds: tuple[float, float], seed: int) -> None:
        low, high = seconds
        if low < 0 or high < low:
            raise ValueError("task_seconds must be (low, high) with 0 <= low <= high")
        self._state = state
        self._clock = clock
        self._seconds = (float(low), float(high))
        self._rng = random.Random(f"pvemcp-sim-tasks-{seed}")
        self._pending: list[tuple[float, int, Task]] = []
        self._seq = itertools.count()
        self._busy_until: dict[str, float] = {}

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(
        self,
        node: Node,
        kind: str,
        ident: str,
        user: str,
        *,
        action: TaskAction | None = None,
        lines: Sequence[str] = (),
        lock: str | None = None,
    ) -> Task:
        """Fork a worker. Tasks sharing a ``lock`` finish one after another, like PVE's config lock."""
        now = self._clock.now()
        low, high = self._seconds
        duration = low if high == low else self._rng.uniform(low, high)
        begin = max(now, self._busy_until.get(lock, now)) if lock else now
        end_at = begin + duration
        if lock:
            self._busy_until[lock] = end_at
        task = new_task(node, kind, ident, user, start=now, end_at=end_at, log=list(lines), action=action)
        self._state.add_task(task)
        heapq.heappush(self._pending, (end_at, next(self._seq), task))
        return task

    def settle(self) -> int:
        """Finish every task whose time has come, in the order they finish; return how many."""
        now = self._clock.now()
        done = 0
        while self._pending and self._pending[0][0] <= now:
            _, _, task = heapq.heappop(self._pending)
            if task.running:  # a stopped task has already ended
                self._finish(task)
                done += 1
        return done

    def _finish(self, task: Task) -> None:
        error = task.action(task) if task.action is not None else None
        task.action = None
        task.endtime = int(task.end_at)
        if error is None:
            task.status = "OK"
            task.log.append("TASK OK")
        else:
            task.status = error
            task.log.append(f"TASK ERROR: {error}")
