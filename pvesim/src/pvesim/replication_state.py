"""Storage replication runs: what pvescheduler does with the jobs of /cluster/replication.

The jobs themselves are ``admin.replication``; this module keeps each job's run state (last sync,
last try, failures, the log of the last run) and plays the scheduler lazily: pvescheduler wakes
once a minute and runs every job whose next sync has come, so ``catch_up(now)`` replays the runs
that became due since the last look. A job marked for removal goes at the next scheduler minute;
a job whose guest moved to its target swaps source and target, as PVE does after a migration.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .admin_state import ReplicationJob
    from .state import ClusterState

MINUTE = 60
DEFAULT_SCHEDULE = "*/15"
MAX_RUNS = 20_000  # a catch-up over a long jump replays at most this many scheduler wake-ups
_STEP = re.compile(r"^\*/([1-9][0-9]*)$")
_DAILY = re.compile(r"^(\d{1,2}):(\d{2})$")
_MINUTES = re.compile(r"^(\d{1,2})(?:,(\d{1,2}))*$")


def next_event(schedule: str, after: float) -> float:
    """The first time after ``after`` the calendar event names (PVE::CalendarEvent::compute_next_event).

    Understood: '*/N' (every N minutes), 'M' or 'M,M' (minutes past each hour), 'HH:MM' (daily);
    any other event is taken as the default, every 15 minutes.
    """
    base = (int(after) // MINUTE + 1) * MINUTE
    if (match := _DAILY.match(schedule)) is not None:
        offset = int(match.group(1)) * 3600 + int(match.group(2)) * MINUTE
        day = base - base % 86_400
        at = day + offset
        return float(at if at >= base else at + 86_400)
    if _MINUTES.match(schedule):
        wanted = sorted({int(m) for m in schedule.split(",")})
        hour = base - base % 3600
        for start in (hour, hour + 3600):
            for minute in wanted:
                if start + minute * MINUTE >= base:
                    return float(start + minute * MINUTE)
    step = int(m.group(1)) if (m := _STEP.match(schedule)) else 15
    minutes = base // MINUTE
    return float(math.ceil(minutes / step) * step * MINUTE)


def valid_schedule(schedule: str) -> bool:
    """A rough pve-calendar-event check: day words, times, steps and ranges only."""
    return bool(schedule.strip()) and re.fullmatch(r"[a-z0-9*/:,. \-]+", schedule) is not None


@dataclass(eq=False)
class JobRun:
    """PVE::ReplicationState's record of one job, plus the log of its last run."""

    last_try: float = 0.0
    last_sync: float = 0.0
    fail_count: int = 0
    duration: float = 0.0
    error: str | None = None
    checked: float = 0.0  # the scheduler has looked at this job up to here
    log: list[str] = field(default_factory=list)


@dataclass(eq=False)
class ReplicationRuns:
    runs: dict[str, JobRun] = field(default_factory=dict)

    def of(self, job: ReplicationJob, now: float) -> JobRun:
        found = self.runs.get(job.id)
        if found is None:
            found = self.runs[job.id] = JobRun(checked=now)
        return found


def next_sync(state: ClusterState, job: ReplicationJob, run: JobRun) -> float:
    """job_status's next_sync: retry after a failure (5, 10, 30 minutes), else the schedule."""
    if job.remove_job:
        return 1.0
    if run.fail_count:
        node = state.nodes.get(job.target)
        if node is None or not node.online:
            return 0.0
        return run.last_try + MINUTE * (5 * run.fail_count if run.fail_count < 3 else 30)
    return next_event(job.schedule or DEFAULT_SCHEDULE, run.last_try)


def catch_up(state: ClusterState, now: float) -> None:
    """Replay the scheduler's wake-ups up to ``now`` for every job."""
    for job in list(state.admin.replication.values()):
        _follow_guest(state, job)
        run = state.replication_runs.of(job, now)
        for _ in range(MAX_RUNS):
            wake = _next_wake(state, job, run)
            if wake is None or wake > now:
                break
            run.checked = wake
            if job.remove_job:
                del state.admin.replication[job.id]
                state.replication_runs.runs.pop(job.id, None)
                break
            sync(state, job, run, wake)
        if job.id in state.admin.replication:
            run.checked = max(run.checked, now)


def has_work(state: ClusterState, now: float) -> bool:
    """Whether ``catch_up(now)`` would do more than its bookkeeping: run or drop a job, or turn one
    round after its guest moved to the target. Only looks, so an idle clock tick changes nothing."""
    for job in state.admin.replication.values():
        wake = _next_wake(state, job, state.replication_runs.runs.get(job.id) or JobRun(checked=now))
        if _guest_moved(state, job) or (wake is not None and wake <= now):
            return True
    return False


