"""The health check's judgements: each area's rows in, its findings out, worst first within the area.

Thresholds live here. Every function is pure (rows and the scope in, findings out), so the reading in health.py
and the judging here change independently.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from typing import Any

from pvemcp.server.call import Call
from pvemcp.server.composites.readings import DAY, finding, iso, number, percent

PRESSURE = ((95.0, "critical"), (90.0, "warning"))  # node CPU or memory use, in percent
STORAGE_CRITICAL = 95.0
CERT_WARN_DAYS = 30
SUBSCRIPTION_WARN_DAYS = 30
MAX_TASKS = 5
HA_CRITICAL = frozenset({"error", "fence", "recovery"})
HA_IDLE = frozenset({"stopped", "disabled", "ignored"})
SUBSCRIPTION_LAPSED = frozenset({"invalid", "expired", "suspended"})


def membership(status: list[dict[str, Any]], resources: list[dict[str, Any]], call: Call) -> dict[str, Any]:
    """The cluster entry, which nodes within the scope are online (/cluster/status, else the resources), and the
    node answering the API."""
    online: dict[str, bool] = {}
    local = ""
    for row in status:
        name = str(row.get("name"))
        if row.get("type") == "node" and call.scope.allows_node(name):
            online[name] = bool(row.get("online"))
            local = name if row.get("local") else local
    for row in resources:
        name = str(row.get("node"))
        if row.get("type") == "node" and name not in online and call.scope.allows_node(name):
            online[name] = row.get("status") == "online"
    entry = next((row for row in status if row.get("type") == "cluster"), None)
    return {"entry": entry, "online": dict(sorted(online.items())), "local": local}


def check_nodes(members: dict[str, Any], resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lost quorum, offline nodes, and CPU or memory pressure on the online ones."""
    found = []
    entry = members["entry"]
    if entry is not None and not entry.get("quorate"):
        message = "The cluster has lost quorum: guests cannot be started, changed or migrated until it is back."
        found.append(
            finding("critical", "quorum", str(entry.get("name") or "cluster"), message, "pve_get_cluster_status", {})
        )
    for node, up in members["online"].items():
        if not up:
            found.append(finding("critical", "nodes", node, f"Node {node} is offline.", "pve_get_cluster_status", {}))
    for row in resources:
        node = str(row.get("node"))
        if row.get("type") != "node" or not members["online"].get(node):
            continue
        for key, label, used in (
            ("cpu_percent", "CPU", round(number(row.get("cpu")) * 100, 1)),
            ("memory_percent", "Memory", percent(row.get("mem"), row.get("maxmem"))),
        ):
            level = next((severity for limit, severity in PRESSURE if used >= limit), None)
            if level is not None:
                message = f"{label} use on {node} is at {used}%."
                found.append(
                    finding(level, "nodes", node, message, "pve_get_node_status", {"node": node}, **{key: used})
                )
    return found


def check_storage(
    resources: list[dict[str, Any]], online: Mapping[str, bool], threshold: float
) -> tuple[int, list[dict[str, Any]]]:
    """Storages used above the threshold, fullest first (a shared one once), and ones an online node lacks."""
    seen: dict[str, tuple[dict[str, Any], str, dict[str, str]]] = {}
    down, full = [], []
    for row in resources:
        node, name = str(row.get("node")), str(row.get("storage"))
        if row.get("type") != "storage" or not online.get(node):
            continue
        shared = bool(row.get("shared"))
        where = name if shared else f"{name} on {node}"
        args = {"storage": name} if shared else {"storage": name, "node": node}
        if row.get("status") != "available":
            message = f"Storage {name} is not available on {node} (status {row.get('status')})."
            down.append(finding("warning", "storage", where, message, "pve_storage_capacity", args))
        elif (name if shared else f"{name}@{node}") not in seen:
            seen[name if shared else f"{name}@{node}"] = (row, where, args)
    for row, where, args in seen.values():
        used = percent(row.get("disk"), row.get("maxdisk"))
        if used >= threshold:
            level = "critical" if used >= max(STORAGE_CRITICAL, threshold) else "warning"
            message = f"Storage {where} is {used}% full."
            full.append(finding(level, "storage", where, message, "pve_storage_capacity", args, used_percent=used))
    full.sort(key=lambda f: -f["used_percent"])
    return len(seen), full + down


def check_tasks(rows: list[dict[str, Any]], call: Call, since: float) -> tuple[int, list[dict[str, Any]]]:
    """Failed tasks (an exit status other than OK or warnings), newest first, a few of them."""
    failed = []
    for row in rows:
        status, ident = str(row.get("status") or ""), str(row.get("id") or "")
        if status in ("", "OK", "RUNNING") or status.startswith("WARNINGS"):
            continue
        if not ident.isdigit() or call.scope.allows_vmid(int(ident)):
            failed.append(row)
    failed.sort(key=lambda r: -number(r.get("endtime") or r.get("starttime")))
    found = []
    for row in failed[:MAX_TASKS]:
        node, kind, ident, status = (str(row.get(k) or "") for k in ("node", "type", "id", "status"))
        subject = f"{kind} {ident} on {node}" if ident else f"{kind} on {node}"
        ended = iso(number(row.get("endtime") or row.get("starttime")))
        found.append(
            finding(
                "warning",
                "tasks",
                subject,
                status,
                "pve_get_task_log",
                {"node": node, "upid": row.get("upid")},
                node=node,
                type=kind,
                id=ident,
                exit=status,
                ended_at=ended,
            )
        )
    if len(failed) > MAX_TASKS:
        node = str(failed[MAX_TASKS].get("node"))
        message = f"{len(failed) - MAX_TASKS} more failed tasks since {iso(since)}."
        found.append(
            finding(
                "info", "tasks", "tasks", message, "pve_list_tasks", {"node": node, "errors": True, "since": int(since)}
            )
        )
    return len(failed), found


