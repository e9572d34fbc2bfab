"""Scheduled backup jobs (/cluster/backup) and one-off vzdump runs (/nodes/{node}/vzdump)."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import fail, param_error
from ..params import Param, flag, integer, split_list, text
from ..routes import Call, Route
from ..state.backup import DAYS, JobValue, next_run, parse_prune
from ..state.records import Task
from ..vzdump import back_up, storage_problem


def verify(params: Mapping[str, object], check_missing: bool) -> None:
    """PVE::VZDump::verify_vzdump_parameters."""
    if (params.get("all") or params.get("stop")) and params.get("vmid"):
        raise param_error({"all": "option conflicts with option 'vmid'"})
    if params.get("exclude") and params.get("vmid"):
        raise param_error({"exclude": "option conflicts with option 'vmid'"})
    if params.get("pool") and params.get("vmid"):
        raise param_error({"pool": "option conflicts with option 'vmid'"})
    if check_missing and not (params.get("all") or params.get("stop") or params.get("pool") or params.get("vmid")):
        raise param_error({"vmid": "property is missing"})


def _job_record(job: dict[str, JobValue], now: float) -> dict[str, object]:
    record: dict[str, object] = dict(job)
    for key in ("prune-backups", "fleecing", "performance"):  # property strings read back as objects
        if isinstance(job.get(key), str):
            record[key] = parse_prune(str(job[key]))
    if isinstance(job.get("exclude-path"), str):
        record["exclude-path"] = str(job["exclude-path"]).split("\0")
    when = next_run(str(job.get("schedule", "")), now) if job.get("enabled", 1) else None
    if when is not None:
        record["next-run"] = when
    return record


def _job(c: Call) -> dict[str, JobValue]:
    job = c.state.backup.jobs.get(c.text("id"))
    if job is None:
        raise param_error({"id": f"No such job '{c.text('id')}'"})
    return job


def _schedule(params: dict[str, JobValue]) -> None:
    """Legacy starttime (+ dow) become a calendar event, as PVE converts them."""
    starttime = params.pop("starttime", None)
    dow = params.pop("dow", None)
    if starttime is not None and "schedule" not in params:
        days = split_list(str(dow)) if dow else list(DAYS)
        params["schedule"] = str(starttime) if len(days) == 7 else f"{','.join(days)} {starttime}"


def job_index(c: Call) -> object:
    return [_job_record(job, c.now) for job in c.state.backup.jobs.values()]


def job_read(c: Call) -> object:
    return _job_record(_job(c), c.now)


def job_create(c: Call) -> object:
    params: dict[str, JobValue] = {k: v for k, v in c.params.items() if not isinstance(v, float)}
    job_id = str(params.pop("id", "")) or c.state.backup.new_job_id()
    if job_id in c.state.backup.jobs:
        raise fail(f"Job '{job_id}' already exists")
    _schedule(params)
    if "schedule" not in params:
        raise param_error({"schedule": "property is missing"})
    params.setdefault("enabled", 1)
    verify(params, True)
    c.state.backup.jobs[job_id] = {"id": job_id, "type": "vzdump", **params}
    return None


def job_update(c: Call) -> object:
    job = _job(c)
    params: dict[str, JobValue] = {k: v for k, v in c.params.items() if k != "id" and not isinstance(v, float)}
    if not params:
        raise fail("no options specified")
    verify(params, False)
    delete = split_list(str(params.pop("delete", "")))
    for key in delete:
        if key not in UPDATE_NAMES:
            raise param_error({"delete": f"unknown option '{key}'"})
    _schedule(params)
    updated = {k: v for k, v in job.items() if k not in delete}
    updated.update(params)
    if "exclude" in updated:
        updated["all"] = 1
    if "vmid" in params:
        updated.pop("all", None)
        updated.pop("exclude", None)
    elif params.get("all"):
        updated.pop("vmid", None)
    verify(updated, True)
    job.clear()
    job.update(updated)
    return None


def job_delete(c: Call) -> object:
    del c.state.backup.jobs[str(_job(c)["id"])]
    return None


def vzdump(c: Call) -> object:
    """Back up this node's share of the guests; the others are skipped, and none at all is a silent OK."""
    state, node = c.state, c.text("node")
    verify(c.params, True)
    wanted: list[int] = []
    if c.flag("all") or c.opt_text("pool"):
        pool, excluded = c.opt_text("pool"), {int(v) for v in split_list(c.opt_text("exclude") or "")}
        wanted = sorted(
            g.vmid for g in state.guests.values() if (pool is None or g.pool == pool) and g.vmid not in excluded
        )
    else:
        wanted = [int(v) for v in split_list(c.text("vmid"))]
    local = [v for v in wanted if v not in state.guests or state.guests[v].node == node]
    skipped = [v for v in wanted if v not in local]
    if not local and not c.flag("all"):
        return "OK"
    target = c.opt_text("storage") or "local"
    mode, compress = c.opt_text("mode") or "snapshot", c.opt_text("compress") or "0"
    template = c.opt_text("notes-template")
    locked = [state.guests[v] for v in local if v in state.guests and state.guests[v].lock is None]
    for guest in locked:
        guest.lock = "backup"
    args = " ".join(f"--{k} {v}" for k, v in sorted(c.params.items()) if k not in ("vmid", "node"))
    lines = [f"INFO: starting new backup job: vzdump {' '.join(map(str, local))} {args}".rstrip()]
    if skipped:
        lines.append(f"INFO: skip external VMs: {', '.join(map(str, skipped))}")

    def unlock() -> None:
        for guest in locked:
            if guest.lock == "backup":
                guest.lock = None

    def worker(task: Task) -> str | None:
        state.backup.on_stop.pop(task.upid, None)
        unlock()
        problem = storage_problem(state, target)
        if problem is not None:
            return problem
        storage = state.storages[target]
        ok = [back_up(state, task, storage, vmid, mode, compress, template) for vmid in local]
        if all(ok):
            task.log.append("INFO: Backup job finished successfully")
            return None
        task.log.append("INFO: Backup job finished with errors")
        return "job errors"

    ident = str(local[0]) if len(local) == 1 else ""
    task = c.ctx.runner.start(c.node, "vzdump", ident, c.ctx.user, action=worker, lines=lines)
    state.backup.on_stop[task.upid] = unlock
    return task.upid


