"""What the cluster app draws (pve_cluster_view): nodes, guests, sparklines, findings and guest actions.

One call gives the app everything, so it renders at once and refreshes with one round trip. It reads
through the caller's scoped client like any tool: guests and nodes outside the scope are neither shown
nor read (the sparklines' RRD reads go only to guests in scope). The actions say which tool the app
must call for each, in the server's tool mode, and whether the caller's tier allows it; the app still
offers a locked action, and the server refuses it, so a person sees the same answer the model would.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from pvemcp.catalog import BY_NAME
from pvemcp.catalog.fronts import CANONICAL
from pvemcp.pve.errors import PveMcpError
from pvemcp.server.call import Call
from pvemcp.server.composites.health import health_and_resources
from pvemcp.server.composites.monitoring import compact_rrd, number
from pvemcp.server.plan import Planner

SPARK_POINTS = 30  # a point per two minutes of the last hour
MAX_SPARKS = 60  # RRD reads per view: the busiest cluster still answers in one round of reads
SPARK_READS_AT_ONCE = 8
SNAPNAME_PATTERN = "^[A-Za-z][A-Za-z0-9_-]{1,39}$"


@dataclass(frozen=True)
class GuestAction:
    """One button of the guest panel: the catalog operation per guest type it runs, and when it applies."""

    id: str
    label: str
    when: tuple[str, ...]
    ops: Mapping[str, str]  # guest type -> catalog operation
    arguments: Mapping[str, Any] = field(default_factory=dict)  # beyond vmid; "$name" is the person's input
    input: Mapping[str, Any] | None = None
    running: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # guest type -> added when running


ACTIONS = (
    GuestAction("start", "Start", ("stopped",), {"qemu": "pve_start_qemu_vm", "lxc": "pve_start_lxc_container"}),
    GuestAction(
        "shutdown", "Shut down", ("running",), {"qemu": "pve_shutdown_qemu_vm", "lxc": "pve_shutdown_lxc_container"}
    ),
    GuestAction("reboot", "Reboot", ("running",), {"qemu": "pve_reboot_qemu_vm", "lxc": "pve_reboot_lxc_container"}),
    GuestAction("stop", "Stop", ("running",), {"qemu": "pve_stop_qemu_vm", "lxc": "pve_stop_lxc_container"}),
    GuestAction(
        "snapshot",
        "Snapshot",
        ("running", "stopped"),
        {"qemu": "pve_qemu_create_snapshot", "lxc": "pve_lxc_create_snapshot"},
        {"snapname": "$snapname"},
        {"name": "snapname", "label": "Snapshot name", "pattern": SNAPNAME_PATTERN},
    ),
    GuestAction(
        "migrate",
        "Migrate",
        ("running", "stopped"),
        {"qemu": "pve_qemu_migrate", "lxc": "pve_lxc_migrate"},
        {"target": "$target"},
        {"name": "target", "label": "Target node", "choices": "nodes"},
        {"qemu": {"online": True}, "lxc": {"restart": True}},
    ),
)


def rows(value: Any) -> list[dict[str, Any]]:
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []


def percent(fraction: Any) -> float:
    return round((number(fraction) or 0.0) * 100, 1)


def whole(value: Any) -> int:
    return int(number(value) or 0)


def tags(value: Any) -> list[str]:
    return [t for t in str(value or "").replace(",", ";").split(";") if t]


def _node(row: dict[str, Any]) -> dict[str, Any]:
    online = row.get("status") == "online"
    return {
        "node": row.get("node"),
        "status": row.get("status"),
        "cpu_percent": percent(row.get("cpu")) if online else 0.0,
        "cores": whole(row.get("maxcpu")),
        "mem_used": whole(row.get("mem")),
        "mem_total": whole(row.get("maxmem")),
        "disk_used": whole(row.get("disk")),
        "disk_total": whole(row.get("maxdisk")),
        "uptime_s": whole(row.get("uptime")) if online else 0,
        "guests": 0,
        "running": 0,
    }


def _guest(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "vmid": whole(row.get("vmid")),
        "name": row.get("name") or "",
        "type": row.get("type"),
        "node": row.get("node"),
        "status": row.get("status"),
        "cpu_percent": percent(row.get("cpu")),
        "cores": whole(row.get("maxcpu")),
        "mem_used": whole(row.get("mem")),
        "mem_total": whole(row.get("maxmem")),
        "disk_total": whole(row.get("maxdisk")),
        "uptime_s": whole(row.get("uptime")),
        "tags": tags(row.get("tags")),
        "template": bool(row.get("template")),
        "ha": row.get("hastate") or None,
        "spark": [],
    }


async def _spark(call: Call, guest: dict[str, Any]) -> None:
    """The guest's CPU over the last hour, in percent; left empty when its history cannot be read."""
    path = f"/nodes/{guest['node']}/{guest['type']}/{guest['vmid']}/rrddata"
    try:
        history = await call.client.get(path, {"timeframe": "hour", "cf": "AVERAGE"})
    except PveMcpError:
        return
    compact = compact_rrd(rows(history), "AVERAGE", SPARK_POINTS)
    cpu = compact["series"].get("cpu")
    if cpu is None and "cpu" in compact.get("constant", {}):
        cpu = [compact["constant"]["cpu"]] * compact["count"]
    guest["spark"] = [None if v is None else round(v * 100, 1) for v in cpu or []]


