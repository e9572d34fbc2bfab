"""Cluster-wide reads: the cluster log, datacenter options and the guests that no backup job covers.
Replication jobs and HA status live in replication.py and ha.py."""

from __future__ import annotations

from ..params import integer, split_list
from ..routes import Call, Route
from ..state.cluster import ClusterState
from ..state.records import Task

LOG_DEFAULT = 50


def _log_entries(task: Task) -> list[dict[str, object]]:
    """pvedaemon logs every worker's start and end to the cluster log."""
    base = {"node": task.node, "pid": task.pid, "tag": "pvedaemon", "user": task.user}
    entries = [{**base, "time": task.starttime, "pri": 6, "msg": f"starting task {task.upid}", "seq": 0}]
    if task.status is not None and task.endtime is not None:
        pri = 6 if task.status == "OK" else 3
        msg = f"end task {task.upid} {task.status}"
        entries.append({**base, "time": task.endtime, "pri": pri, "msg": msg, "seq": 1})
    return entries


def cluster_log(c: Call) -> object:
    """The newest entries first, at most ``max`` (50 unless asked)."""
    limit = c.opt_int("max") or LOG_DEFAULT
    entries = [entry for task in c.state.tasks.values() for entry in _log_entries(task)]
    entries.sort(key=lambda e: (int(str(e["time"])), int(str(e["seq"]))), reverse=True)
    out = []
    for number, entry in enumerate(entries[:limit]):
        seq = entry.pop("seq")
        out.append({"uid": f"{int(str(entry['time'])):08X}:{number:04X}{seq}", **entry})
    return out


def options(c: Call) -> object:
    return c.state.admin.options


def covered_by_jobs(state: ClusterState) -> set[int]:
    """PVE::VZDump::get_included_guests over every job: all (on a node), a pool, or a vmid list."""
    covered: set[int] = set()
    for job in state.backup.jobs.values():
        node = job.get("node")
        if str(job.get("all", 0)) == "1":
            excluded = {int(v) for v in split_list(str(job.get("exclude", ""))) if v.isdigit()}
            covered |= {g.vmid for g in state.guests.values() if node in (None, g.node)} - excluded
        elif job.get("pool"):
            covered |= {g.vmid for g in state.guests.values() if g.pool == job["pool"]}
        else:
            covered |= {int(v) for v in split_list(str(job.get("vmid", ""))) if v.isdigit()}
    return covered


def not_backed_up(c: Call) -> object:
    covered = covered_by_jobs(c.state)
    guests = sorted(c.state.guests.values(), key=lambda g: g.vmid)
    return [{"vmid": g.vmid, "name": g.name, "type": g.type} for g in guests if g.vmid not in covered]


ROUTES: tuple[Route, ...] = (
    Route("GET", "/cluster/log", (integer("max", minimum=1),), cluster_log),
    Route("GET", "/cluster/options", (), options),
    Route("GET", "/cluster/backup-info/not-backed-up", (), not_backed_up),
)
