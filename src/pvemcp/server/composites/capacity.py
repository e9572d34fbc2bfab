"""pve_storage_capacity: every storage's use, the guests using it most, and how fast it fills.

/cluster/resources lists a shared storage once per node; it is one storage, so it is reported once, read through
one online node. Consumers are the storage's volumes summed per guest: sizes as Proxmox lists them (a thin disk's
provisioned size, a backup's file size), so they may add up to more than the storage's used bytes. The trend is
a least-squares line through the week's RRD history of used bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from pvemcp.catalog.health import CAPACITY_TOP
from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, api_error
from pvemcp.server import scope as scoping
from pvemcp.server.call import Call
from pvemcp.server.composites.readings import DAY, Reads, iso, number, percent, rows_of

CONTENT = "/nodes/{node}/storage/{storage}/content"
RRD = "/nodes/{node}/storage/{storage}/rrddata"


def _entries(resources: list[dict[str, Any]], online: Mapping[str, bool], call: Call) -> list[dict[str, Any]]:
    """One entry per storage (a shared one once, with the nodes that use it), within the scope and the filters."""
    only_storage, only_node = call.args.get("storage"), call.args.get("node")
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for row in resources:
        node, name = str(row.get("node")), str(row.get("storage"))
        if row.get("type") != "storage" or not call.scope.allows_node(node) or only_storage not in (None, name):
            continue
        shared = bool(row.get("shared"))
        key = (name, "" if shared else node)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = {
                "storage": name,
                "type": row.get("plugintype"),
                "shared": shared,
                **({"nodes": []} if shared else {"node": node}),
                "content": sorted(c for c in str(row.get("content") or "").split(",") if c),
                "used_bytes": int(number(row.get("disk"))),
                "total_bytes": int(number(row.get("maxdisk"))),
                "_status": row.get("status"),
                "_read": None,
            }
        if shared:
            entry["nodes"].append(node)
        if online.get(node) and row.get("status") == "available" and (entry["_read"] is None or node == only_node):
            entry["_read"], entry["_status"] = node, "available"  # the figures of the node it is read through
            entry.update(used_bytes=int(number(row.get("disk"))), total_bytes=int(number(row.get("maxdisk"))))
    wanted = [e for e in entries.values() if only_node is None or only_node in (e.get("node"), *e.get("nodes", ()))]
    for entry in wanted:
        entry["free_bytes"] = max(0, entry["total_bytes"] - entry["used_bytes"])
        entry["used_percent"] = percent(entry["used_bytes"], entry["total_bytes"])
        if shared_nodes := entry.get("nodes"):
            shared_nodes.sort()
        if entry["_read"] is not None:
            continue  # read through an online node: its figures stand for themselves
        if entry["_status"] != "available":
            entry["status"] = str(entry["_status"])
        else:
            entry["status"] = "node offline" if "node" in entry else "no online node"
    return wanted


def _homes(resources: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(number(r.get("vmid"))): r for r in resources if r.get("type") in ("qemu", "lxc")}


def _visible(call: Call, vmid: int, guests: Mapping[int, Mapping[str, Any]]) -> bool:
    """A guest within the scope: its VMID, and its node when it still exists."""
    home = guests.get(vmid)
    return call.scope.allows_vmid(vmid) and (home is None or call.scope.allows_node(str(home.get("node"))))


def consumers(
    volumes: list[dict[str, Any]], guests: Mapping[int, Mapping[str, Any]], call: Call, top: int
) -> dict[str, Any]:
    """Volumes summed per guest (largest first, `top` of them) and the unowned ones (ISOs, templates)."""
    owned: dict[int, dict[str, Any]] = {}
    unowned: dict[str, Any] = {"size_bytes": 0, "volumes": 0}
    total = 0
    for volume in volumes:
        size, kind = int(number(volume.get("size"))), str(volume.get("content") or "other")
        vmid = int(number(volume.get("vmid")))
        total += size
        if not vmid:
            unowned["size_bytes"] += size
            unowned["volumes"] += 1
            unowned[f"{kind}_bytes"] = unowned.get(f"{kind}_bytes", 0) + size
            continue
        if not _visible(call, vmid, guests):
            continue
        guest = owned.get(vmid)
        if guest is None:
            home = guests.get(vmid)
            guest = owned[vmid] = {"vmid": vmid, "size_bytes": 0, "volumes": 0}
            if home is not None:
                guest.update(name=home.get("name"), type=home.get("type"))
            else:
                guest["guest_exists"] = False  # backups of a destroyed guest still take room
        guest["size_bytes"] += size
        guest["volumes"] += 1
        guest[f"{kind}_bytes"] = guest.get(f"{kind}_bytes", 0) + size
    ranked = sorted(owned.values(), key=lambda g: (-g["size_bytes"], g["vmid"]))
    found: dict[str, Any] = {"volumes_size_bytes": total, "consumers": ranked[:top], "consumers_total": len(ranked)}
    if len(ranked) > top:  # said, so a short list is not read as the whole
        found["consumers_note"] = f"the largest {top} of {len(ranked)} guests; pass top={len(ranked)} for all"
    if unowned["volumes"]:
        found["unowned"] = unowned
    return found


def trend(rows: list[dict[str, Any]], used: int, total: int) -> dict[str, Any] | None:
    """Growth per day over the rows (least squares), and when the storage fills at that pace."""
    points = [(number(r.get("time")), number(r.get("used"))) for r in rows if r.get("used") is not None]
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_u = sum(u for _, u in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (u - mean_u) for t, u in points) / spread if spread else 0.0
    growth = round(slope * DAY)
    found: dict[str, Any] = {"since_at": iso(points[0][0]), "points": n, "growth_bytes_per_day": growth}
    if growth > 0:
        found["days_until_full"] = round(max(0, total - used) / growth, 1)
    return found


async def _fill(reads: Reads, entry: dict[str, Any], guests: Mapping[int, Mapping[str, Any]], call: Call) -> None:
    node = entry.pop("_read")
    entry.pop("_status")
    if node is None:
        return
    top = int(call.args.get("top") or CAPACITY_TOP)
    where = f"{entry['storage']} on {node}"
    names = {"node": node, "storage": entry["storage"]}
    volumes = await reads.get(("content",), wire.expand_path(CONTENT, names), None, where)
    if volumes is not None:
        entry.update(consumers(rows_of(volumes), guests, call, top))
    history = await reads.get(("trend",), wire.expand_path(RRD, names), {"timeframe": "week", "cf": "AVERAGE"}, where)
    if history is not None:
        entry["trend"] = trend(rows_of(history), entry["used_bytes"], entry["total_bytes"])


async def storage_capacity(call: Call) -> Any:
    """What is taking the space: see the module docstring."""
    node = call.args.get("node")
    if node is not None and not call.scope.allows_node(str(node)):
        raise scoping.unknown_node(str(node))
    resources = rows_of(await call.client.get("/cluster/resources"))
    online = {str(r.get("node")): r.get("status") == "online" for r in resources if r.get("type") == "node"}
    if node is not None and str(node) not in online:
        raise scoping.unknown_node(str(node))
    entries = _entries(resources, online, call)
    if call.args.get("storage") is not None and not entries:
        message = f"storage '{call.args['storage']}' does not exist"
        raise api_error(ErrorCode.PROXMOX_NOT_FOUND, message + (f" on node '{node}'" if node else ""), status=500)
    guests = _homes(resources)
    reads = Reads(call.client)
    async with anyio.create_task_group() as group:
        for entry in entries:
            group.start_soon(_fill, reads, entry, guests, call)
    entries.sort(key=lambda e: (-e["used_percent"], e["storage"], e.get("node", "")))
    used = sum(e["used_bytes"] for e in entries)
    total = sum(e["total_bytes"] for e in entries)
    return {
        "storages": entries,
        "totals": {"used_bytes": used, "total_bytes": total, "used_percent": percent(used, total)},
        "skipped": reads.skipped(),
    }