def _call_for(planner: Planner, op: str, action: GuestAction, guest_type: str) -> dict[str, Any]:
    """The tool and arguments that run `op` on this server: its consolidated front, or the operation itself."""
    arguments: dict[str, Any] = {"vmid": "$vmid", **action.arguments}
    tool = op
    if planner.inventory.policy.mode == "consolidated":
        place = planner.fronts.where(op)
        if place is None and op in CANONICAL:  # not offered at this tier: the call the app makes is refused
            front, name, _picks = CANONICAL[op]
            place = (front, {"action": name})
        if place is not None:
            tool, selectors = place
            arguments = {**selectors, **arguments}
    described: dict[str, Any] = {"tool": tool, "arguments": arguments}
    if guest_type in action.running:
        described["running"] = dict(action.running[guest_type])
    return described


def actions(planner: Planner) -> list[dict[str, Any]]:
    offered = []
    for action in ACTIONS:
        specs = [BY_NAME[op] for op in action.ops.values()]
        entry: dict[str, Any] = {
            "id": action.id,
            "label": action.label,
            "when": list(action.when),
            "destructive": any(spec.confirm for spec in specs),
            "allowed": any(planner.inventory.get(op) is not None for op in action.ops.values()),
            "needs": min(spec.tier for spec in specs).label,
            "calls": {kind: _call_for(planner, op, action, kind) for kind, op in action.ops.items()},
        }
        if action.input is not None:
            entry["input"] = dict(action.input)
        offered.append(entry)
    return offered


async def cluster_view(planner: Planner, call: Call) -> dict[str, Any]:
    """Health first (it raises when nothing answers), with the inventory it read, then the in-scope guests'
    sparklines."""
    health, inventory = await health_and_resources(
        dataclasses.replace(call, spec=BY_NAME["pve_cluster_health"], args={})
    )
    # The inventory health read; read again only when that failed, so the view says why instead of drawing nothing.
    resources = inventory or rows(await call.client.get("/cluster/resources"))
    scope = call.scope
    nodes = {
        str(row.get("node")): _node(row)
        for row in resources
        if row.get("type") == "node" and scope.allows_node(str(row.get("node")))
    }
    guests = [
        _guest(row)
        for row in resources
        if row.get("type") in ("qemu", "lxc")
        and scope.allows_node(str(row.get("node")))
        and scope.allows_vmid(whole(row.get("vmid")))
    ]
    guests.sort(key=lambda g: (str(g["node"]), g["vmid"]))
    for guest in guests:
        node = nodes.get(str(guest["node"]))
        if node is not None and not guest["template"]:
            node["guests"] += 1
            node["running"] += guest["status"] == "running"
    drawn = [g for g in guests if g["status"] == "running" and not g["template"]][:MAX_SPARKS]
    limiter = anyio.CapacityLimiter(SPARK_READS_AT_ONCE)

    async def read(guest: dict[str, Any]) -> None:
        async with limiter:
            await _spark(call, guest)

    async with anyio.create_task_group() as group:
        for guest in drawn:
            group.start_soon(read, guest)
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tier": planner.inventory.policy.tier.label,
        "status": health["status"],
        "summary": health["summary"],
        "nodes": sorted(nodes.values(), key=lambda n: str(n["node"])),
        "guests": guests,
        "spark": {"metric": "cpu_percent", "timeframe": "hour", "points": SPARK_POINTS, "step": 3600 // SPARK_POINTS},
        "findings": health["findings"],
        "actions": actions(planner),
        "refresh": {"tool": "pve_cluster_view", "arguments": {}},
    }
