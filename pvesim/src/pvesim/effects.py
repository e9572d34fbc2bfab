"""The simulator's own record of what each request addressed and changed (see simulator.py).

Changes are found by diffing fingerprints of the cluster (footprint.py), taken at checkpoints:
when a request starts and ends, and around every task that finishes. Whatever changed between
two checkpoints goes to whoever was acting in between: the request being handled, the request
whose task is finishing, or nobody (``background``: a test editing the state by hand, the
replication scheduler catching up). A task is credited to the request that started it. Work done
outside any scope (a hand edit, a scheduler tick) is found by the next checkpoint, which reading
``sim.background_changes`` also takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

from .addressing import VMID_TEXT
from .footprint import Fingerprint, Memo, differences, take
from .recorded import RecordedRequest, Target

if TYPE_CHECKING:
    from .state.cluster import ClusterState
    from .state.records import Task


def task_targets(task: Task) -> Iterator[Target]:
    """A task changes the node it runs on, and the guest its ID names (qmstart:100, vzdump:100)."""
    yield ("node", task.node)
    if VMID_TEXT.match(task.id):
        yield ("guest", int(task.id))


class EffectRecorder:
    """Credits every change of a guest or node to the request (or its task) that made it."""

    def __init__(self, state: ClusterState, background: set[Target]) -> None:
        self._state = state
        self._background = background
        self._acting: RecordedRequest | None = None
        self._memo = Memo()
        self._baseline: Fingerprint = take(state, self._memo)
        # Running tasks → the request that started them (None: started before recording, or by nobody).
        self._running: dict[str, tuple[Task, RecordedRequest | None]] = {
            task.upid: (task, None) for task in state.tasks.values() if task.running
        }

    def _changes(self) -> set[Target]:
        return self._background if self._acting is None else self._acting.changes

    def checkpoint(self) -> None:
        """Credit whatever changed since the last checkpoint to whoever is acting now."""
        current = take(self._state, self._memo)
        changes = self._changes()
        changes |= differences(self._baseline, current)
        self._note_new_tasks(self._baseline.task_counts, current.task_counts, changes)
        self._note_stopped_tasks(changes)
        self._baseline = current

    def _note_new_tasks(self, before: dict[str, int], after: dict[str, int], changes: set[Target]) -> None:
        for node, count in after.items():
            known = before.get(node, 0)
            if count <= known:
                continue
            for task in self._state.node_tasks[node][known:]:
                changes.update(task_targets(task))
                if task.running:
                    self._running[task.upid] = (task, self._acting)

    def _note_stopped_tasks(self, changes: set[Target]) -> None:
        """A task that ended without finishing on its own was stopped by whoever is acting."""
        stopped = [upid for upid, (task, _) in self._running.items() if not task.running]
        for upid in stopped:
            task, _ = self._running.pop(upid)
            changes.update(task_targets(task))

    @contextmanager
    def acting_for(self, request: RecordedRequest | None) -> Iterator[None]:
        """Changes made inside are the request's (None: nobody's); scopes nest."""
        self.checkpoint()
        previous, self._acting = self._acting, request
        try:
            yield
        finally:
            self.checkpoint()
            self._acting = previous

    def settling(self) -> AbstractContextManager[None]:
        """Due tasks are about to finish: what changed before goes to whoever acts now."""
        self.checkpoint()
        return nullcontext()

    @contextmanager
    def finishing(self, task: Task) -> Iterator[None]:
        """A task's action runs for the request that started it. Only the task runner ran since the
        last checkpoint (``settling`` or the previous task's), so none is needed on the way in."""
        started = self._running.pop(task.upid, None)
        previous, self._acting = self._acting, (started[1] if started is not None else None)
        try:
            yield
        finally:
            self.checkpoint()
            self._acting = previous

    def background(self) -> AbstractContextManager[None]:
        return self.acting_for(None)

    def catch_up(self) -> None:
        """Credit what changed since the last checkpoint to the background, unless someone is acting."""
        if self._acting is None:
            self.checkpoint()