def check_ceph(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One finding per health check Ceph raises (muted ones aside), or its overall state alone."""
    health = status.get("health")
    health = health if isinstance(health, Mapping) else {}
    checks = health.get("checks")
    found = []
    for name, check in (checks if isinstance(checks, Mapping) else {}).items():
        if not isinstance(check, Mapping) or check.get("muted"):
            continue
        summary = check.get("summary")
        message = str(summary.get("message") if isinstance(summary, Mapping) else name)
        level = "critical" if check.get("severity") == "HEALTH_ERR" else "warning"
        found.append(finding(level, "ceph", str(name), message, "pve_get_ceph_health", {}))
    overall = health.get("status")
    if not found and overall not in (None, "HEALTH_OK"):
        level = "critical" if overall == "HEALTH_ERR" else "warning"
        found.append(finding(level, "ceph", "ceph", f"Ceph reports {overall}.", "pve_get_ceph_health", {}))
    return found


def check_ha(items: list[dict[str, Any]], online: Mapping[str, bool], call: Call) -> tuple[int, list[dict[str, Any]]]:
    """HA quorum, silent LRMs on nodes that are up, services in error or fenced, or on an offline node."""
    found = []
    services = 0
    for item in items:
        kind, node = item.get("type"), str(item.get("node"))
        if kind == "quorum" and not item.get("quorate"):
            message = "The HA manager has no quorum: it cannot recover or move services."
            found.append(finding("critical", "ha", "quorum", message, "pve_get_cluster_ha_status", {}))
        elif kind == "lrm" and online.get(node) and "dead" in str(item.get("status")):
            message = f"The HA resource manager on {node} does not report: {item.get('status')}."
            found.append(finding("warning", "ha", f"lrm {node}", message, "pve_get_cluster_ha_status", {}))
        elif kind == "service":
            sid = str(item.get("sid"))
            vmid = sid.rpartition(":")[2]
            if not vmid.isdigit() or not call.scope.allows_vmid(int(vmid)) or not call.scope.allows_node(node):
                continue
            services += 1
            state = str(item.get("state"))
            if state in HA_CRITICAL:
                message = f"HA service {sid} on {node} is in state '{state}'."
            elif online.get(node) is False and state not in HA_IDLE:
                message = f"HA service {sid} is on {node}, which is offline: HA must fence the node to recover it."
            else:
                continue
            found.append(finding("critical", "ha", sid, message, "pve_get_cluster_ha_status", {}))
    return services, found


def check_replication(node: str, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Jobs whose last sync failed, with when they last succeeded."""
    found = []
    for job in jobs:
        guest = int(number(job.get("guest")))
        if not (job.get("fail_count") or job.get("error")):
            continue
        job_id, count = str(job.get("id")), int(number(job.get("fail_count")))
        message = f"Replication of guest {guest} to {job.get('target')} failed {count} time(s): {job.get('error')}"
        extra: dict[str, Any] = {"fail_count": count}
        if number(job.get("last_sync")) > 0:
            extra["last_sync_at"] = iso(number(job.get("last_sync")))
        found.append(
            finding(
                "warning",
                "replication",
                job_id,
                message,
                "pve_get_replication_log",
                {"node": node, "id": job_id},
                **extra,
            )
        )
    return found


def check_certificates(node: str, certs: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """Expired certificates (critical) and ones expiring within CERT_WARN_DAYS (warning)."""
    found = []
    for cert in certs:
        after = number(cert.get("notafter"))
        if not after or after - now > CERT_WARN_DAYS * DAY:
            continue
        name = str(cert.get("filename") or "certificate")
        if after <= now:
            level, message = "critical", f"{name} on {node} expired at {iso(after)}."
        else:
            level, message = "warning", f"{name} on {node} expires in {(after - now) / DAY:.0f} days, at {iso(after)}."
        found.append(
            finding(
                level,
                "certificates",
                f"{node} {name}",
                message,
                "pve_get_node_certificates",
                {"node": node},
                expires_at=iso(after),
            )
        )
    return found


def check_subscriptions(subs: Mapping[str, Mapping[str, Any]], now: float) -> tuple[int, list[dict[str, Any]]]:
    """Lapsed subscriptions per node, ones due soon, and nodes without a key together as one note."""
    found = []
    for node, sub in subs.items():
        status, due = str(sub.get("status")), _day(sub.get("nextduedate"))
        if status in SUBSCRIPTION_LAPSED:
            message = f"The subscription of {node} is {status}: {sub.get('message') or 'no enterprise updates'}."
            found.append(finding("warning", "subscription", node, message, "pve_get_node_subscription", {"node": node}))
        elif status == "active" and due is not None and due - now <= SUBSCRIPTION_WARN_DAYS * DAY:
            level, word = ("warning", "was") if due < now else ("info", "is")
            message = f"The subscription of {node} {word} due on {iso(due)[:10]}."
            found.append(finding(level, "subscription", node, message, "pve_get_node_subscription", {"node": node}))
    missing = [node for node, sub in subs.items() if sub.get("status") in ("notfound", "new")]
    if missing:
        message = f"No active subscription key on {', '.join(missing)}: no enterprise repository."
        found.append(
            finding(
                "info", "subscription", ", ".join(missing), message, "pve_get_node_subscription", {"node": missing[0]}
            )
        )
    return sum(1 for sub in subs.values() if sub.get("status") == "active"), found


def _day(text: Any) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(str(text), "%Y-%m-%d")))
    except ValueError:
        return None
