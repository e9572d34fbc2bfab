"""pve_cluster_health: is the cluster healthy, from every area's reads in one call (and pve_storage_capacity's
handler, from capacity.py).

Each area reads on its own: a read refused by the scope or by Proxmox, or one that fails, puts its area under
"skipped" with the reason instead of failing the answer, since a partial view of a sick cluster is what is
needed then. Only problems become findings; the summary carries the counts. Per-node reads go only to online
nodes within the scope (an offline node is itself a finding), and times are judged by the cluster's clock.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import anyio

from pvemcp.catalog.health import HEALTH_DEFAULTS
from pvemcp.pve import wire
from pvemcp.pve.errors import PveMcpError
from pvemcp.server.call import Call, Handler
from pvemcp.server.composites.capacity import storage_capacity
from pvemcp.server.composites.health_checks import (
    check_ceph,
    check_certificates,
    check_ha,
    check_nodes,
    check_replication,
    check_storage,
    check_subscriptions,
    check_tasks,
    membership,
)
from pvemcp.server.composites.readings import Reads, iso, number, rows_of, severity_rank

TASK_ROWS = 50  # failed tasks read per node
AREAS = ("quorum", "nodes", "guests", "ceph", "ha", "storage", "replication", "tasks", "certificates", "subscription")
NODE_AREAS = "its tasks, replication jobs, certificates and subscription were not read"


async def _cluster_time(call: Call, node: str | None) -> float:
    """The cluster's own clock, by which task, certificate and subscription times are judged."""
    if node is not None:
        try:
            answer = await call.client.get(wire.expand_path("/nodes/{node}/time", {"node": node}))
        except PveMcpError:
            answer = None
        if isinstance(answer, Mapping) and number(answer.get("time")) > 0:
            return number(answer.get("time"))
    return time.time()


async def _gather(reads: Reads, up: list[str], since: float) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Ceph, HA and every online node's tasks, replication, certificates and subscription, side by side."""
    per_node: dict[str, dict[str, Any]] = {node: {} for node in up}
    wide: dict[str, Any] = {}

    async def node_reads(node: str) -> None:
        base, got = wire.expand_path("/nodes/{node}", {"node": node}), per_node[node]
        failed = {"errors": 1, "since": int(since), "limit": TASK_ROWS}
        got["tasks"] = rows_of(await reads.get(("tasks",), base + "/tasks", failed, node))
        got["replication"] = rows_of(await reads.get(("replication",), base + "/replication", None, node))
        got["certificates"] = rows_of(await reads.get(("certificates",), base + "/certificates/info", None, node))
        got["subscription"] = await reads.get(("subscription",), base + "/subscription", None, node)

    async def cluster_read(area: str, path: str) -> None:
        wide[area] = await reads.get((area,), path)

    async with anyio.create_task_group() as group:
        group.start_soon(cluster_read, "ceph", "/cluster/ceph/status")
        group.start_soon(cluster_read, "ha", "/cluster/ha/status/current")
        for node in up:
            group.start_soon(node_reads, node)
    return per_node, wide


STARTS = frozenset({"qmstart", "vzstart"})


def _settled(findings: list[dict[str, Any]], resources: list[dict[str, Any]]) -> None:
    """A failed start of a guest that runs now was followed by one that worked: a note, no longer a warning."""
    running = {str(row.get("vmid")) for row in resources if row.get("status") == "running"}
    for found in findings:
        if found.get("type") in STARTS and found.get("id") in running:
            found["severity"] = "info"
            found["message"] = f"{found['message']} (it runs now: a later start worked)"


def _guests(resources: list[dict[str, Any]], call: Call) -> tuple[int, int]:
    """Guests within the scope, templates aside: running and in all."""
    guests = [
        row
        for row in resources
        if row.get("type") in ("qemu", "lxc")
        and not row.get("template")
        and call.scope.allows_vmid(int(number(row.get("vmid"))))
        and call.scope.allows_node(str(row.get("node")))
    ]
    return sum(1 for row in guests if row.get("status") == "running"), len(guests)


