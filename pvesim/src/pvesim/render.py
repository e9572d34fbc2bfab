"""Records as PVE puts them on the wire: field names, 0/1 booleans, optional keys left out.

Cluster-wide guest records are cached as encoded JSON per guest and refreshed when the
guest changes or the ten-second status interval passes, which keeps a 5,000-guest
``/cluster/resources`` cheap.
"""

from __future__ import annotations

import hashlib
import json

from .routes import Context, Rendered
from .state.metrics import (
    BUCKET_SECONDS,
    IDLE,
    Usage,
    bucket_of,
    guest_usage,
    max_cpu,
    max_disk,
    max_mem,
    node_usage,
    shape,
)
from .state.records import Guest, Node, Pool, Storage, Volume

encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def config_record(guest: Guest) -> dict[str, object]:
    """A guest config with its digest, as GET .../config returns it."""
    config: dict[str, object] = dict(guest.config.as_dict())
    if guest.saved_state and guest.type == "qemu":
        config["lock"] = "suspended"
    elif guest.lock:
        config["lock"] = guest.lock
    text = "".join(f"{key}: {config[key]}\n" for key in sorted(config))
    config["digest"] = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    return dict(sorted(config.items()))


def _common(guest: Guest, now: float) -> dict[str, object]:
    usage = guest_usage(guest, now)
    record: dict[str, object] = {
        "vmid": guest.vmid,
        "name": guest.name,
        "status": guest.status,
        "cpus": max_cpu(guest),
        "cpu": usage.cpu,
        "maxmem": max_mem(guest),
        "mem": usage.mem,
        "maxdisk": max_disk(guest),
        "disk": usage.disk,
        "netin": usage.netin,
        "netout": usage.netout,
        "diskread": usage.diskread,
        "diskwrite": usage.diskwrite,
        "uptime": usage.uptime,
    }
    if guest.type == "lxc":
        record["type"] = "lxc"
        record["maxswap"] = shape(guest).maxswap
        record["swap"] = usage.swap
    if guest.running and guest.pid is not None:
        record["pid"] = guest.pid
    if "tags" in guest.config:
        record["tags"] = str(guest.config["tags"])
    if guest.template:
        record["template"] = 1
    lock = "suspended" if guest.saved_state and guest.type == "qemu" else guest.lock
    if lock:
        record["lock"] = lock
    return record


def guest_item(guest: Guest, now: float, full: bool = False) -> dict[str, object]:
    """One entry of GET /nodes/{node}/qemu or /lxc."""
    record = _common(guest, now)
    if full and guest.type == "qemu":
        record["qmpstatus"] = guest.qmpstatus
    return record


def _ha(guest: Guest) -> dict[str, object]:
    if guest.hastate is None:
        return {"managed": 0}
    return {"managed": 1, "state": guest.hastate}


def guest_status(guest: Guest, now: float) -> dict[str, object]:
    """GET .../status/current: the list entry plus the live details PVE adds."""
    record = _common(guest, now)
    record["ha"] = _ha(guest)
    if guest.type == "qemu":
        record["qmpstatus"] = guest.qmpstatus
        if str(guest.config.get("agent", "0")).split(",")[0] in ("1", "enabled=1"):
            record["agent"] = 1
        if guest.running:
            record["running-machine"] = "pc-i440fx-10.1+pve0"
            record["running-qemu"] = "10.1.2"
    return record


def resource_prefix(guest: Guest) -> str:
    """A guest's /cluster/resources fields that change only with its config or state, as open JSON.

    PVE always sends 'template' there, as 0 or 1.
    """
    size = shape(guest)
    entry: dict[str, object] = {
        "id": f"{guest.type}/{guest.vmid}",
        "type": guest.type,
        "vmid": guest.vmid,
        "name": guest.name,
        "node": guest.node,
        "status": guest.status,
        "maxcpu": size.maxcpu,
        "maxmem": size.maxmem,
        "maxdisk": size.maxdisk,
        "template": 1 if guest.template else 0,
    }
    if "tags" in guest.config:
        entry["tags"] = str(guest.config["tags"])
    if guest.pool:
        entry["pool"] = guest.pool
    if guest.lock:
        entry["lock"] = guest.lock
    if guest.hastate:
        entry["hastate"] = guest.hastate
    return encode(entry)[:-1]


