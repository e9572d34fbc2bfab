"""Task lists (per node and cluster-wide), task status, task logs, and stopping a task."""

from __future__ import annotations

import time

from ..errors import fail, param_error
from ..params import NODE, VMID_FILTER, flag, integer, split_list, text
from ..routes import Call, Download, Reply, Route
from ..state.records import Task
from ..tasks import decode_upid, read_log, task_record

STATUS_TYPES = ("ok", "warning", "error", "unknown")
INTERRUPTED = "interrupted by signal"
CLUSTER_TASKS_PER_NODE = 25


def _status_type(status: str | None) -> str:
    """PVE::Tools::upid_normalize_status_type: running tasks have no status yet ('unknown')."""
    if not status:
        return "unknown"
    if status == "OK":
        return "ok"
    if status.startswith("WARNINGS: ") and status[10:].isdigit():
        return "warning"
    return "unknown" if status == "unexpected status" else "error"


def node_tasks(c: Call) -> object:
    """Active tasks first (status 'RUNNING'), then finished ones newest first; ``total`` counts all matches."""
    start, limit = c.opt_int("start", 0) or 0, c.opt_int("limit", 50)
    remaining = 50 if limit is None else limit
    source = c.opt_text("source") or "archive"
    errors = c.flag("errors")
    wanted = set(STATUS_TYPES)
    statusfilter = c.opt_text("statusfilter")
    if statusfilter is not None and not errors:
        wanted = {item.lower() for item in split_list(statusfilter)}
    elif errors:
        wanted.discard("ok")
    userfilter, typefilter = c.opt_text("userfilter"), c.opt_text("typefilter")
    vmid, since, until = c.opt_int("vmid"), c.opt_int("since"), c.opt_int("until")
    count = 0
    result: list[dict[str, object]] = []

    def accept(task: Task, user: str) -> bool:
        nonlocal count, remaining
        if userfilter and userfilter.lower() not in user.lower():
            return False
        if typefilter and task.type != typefilter:
            return False
        if vmid is not None and task.id != str(vmid):
            return False
        if (since is not None and task.starttime < since) or (until is not None and task.starttime > until):
            return False
        if _status_type(task.status) not in wanted:
            return False
        count += 1
        if count <= start or remaining <= 0:
            return False
        remaining -= 1
        return True

    tasks = c.state.node_tasks.get(c.text("node"), [])
    if source in ("active", "all"):
        for task in sorted((t for t in tasks if t.running), key=lambda t: -t.starttime):
            # The active-task file is not run through PVE's token split, so the full id shows.
            if accept(task, task.user):
                record = task_record(task)
                record["user"] = task.user
                record.pop("tokenid", None)
                record["status"] = "RUNNING"
                result.append(record)
    if source != "active":
        finished = sorted((t for t in tasks if not t.running), key=lambda t: (-(t.endtime or 0), -t.starttime))
        for task in finished:
            record = task_record(task)
            if accept(task, str(record["user"])):
                record["endtime"] = task.endtime
                record["status"] = task.status
                result.append(record)
    return Reply(result, total=count)


def _task(c: Call) -> Task | None:
    upid = c.text("upid")
    if decode_upid(upid) is None:
        raise param_error({"upid": "unable to parse worker upid"})
    task = c.state.tasks.get(upid)
    return task if task is not None and task.node == c.text("node") else None


def task_status(c: Call) -> object:
    task = _task(c)
    if task is None:
        raise param_error({"upid": "no such task"})
    record = task_record(task)
    record["status"] = "running" if task.running else "stopped"
    if not task.running:
        record["exitstatus"] = task.status
    return record


def task_log(c: Call) -> object:
    task = _task(c)
    if c.flag("download"):
        if "start" in c.params or "limit" in c.params:
            raise fail("'download' cannot be used together with 'start' or 'limit' parameters")
        if task is None:
            raise fail("Could not open file - No such file or directory")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(task.starttime))
        body = "".join(line + "\n" for line in task.log).encode()
        return Download(body, f"task-{task.node}-{task.type}-{stamp}.log")
    total, lines = read_log(task, c.opt_int("start", 0) or 0, c.opt_int("limit", 50) or 0)
    return Reply(lines, total=total)


def task_stop(c: Call) -> object:
    """A running worker gets SIGTERM and dies with PVE's message; a finished one is left alone."""
    task = _task(c)
    if task is None:
        raise param_error({"upid": "no such task"})
    if task.running:
        task.action = None
        task.status = INTERRUPTED
        task.endtime = int(c.now)
        task.log.append(f"TASK ERROR: {INTERRUPTED}")
        cleanup = c.state.backup.on_stop.pop(task.upid, None)
        if cleanup is not None:
            cleanup()
    return None


def cluster_tasks(c: Call) -> object:
    """What pvestatd broadcasts: each node's most recent tasks, running ones without a status."""
    records: list[dict[str, object]] = []
    for tasks in c.state.node_tasks.values():
        for task in sorted(tasks, key=lambda t: -t.starttime)[:CLUSTER_TASKS_PER_NODE]:
            record = task_record(task)
            if not task.running:
                record["endtime"] = task.endtime
                record["status"] = task.status
            records.append(record)
    return sorted(records, key=lambda r: -int(str(r["starttime"])))


UPID = text("upid", optional=False)
START, LIMIT = integer("start", minimum=0), integer("limit", minimum=0)

ROUTES = (
    Route("GET", "/cluster/tasks", (), cluster_tasks),
    Route(
        "GET",
        "/nodes/{node}/tasks",
        (
            NODE,
            flag("errors"),
            LIMIT,
            integer("since"),
            text("source", enum=("archive", "active", "all")),
            START,
            text("statusfilter", format="pve-task-status-type-list"),
            text("typefilter"),
            integer("until"),
            text("userfilter"),
            VMID_FILTER,
        ),
        node_tasks,
    ),
    Route("DELETE", "/nodes/{node}/tasks/{upid}", (NODE, UPID), task_stop),
    Route("GET", "/nodes/{node}/tasks/{upid}/status", (NODE, UPID), task_status),
    Route("GET", "/nodes/{node}/tasks/{upid}/log", (NODE, UPID, flag("download"), LIMIT, START), task_log),
)
