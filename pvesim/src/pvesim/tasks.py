"""Worker tasks: UPIDs, a deterministic duration, and lazy completion on the sim clock.

A mutating call starts a task and returns its UPID at once; the change it makes to the
cluster happens when the task finishes, as with PVE's forked workers. Nothing runs in
the background: every request first completes the tasks that became due, so advancing a
``ManualClock`` is enough for the next request to see the effect.

Workers that copy data (backup, migrate, clone, move disk, restore) log their progress in
PVE's words while they run; each line appears in the log once its time has come.
"""

from __future__ import annotations

import heapq
import itertools
import random
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

from .clock import Clock
from .state.cluster import ClusterState
from .state.metrics import GIB, max_disk
from .state.records import Node, Task

# The shape PVE::Tools::upid_decode accepts (pstart may grow to nine hex digits).
UPID_RE = re.compile(
    r"^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
    r"([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$"
)

TaskAction = Callable[[Task], str | None]
ProgressLine = Callable[[int, int, float], str]  # bytes done, bytes in all, seconds since the start
DEFAULT_COPY_BYTES = 16 * GIB


def size_text(size: float) -> str:
    return f"{size / GIB:.1f} GiB"


def vzdump_line(done: int, size: int, seconds: float) -> str:
    rate = f"{done / max(seconds, 1) / 1024**2:.1f} MiB/s"
    amount = f"({size_text(done)} of {size_text(size)})"
    return f"INFO: {done * 100 // size:3d}% {amount} in {seconds:.0f}s, read: {rate}, write: {rate}"


def copy_line(done: int, size: int, seconds: float) -> str:
    return f"transferred {size_text(done)} of {size_text(size)} ({done * 100 / size:.2f}%)"


def mirror_line(done: int, size: int, seconds: float) -> str:
    return f"drive-scsi0: {copy_line(done, size, seconds)} in {seconds:.0f}s"


def restore_line(done: int, size: int, seconds: float) -> str:
    return f"progress {done * 100 // size}% (read {done} bytes, duration {seconds:.0f} sec)"


PROGRESS: dict[str, ProgressLine] = {
    "vzdump": vzdump_line,
    "qmigrate": mirror_line,
    "qmmove": mirror_line,
    "vzmigrate": copy_line,
    "qmclone": copy_line,
    "vzclone": copy_line,
    "move_volume": copy_line,
    "qmrestore": restore_line,
    "vzrestore": restore_line,
}


class TaskWatch(Protocol):
    """Told when due tasks are about to finish, and wraps each one (effects.py records their changes)."""

    def settling(self) -> AbstractContextManager[object]: ...

    def finishing(self, task: Task) -> AbstractContextManager[object]: ...


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
        # (due, seq, task, line): a progress line to reveal, or None to finish the task
        self._pending: list[tuple[float, int, Task, str | None]] = []
        self._seq = itertools.count()
        self._busy_until: dict[str, float] = {}
        self.watch: TaskWatch | None = None  # None: nothing records what tasks change

    @property
    def pending(self) -> int:
        return sum(1 for entry in self._pending if entry[3] is None)

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
        line = PROGRESS.get(kind)
        if line is not None:
            self._schedule_progress(task, line, begin, end_at)
        heapq.heappush(self._pending, (end_at, next(self._seq), task, None))
        return task

    def _schedule_progress(self, task: Task, line: ProgressLine, begin: float, end_at: float) -> None:
        """One line per step (4 to 20 steps, about one a second), the last at 100% as the task ends."""
        guest = self._state.guests.get(int(task.id)) if task.id.isdigit() else None
        size = max_disk(guest) if guest is not None else DEFAULT_COPY_BYTES
        size = size or DEFAULT_COPY_BYTES
        duration = end_at - begin
        steps = min(20, max(4, int(duration)))
        for step in range(1, steps + 1):
            at = end_at if step == steps else begin + duration * step / steps
            text = line(size * step // steps, size, at - task.starttime)
            heapq.heappush(self._pending, (at, next(self._seq), task, text))

    def settle(self) -> int:
        """Finish every task whose time has come, in the order they finish; return how many."""
        now = self._clock.now()
        if not self._pending or self._pending[0][0] > now:
            return 0
        with nullcontext() if self.watch is None else self.watch.settling():
            return self._settle(now)

    def _settle(self, now: float) -> int:
        done = 0
        while self._pending and self._pending[0][0] <= now:
            _, _, task, line = heapq.heappop(self._pending)
            if not task.running:  # a stopped task has already ended
                continue
            if line is not None:
                task.log.append(line)
            else:
                self._finish(task)
                done += 1
        return done

    def _finish(self, task: Task) -> None:
        if self.watch is None:
            self._complete(task)
            return
        with self.watch.finishing(task):
            self._complete(task)

    def _complete(self, task: Task) -> None:
        error = task.action(task) if task.action is not None else None
        task.action = None
        task.endtime = int(task.end_at)
        if error is None:
            task.status = "OK"
            task.log.append("TASK OK")
        else:
            task.status = error
            task.log.append(f"TASK ERROR: {error}")
