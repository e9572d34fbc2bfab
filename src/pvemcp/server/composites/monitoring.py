"""Composite handlers for monitoring and template tools.

RRD answers are one object per row (60 to 1,440 rows of a dozen numbers with full float precision),
far more than an assistant needs; they are turned into compact series here, merged to at most
MAX_POINTS points per metric (a day of 1-minute rows becomes 60 points of 24 minutes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pvemcp.pve import wire
from pvemcp.server.call import Call, Handler, api_params

MAX_POINTS = 70
FRACTIONS = frozenset({"cpu", "iowait"})  # shares of the whole: three decimals say enough
TWO_DECIMALS = frozenset({"loadavg"})


def round_metric(name: str, value: float | None) -> float | int | None:
    """Fractions to 3 decimals, load to 2, everything else (bytes, bytes/s, counts) to integers."""
    if value is None:
        return None
    if name in FRACTIONS or name.startswith("pressure"):
        return round(value, 3)
    if name in TWO_DECIMALS:
        return round(value, 2)
    return round(value)


def merge_factor(rows: int, points: int) -> int:
    """Rows per point: the smallest divisor of `rows` that fits, so every point covers as many rows."""
    if rows <= points:
        return 1
    needed = math.ceil(rows / points)
    for factor in range(needed, min(rows, needed * 2) + 1):
        if rows % factor == 0:
            return factor
    return needed


def consolidate(values: Iterable[float | None], cf: str) -> float | None:
    known = [v for v in values if v is not None]
    if not known:
        return None
    return max(known) if cf == "MAX" else sum(known) / len(known)


def number(value: Any) -> float | None:
    """A row's value as a float; a missing key (an RRD gap) or anything odd counts as unknown."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def compact_rrd(rows: list[dict[str, Any]], cf: str, points: int) -> dict[str, Any]:
    """{start, step, count, series: {metric: [...]}, constant: {metric: value}, stats: {metric: [min, mean, max]}};
    nulls mark gaps."""
    rows = sorted((r for r in rows if isinstance(r, dict) and "time" in r), key=lambda r: r["time"])
    names = list(dict.fromkeys(k for r in rows for k in r if k != "time"))
    if not rows:
        return {"count": 0, "series": {}}
    step = int(rows[1]["time"] - rows[0]["time"]) if len(rows) > 1 else 0
    factor = merge_factor(len(rows), points)
    groups = [rows[i : i + factor] for i in range(0, len(rows), factor)]
    series: dict[str, list[float | int | None]] = {}
    constant: dict[str, float | int] = {}
    for name in names:
        merged = [round_metric(name, consolidate((number(r.get(name)) for r in group), cf)) for group in groups]
        first = merged[0]
        if first is not None and all(value == first for value in merged):
            constant[name] = first  # sizes (maxmem, memtotal) rarely change: once is enough
        else:
            series[name] = merged
    result: dict[str, Any] = {
        "start": int(rows[0]["time"]),
        "step": step * factor,
        "count": len(groups),
        "series": series,
    }
    if constant:
        result["constant"] = constant
    stats = {name: _stats(values) for name, values in series.items()}
    result["stats"] = {name: value for name, value in stats.items() if value is not None}
    return result


def _stats(values: list[float | int | None]) -> list[float | int | None] | None:
    """[min, mean, max] of a series' known points, rounded like the points: the numbers asked for most."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    mean = sum(known) / len(known)
    return [min(known), round(mean, 3) if isinstance(known[0], float) else round(mean), max(known)]


async def rrd_series(call: Call) -> Any:
    """The 15 metrics tools: one RRD read (timeframe fixed per tool), returned as compact series."""
    spec = call.spec
    path = wire.expand_path(spec.path, {name: call.args[name] for name in spec.placeholders})
    rows = await call.client.get(path, api_params(call))
    cf = str(call.args.get("cf") or "AVERAGE")
    result = {"timeframe": spec.fixed["timeframe"], "cf": cf}
    result.update(compact_rrd(rows if isinstance(rows, list) else [], cf, MAX_POINTS))
    return result


def _share(used: int, total: int) -> float:
    return round(used / total, 3) if total else 0.0


async def cluster_metrics_overview(call: Call) -> Any:
    """Per-node load and guest counts plus cluster totals, from one /cluster/resources read."""
    rows = await call.client.get("/cluster/resources")
    rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    nodes: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("type") == "node":
            online = row.get("status") == "online"
            nodes[str(row.get("node"))] = {
                "node": row.get("node"),
                "status": row.get("status"),
                "cpu": round(float(row.get("cpu") or 0), 3),
                "maxcpu": int(row.get("maxcpu") or 0),
                "mem": int(row.get("mem") or 0),
                "maxmem": int(row.get("maxmem") or 0),
                "uptime": int(row.get("uptime") or 0) if online else 0,
                "guests": 0,
                "running": 0,
            }
    templates = 0
    for row in rows:
        if row.get("type") not in ("qemu", "lxc"):
            continue
        if row.get("template"):
            templates += 1
            continue
        entry = nodes.get(str(row.get("node")))
        if entry is not None:
            entry["guests"] += 1
            entry["running"] += row.get("status") == "running"
    for entry in nodes.values():
        entry["mem_used"] = _share(entry["mem"], entry["maxmem"])
    online = [n for n in nodes.values() if n["status"] == "online"]
    maxcpu = sum(n["maxcpu"] for n in online)
    mem, maxmem = sum(n["mem"] for n in online), sum(n["maxmem"] for n in online)
    storages: dict[str, tuple[int, int]] = {}
    for row in rows:
        if row.get("type") == "storage" and row.get("status") == "available":
            key = str(row.get("storage")) if row.get("shared") else str(row.get("id"))
            storages[key] = (int(row.get("disk") or 0), int(row.get("maxdisk") or 0))
    disk, maxdisk = sum(u for u, _ in storages.values()), sum(t for _, t in storages.values())
    cluster = {
        "nodes": len(nodes),
        "online": len(online),
        "cpu": round(sum(n["cpu"] * n["maxcpu"] for n in online) / maxcpu, 3) if maxcpu else 0.0,
        "maxcpu": maxcpu,
        "mem": mem,
        "maxmem": maxmem,
        "mem_used": _share(mem, maxmem),
        "guests": sum(n["guests"] for n in nodes.values()),
        "running": sum(n["running"] for n in nodes.values()),
        "templates": templates,
        "storage": {"used": disk, "total": maxdisk, "used_share": _share(disk, maxdisk)},
    }
    return {"cluster": cluster, "nodes": sorted(nodes.values(), key=lambda n: str(n["node"]))}


TEMPLATE_FIELDS = ("vmid", "name", "node", "maxcpu", "maxmem", "maxdisk", "tags", "pool")


async def list_qemu_templates(call: Call) -> Any:
    """VM templates only (template=1), cluster-wide or on one node, from one /cluster/resources read."""
    rows = await call.client.get("/cluster/resources", api_params(call))
    node = call.args.get("node")
    return [
        {k: row[k] for k in TEMPLATE_FIELDS if k in row}
        for row in sorted(rows if isinstance(rows, list) else [], key=lambda r: int(r.get("vmid") or 0))
        if row.get("type") == "qemu" and row.get("template") and (node is None or row.get("node") == node)
    ]


HANDLERS: dict[str, Handler] = {
    "rrd_series": rrd_series,
    "cluster_metrics_overview": cluster_metrics_overview,
    "list_qemu_templates": list_qemu_templates,
}
