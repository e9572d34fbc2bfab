"""pvescheduler's replication runs, played lazily over the whole cluster.

pvescheduler wakes once a minute and runs every job whose next sync has come, so ``catch_up(now)``
replays the runs that became due since the last look. A job marked for removal goes at the next
scheduler minute; a job whose guest moved to its target swaps source and target, as PVE does after
a migration. Each job's run record and the calendar events are in replication.py.
"""

from __future__ import annotations

import math

from .admin import ReplicationJob
from .cluster import ClusterState
from .guest_disks import disks
from .replication import DEFAULT_SCHEDULE, MINUTE, JobRun, last_slot, next_event, stamp

MAX_RUNS = 20_000  # a catch-up over a long jump replays at most this many scheduler wake-ups


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


def sync(state: ClusterState, job: ReplicationJob, run: JobRun, at: float) -> None:
    """One run, logged the way PVE::Replication logs it; it fails while the target is offline."""
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


def seed_runs(state: ClusterState, now: float) -> None:
    """Each seeded job has synced on schedule, most recently at the last slot before ``now``."""
    for job in state.admin.replication.values():
        run = state.replication_runs.of(job, now)
        schedule = job.schedule or DEFAULT_SCHEDULE
        slot = last_slot(schedule, now)
        run.last_sync = last_slot(schedule, slot - 1)
        sync(state, job, run, slot)
        run.checked = now