def _next_wake(state: ClusterState, job: ReplicationJob, run: JobRun) -> float | None:
    """The minute the scheduler next runs the job; None while it waits (disabled, or for its target)."""
    planned = next_sync(state, job, run)
    if (job.disable and not job.remove_job) or planned == 0:
        return None
    return math.ceil(max(planned, run.checked + 1) / MINUTE) * MINUTE


def _guest_moved(state: ClusterState, job: ReplicationJob) -> bool:
    """The guest now lives on the job's target: the job turns round (see _follow_guest)."""
    guest = state.guests.get(job.guest)
    return guest is not None and guest.node == job.target and job.source != job.target


def _follow_guest(state: ClusterState, job: ReplicationJob) -> None:
    if _guest_moved(state, job):
        job.source, job.target = job.target, job.source


def stamp(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


def sync(state: ClusterState, job: ReplicationJob, run: JobRun, at: float) -> None:
    """One run, logged the way PVE::Replication logs it; it fails while the target is offline."""
    from .guest_disks import disks  # state.py imports this module; guest_disks imports state's neighbours

    guest = state.guests.get(job.guest)
    lines: list[str] = []

    def say(offset: float, text: str) -> None:
        lines.append(f"{stamp(at + offset)} {job.id}: {text}")

    say(0, "start replication job")
    target = state.nodes.get(job.target)
    run.last_try = at
    if guest is None or target is None or not target.online:
        error = f"no such guest '{job.guest}'" if guest is None else f"node '{job.target}' is offline"
        say(1, f"end replication job with error: {error}")
        run.fail_count += 1
        run.error = error
        run.log = lines
        return
    kind = "VM" if guest.type == "qemu" else "CT"
    say(0, f"guest => {kind} {guest.vmid}, running => {guest.pid or 0}")
    volumes = [volid for _, volid, _ in disks(guest.config)]
    say(0, f"volumes => {','.join(volumes)}")
    snap = f"__replicate_{job.id}_{int(at)}__"
    previous = f"__replicate_{job.id}_{int(run.last_sync)}__" if run.last_sync else None
    if guest.running and guest.type == "qemu":
        say(1, "freeze guest filesystem")
    for volid in volumes:
        say(1, f"create snapshot '{snap}' on {volid}")
    if guest.running and guest.type == "qemu":
        say(1, "thaw guest filesystem")
    rate = f"{job.rate:g} MByte/s" if job.rate else "none"
    say(1, f"using secure transmission, rate limit: {rate}")
    for volid in volumes:
        if previous:
            say(1, f"incremental sync '{volid}' ({previous} => {snap})")
        else:
            say(1, f"full sync '{volid}' ({snap})")
        say(3, f"successfully imported '{volid}'")
        if previous:
            say(3, f"delete previous replication snapshot '{previous}' on {volid}")
    say(4, "end replication job")
    run.last_sync = at
    run.fail_count = 0
    run.error = None
    run.duration = 4.0 + 0.25 * len(volumes)
    run.log = lines


def status_record(state: ClusterState, job: ReplicationJob, run: JobRun) -> dict[str, object]:
    """A job as /nodes/{node}/replication lists it: config, run state, next_sync and the guest type."""
    item = job.record()
    guest = state.guests.get(job.guest)
    if guest is not None:
        item["vmtype"] = guest.type
    item.update(last_try=int(run.last_try), last_sync=int(run.last_sync), fail_count=run.fail_count)
    item["duration"] = run.duration
    if run.error:
        item["error"] = run.error
    if not job.disable or job.remove_job:
        item["next_sync"] = int(next_sync(state, job, run))
    return item


def last_slot(schedule: str, before: float) -> float:
    """The latest time at or before ``before`` that the schedule names (within a day)."""
    slot = next_event(schedule, before - 86_400)
    while (later := next_event(schedule, slot)) <= before:
        slot = later
    return slot


def seed_runs(state: ClusterState, now: float) -> None:
    """Each seeded job has synced on schedule, most recently at the last slot before ``now``."""
    for job in state.admin.replication.values():
        run = state.replication_runs.of(job, now)
        schedule = job.schedule or DEFAULT_SCHEDULE
        slot = last_slot(schedule, now)
        run.last_sync = last_slot(schedule, slot - 1)
        sync(state, job, run, slot)
        run.checked = now
