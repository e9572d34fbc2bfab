"""Storage replication, following PVE::API2::ReplicationConfig (/cluster/replication) and
PVE::API2::Replication (/nodes/{node}/replication). Every call first lets the scheduler catch up
(state/scheduler.py's catch_up), so runs, removals and schedule_now follow the sim clock.
"""

from __future__ import annotations

import hashlib

from ..errors import fail, param_error
from ..params import NODE, Param, flag, integer, split_list, text
from ..routes import Call, Reply, Route
from ..state.admin import ReplicationJob
from ..state.replication import valid_schedule
from ..state.scheduler import catch_up, status_record

ID = text("id", optional=False, format="pve-replication-job-id", pattern=r"[1-9][0-9]{2,8}-\d{1,9}")
RATE = Param("rate", "number", minimum=1)
SCHEDULE = text("schedule", format="pve-calendar-event", max_length=128)
COMMON = (
    text("comment", max_length=4096),
    flag("disable"),
    ID,
    RATE,
    text("remove_job", enum=("local", "full")),
    SCHEDULE,
    text("source", format="pve-node"),
)
DELETABLE = frozenset({"comment", "disable", "rate", "schedule", "source", "remove_job"})


def _caught_up(c: Call) -> None:
    with c.ctx.background():  # pvescheduler's runs, not the caller's doing
        catch_up(c.state, c.now)


def _job(c: Call, message: str) -> ReplicationJob:
    _caught_up(c)
    job = c.state.admin.replication.get(c.text("id"))
    if job is None:
        raise fail(message.format(id=c.text("id")))
    return job


def _digest(c: Call) -> str:
    jobs = sorted(c.state.admin.replication.values(), key=lambda j: j.id)
    text_value = str([sorted(j.record().items()) for j in jobs])
    return hashlib.sha1(text_value.encode(), usedforsecurity=False).hexdigest()


def _schedule(c: Call) -> str | None:
    schedule = c.opt_text("schedule")
    if schedule is not None and not valid_schedule(schedule):
        raise param_error({"schedule": f"invalid format - unable to parse calendar event '{schedule}'\n"})
    return schedule


def _apply(c: Call, job: ReplicationJob) -> None:
    if (schedule := _schedule(c)) is not None:
        job.schedule = schedule
    if (comment := c.opt_text("comment")) is not None:
        job.comment = comment
    if "disable" in c.params:
        job.disable = c.flag("disable")
    if "rate" in c.params:
        job.rate = float(c.params["rate"])
    if (remove := c.opt_text("remove_job")) is not None:
        job.remove_job = remove


def list_jobs(c: Call) -> object:
    _caught_up(c)
    return [job.record() for job in sorted(c.state.admin.replication.values(), key=lambda j: j.id)]


def read_job(c: Call) -> object:
    job = _job(c, "no such replication job '{id}'")
    return {**job.record(), "digest": _digest(c)}


def create_job(c: Call) -> object:
    _caught_up(c)
    job_id = c.text("id")
    vmid, _, jobnum = job_id.partition("-")
    guest = c.state.guests.get(int(vmid))
    target = c.text("target")
    if guest is None:
        raise fail(f"Guest '{vmid}' does not exist.")
    if target not in c.state.nodes:
        raise fail(f"Target '{target}' does not exist.")
    source = c.opt_text("source")
    if source is not None and source != guest.node:
        raise fail(f"Source '{source}' does not match current node of guest '{vmid}' ({guest.node})")
    if target == guest.node:
        raise fail("Source and target must not be identical")
    if job_id in c.state.admin.replication:
        raise fail(f"replication job '{job_id}' already exists")
    job = ReplicationJob(guest.vmid, int(jobnum), target, guest.node)
    _apply(c, job)
    c.state.admin.replication[job.id] = job
    c.state.replication_runs.of(job, c.now)
    return None


def update_job(c: Call) -> object:
    job = _job(c, "no such job '{id}'")
    digest = c.opt_text("digest")
    if digest is not None and digest != _digest(c):
        raise fail("detected modified configuration - file changed by other user? Try again.")
    _schedule(c)
    for key in split_list(c.opt_text("delete") or ""):
        if key not in DELETABLE:
            raise fail(f"no such option '{key}'")
        if key == "schedule":
            job.schedule = "*/15"
        elif key == "comment":
            job.comment = ""
        elif key == "disable":
            job.disable = False
        elif key == "rate":
            job.rate = None
        elif key == "remove_job":
            job.remove_job = None
    if (source := c.opt_text("source")) is not None:
        job.source = source
    _apply(c, job)
    return None