async def cluster_health(call: Call) -> Any:
    """Is the cluster healthy: see the module docstring for how each area is read."""
    return (await health_and_resources(call))[0]


async def health_and_resources(call: Call) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The health answer, and the /cluster/resources rows it was read from (the cluster view draws them too)."""
    since_hours = int(call.args.get("since_hours") or HEALTH_DEFAULTS["since_hours"])
    threshold = float(call.args.get("storage_threshold_percent") or HEALTH_DEFAULTS["storage_threshold_percent"])
    reads = Reads(call.client)
    status = rows_of(await reads.get(("quorum",), "/cluster/status"))
    resources = rows_of(await reads.get(("nodes", "guests", "storage"), "/cluster/resources"))
    members = membership(status, resources, call)
    if "quorum" in reads.ok:
        reads.ok.add("nodes")  # membership and online state come with the quorum
    online: dict[str, bool] = members["online"]
    up = [node for node, is_up in online.items() if is_up]
    now = await _cluster_time(call, members["local"] if online.get(members["local"]) else next(iter(up), None))
    since = now - since_hours * 3600
    per_node, wide = await _gather(reads, up, since)
    if not reads.ok:
        raise reads.first_error()  # nothing answered: Proxmox is unreachable, or refuses this token all of it

    storages, storage_findings = check_storage(resources, online, threshold)
    ha_services, ha_findings = check_ha(rows_of(wide.get("ha")), online, call)
    ceph = wide.get("ceph") if isinstance(wide.get("ceph"), Mapping) else None
    jobs = {
        n: [j for j in got["replication"] if call.scope.allows_vmid(int(number(j.get("guest"))))]
        for n, got in per_node.items()
    }
    replication = [f for node, node_jobs in jobs.items() for f in check_replication(node, node_jobs)]
    tasks = [row | {"node": row.get("node") or n} for n, got in per_node.items() for row in got["tasks"]]
    failed_tasks, task_findings = check_tasks(tasks, call, since)
    _settled(task_findings, resources)
    subs = {n: got["subscription"] for n, got in per_node.items() if isinstance(got["subscription"], Mapping)}
    active_subs, sub_findings = check_subscriptions(subs, now)
    certificates = [f for n, got in per_node.items() for f in check_certificates(n, got["certificates"], now)]
    findings = check_nodes(members, resources) + (check_ceph(ceph) if ceph is not None else []) + ha_findings
    findings += storage_findings + replication + task_findings + certificates + sub_findings
    findings.sort(key=lambda f: severity_rank(f["severity"]))  # stable: areas keep their order within a severity

    running, guests = _guests(resources, call)
    summary: dict[str, Any] = {"quorate": bool(members["entry"].get("quorate"))} if members["entry"] else {}
    summary |= {
        "nodes_online": len(up),
        "nodes_total": len(online),
        "guests_running": running,
        "guests_total": guests,
        "storages": storages,
        "storages_above_threshold": sum(1 for f in storage_findings if "used_percent" in f),
        "storage_threshold_percent": threshold,
        "failed_tasks": failed_tasks,
        "failed_tasks_since_at": iso(since),
        "ha_services": ha_services,
        "replication_jobs": sum(len(node_jobs) for node_jobs in jobs.values()),
        "replication_failed": len(replication),
        "subscriptions_active": active_subs,
    }
    if ceph is not None and isinstance(ceph.get("health"), Mapping):
        summary["ceph_health"] = ceph["health"].get("status")
    for level in ("critical", "warning", "info"):
        summary[level] = sum(1 for f in findings if f["severity"] == level)
    offline = [{"area": "nodes", "reason": f"{n} is offline: {NODE_AREAS}"} for n in online if n not in up]
    answer = {
        "status": next((level for level in ("critical", "warning") if summary[level]), "ok"),
        "summary": summary,
        "findings": findings,
        "checked": [area for area in AREAS if area in reads.ok],
        "skipped": reads.skipped() + offline,
    }
    return answer, resources


HANDLERS: dict[str, Handler] = {"cluster_health": cluster_health, "storage_capacity": storage_capacity}