COMMON: tuple[Param, ...] = (
    flag("all"),
    integer("bwlimit", minimum=0),
    text("compress", enum=("0", "1", "gzip", "lzo", "zstd")),
    text("dumpdir"),
    text("exclude", format="pve-vmid-list"),
    Param("exclude-path", "array"),
    text("fleecing", format="backup-fleecing"),
    integer("ionice", minimum=0, maximum=8),
    integer("lockwait", minimum=0),
    text("mailnotification", enum=("always", "failure")),
    text("mailto", format="email-or-username-list"),
    integer("maxfiles", minimum=1),
    text("mode", enum=("snapshot", "suspend", "stop")),
    text("notes-template", max_length=1024),
    text("notification-mode", enum=("auto", "legacy-sendmail", "notification-system")),
    text("pbs-change-detection-mode", enum=("legacy", "data", "metadata")),
    text("performance", format="backup-performance"),
    integer("pigz"),
    text("pool"),
    flag("protected"),
    text("prune-backups", format="prune-backups"),
    flag("quiet"),
    flag("remove"),
    text("script"),
    flag("stdexcludes"),
    flag("stop"),
    integer("stopwait", minimum=0),
    text("storage", format="pve-storage-id"),
    text("tmpdir"),
    text("vmid", format="pve-vmid-list"),
    integer("zstd"),
)
JOB = (
    *COMMON,
    text("comment", max_length=512),
    text("dow", format="pve-day-of-week-list"),
    flag("enabled"),
    text("node", format="pve-node"),
    flag("repeat-missed"),
    text("schedule", format="pve-calendar-event", max_length=128),
    text("starttime", pattern=r"\d{1,2}:\d{1,2}"),
)
JOB_ID = text("id", optional=False, pattern=r"\S+", max_length=50)
UPDATE_NAMES = frozenset(p.name for p in JOB)
VZDUMP = (
    *COMMON,
    text("job-id", pattern=r"\S+", max_length=50),
    text("node", format="pve-node"),
    flag("stdout"),
)


ROUTES = (
    Route("GET", "/cluster/backup", (), job_index),
    Route("POST", "/cluster/backup", (*JOB, text("id", format="pve-configid")), job_create),
    Route("GET", "/cluster/backup/{id}", (JOB_ID,), job_read),
    Route("PUT", "/cluster/backup/{id}", (*JOB, JOB_ID, text("delete", format="pve-configid-list")), job_update),
    Route("DELETE", "/cluster/backup/{id}", (JOB_ID,), job_delete),
    Route("POST", "/nodes/{node}/vzdump", VZDUMP, vzdump),
)