def delete_job(c: Call) -> object:
    """Marks the job; the scheduler removes it at its next run. force drops it at once, without cleanup."""
    _caught_up(c)
    job_id = c.text("id")
    if c.flag("force"):
        if c.flag("keep"):
            raise param_error({"keep": "conflicts with parameter 'force'"})
        c.state.admin.replication.pop(job_id, None)
        c.state.replication_runs.runs.pop(job_id, None)
        return None
    job = c.state.admin.replication.get(job_id)
    if job is None:
        raise fail(f"no such job '{job_id}'")
    job.remove_job = "local" if c.flag("keep") else "full"
    return None


def _local_jobs(c: Call, with_disabled: bool) -> dict[str, ReplicationJob]:
    """job_status: the jobs whose guest lives on this node; disabled ones only when asked."""
    _caught_up(c)
    jobs: dict[str, ReplicationJob] = {}
    for job in c.state.admin.replication.values():
        guest = c.state.guests.get(job.guest)
        if guest is None or guest.node != c.text("node") or job.target == guest.node:
            continue
        if job.disable and not job.remove_job and not with_disabled:
            continue
        jobs[job.id] = job
    return jobs


def node_status(c: Call) -> object:
    wanted = c.opt_int("guest")
    jobs = _local_jobs(c, with_disabled=True)
    runs = c.state.replication_runs
    return [
        status_record(c.state, job, runs.of(job, c.now))
        for _, job in sorted(jobs.items())
        if wanted in (None, job.guest)
    ]


def job_status(c: Call) -> object:
    job = _local_jobs(c, with_disabled=False).get(c.text("id"))
    if job is None:
        raise fail(f"no such replication job '{c.text('id')}'")
    return status_record(c.state, job, c.state.replication_runs.of(job, c.now))


def job_log(c: Call) -> object:
    """The last run's log, paged like PVE::Tools::dump_logfile (start, limit 50 by default)."""
    job = _job(c, "no such replication job '{id}'")
    lines = c.state.replication_runs.of(job, c.now).log
    if not lines:
        return Reply([{"n": 1, "t": "unable to open file - No such file or directory"}], total=1)
    start, limit = c.opt_int("start", 0) or 0, c.opt_int("limit", 50) or 50
    page = [{"n": i + 1, "t": lines[i]} for i in range(start, min(len(lines), start + limit))]
    return Reply(page, total=len(lines))


def schedule_now(c: Call) -> object:
    """Sets the last try back to 0, so pvescheduler runs the job at its next wake-up (each minute)."""
    job = _job(c, "no such replication job '{id}'")
    run = c.state.replication_runs.of(job, c.now)
    run.last_try = 0.0
    run.checked = max(run.checked, c.now)
    return None


ROUTES: tuple[Route, ...] = (
    Route("GET", "/cluster/replication", (), list_jobs),
    Route(
        "POST",
        "/cluster/replication",
        (*COMMON, text("target", optional=False, format="pve-node"), text("type", optional=False, enum=("local",))),
        create_job,
    ),
    Route("GET", "/cluster/replication/{id}", (ID,), read_job),
    Route(
        "PUT",
        "/cluster/replication/{id}",
        (*COMMON, text("delete", format="pve-configid-list", max_length=4096), text("digest", max_length=64)),
        update_job,
    ),
    Route("DELETE", "/cluster/replication/{id}", (flag("force"), ID, flag("keep")), delete_job),
    Route(
        "GET",
        "/nodes/{node}/replication",
        (integer("guest", minimum=100, maximum=999_999_999, format="pve-vmid"), NODE),
        node_status,
    ),
    Route("GET", "/nodes/{node}/replication/{id}/status", (ID, NODE), job_status),
    Route(
        "GET",
        "/nodes/{node}/replication/{id}/log",
        (ID, integer("limit", minimum=0), NODE, integer("start", minimum=0)),
        job_log,
    ),
    Route("POST", "/nodes/{node}/replication/{id}/schedule_now", (ID, NODE), schedule_now),
)