def usage_suffix(u: Usage) -> str:
    """The usage fields closing a resource entry; plain formatting is far cheaper than encoding."""
    return (
        f',"cpu":{u.cpu},"mem":{u.mem},"disk":{u.disk},"uptime":{u.uptime},"netin":{u.netin},'
        f'"netout":{u.netout},"diskread":{u.diskread},"diskwrite":{u.diskwrite}}}'
    )


IDLE_SUFFIX = usage_suffix(IDLE)


def guest_resources_json(ctx: Context, guests: list[Guest], now: float) -> list[str]:
    """Encoded resource entries. Usage is sampled once per status interval, like pvestatd does,
    so between intervals only changed guests are rendered again."""
    bucket = bucket_of(now)
    at = float(bucket * BUCKET_SECONDS)
    cache = ctx.rendered
    out: list[str] = []
    for guest in guests:
        stamp = guest.stamp
        hit = cache.get(guest.vmid)
        if hit is None or hit.stamp != stamp:
            prefix = resource_prefix(guest)
            suffix = usage_suffix(guest_usage(guest, at)) if guest.running else IDLE_SUFFIX
            hit = cache[guest.vmid] = Rendered(stamp, prefix, bucket, prefix + suffix)
        elif hit.bucket != bucket:
            hit.bucket = bucket
            if guest.running:
                hit.text = hit.prefix + usage_suffix(guest_usage(guest, at))
        out.append(hit.text)
    return out


def node_entry(node: Node, now: float) -> dict[str, object]:
    """A node as /nodes and /cluster/resources show it."""
    entry: dict[str, object] = {
        "id": f"node/{node.name}",
        "type": "node",
        "node": node.name,
        "status": "online" if node.online else "offline",
    }
    if not node.online:
        return entry
    usage = node_usage(node, now)
    entry.update(
        cpu=usage.cpu,
        maxcpu=node.cpus,
        mem=usage.mem_used,
        maxmem=node.mem_total,
        disk=usage.rootfs_used,
        maxdisk=node.rootfs_total,
        uptime=usage.uptime,
        level="",
    )
    return entry


def storage_entry(storage: Storage, node: str) -> dict[str, object]:
    return {
        "id": f"storage/{node}/{storage.storage}",
        "type": "storage",
        "storage": storage.storage,
        "node": node,
        "status": "available",
        "plugintype": storage.type,
        "content": ",".join(storage.content),
        "shared": 1 if storage.shared else 0,
        "disk": storage.used_on(node),
        "maxdisk": storage.total,
    }


def node_storage_item(storage: Storage, node: str) -> dict[str, object]:
    """GET /nodes/{node}/storage: status of one storage as seen from that node."""
    used = storage.used_on(node)
    return {
        "storage": storage.storage,
        "type": storage.type,
        "content": ",".join(storage.content),
        "active": 1,
        "enabled": 1 if storage.enabled else 0,
        "shared": 1 if storage.shared else 0,
        "total": storage.total,
        "used": used,
        "avail": storage.total - used,
        "used_fraction": round(used / storage.total, 6) if storage.total else 0,
    }


def volume_item(volume: Volume) -> dict[str, object]:
    item: dict[str, object] = {
        "volid": volume.volid,
        "content": volume.content,
        "format": volume.format,
        "size": volume.size,
    }
    for key in ("ctime", "vmid", "used", "notes", "subtype"):
        value = getattr(volume, key)
        if value is not None:
            item[key] = value
    if volume.protected:
        item["protected"] = 1
    return item


def pool_entry(pool: Pool) -> dict[str, object]:
    return {"id": f"/pool/{pool.poolid}", "type": "pool", "pool": pool.poolid}


def sdn_entry(node: str) -> dict[str, object]:
    return {"id": f"sdn/{node}/localnetwork", "type": "sdn", "sdn": "localnetwork", "node": node, "status": "ok"}
