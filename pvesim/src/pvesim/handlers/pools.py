"""Resource pools (/pools), following PVE::API2::Pool; a guest's membership is ``Guest.pool``."""

from __future__ import annotations

import json

from ..errors import fail, param_error
from ..params import flag, split_list, text
from ..render import guest_resources_json, storage_entry
from ..routes import Call, Route
from ..state.records import Pool


def _pool(c: Call, prefix: str) -> Pool:
    poolid = c.text("poolid")
    pool = c.state.pools.get(poolid)
    if pool is None:
        raise fail(f"{prefix}pool '{poolid}' does not exist")
    return pool


def _members(c: Call, pool: Pool, kind: str | None) -> list[object]:
    """Guests as /cluster/resources shows them, then storages as seen from the local node."""
    guests = sorted((g for g in c.state.guests.values() if g.pool == pool.poolid), key=lambda g: g.vmid)
    guests = [g for g in guests if kind in (None, g.type)]
    members: list[object] = [json.loads(text) for text in guest_resources_json(c.ctx, guests, c.now)]
    if kind in (None, "storage"):
        for storeid in sorted(pool.storages):
            storage = c.state.storages.get(storeid)
            if storage is None:
                continue
            node = c.state.local_node
            if storage.nodes is not None and node not in storage.nodes:
                node = sorted(storage.nodes)[0]
            members.append(storage_entry(storage, node))
    return members


def pool_index(c: Call) -> object:
    """All pools, or with poolid the one pool and its members."""
    kind = c.opt_text("type")
    if c.opt_text("poolid") is None:
        if kind is not None:
            raise param_error({"poolid": "missing property - 'type' requires this property"})
        return [_entry(pool) for pool in sorted(c.state.pools.values(), key=lambda p: p.poolid)]
    pool = _pool(c, "")
    return [{**_entry(pool), "members": _members(c, pool, kind)}]


def _entry(pool: Pool) -> dict[str, object]:
    entry: dict[str, object] = {"poolid": pool.poolid}
    if pool.comment:
        entry["comment"] = pool.comment
    return entry


def pool_create(c: Call) -> object:
    poolid = c.text("poolid")
    if poolid in c.state.pools:
        raise fail(f"create pool failed: pool '{poolid}' already exists")
    c.state.pools[poolid] = Pool(poolid, c.opt_text("comment") or "")
    return None


def pool_update(c: Call) -> object:
    """Checks every member first, so a refused request changes nothing (PVE writes user.cfg once)."""
    prefix = "update pools failed: "
    pool = _pool(c, prefix)
    delete, move = c.flag("delete"), c.flag("allow-move")
    guests = [int(v) for v in split_list(c.opt_text("vms") or "")]
    storages = split_list(c.opt_text("storage") or "")
    for vmid in guests:
        guest = c.state.guests.get(vmid)
        current = guest.pool if guest is not None else None
        if delete and current != pool.poolid:
            raise fail(f"{prefix}VM {vmid} is not a pool member")
        if not delete and current == pool.poolid:
            raise fail(f"{prefix}VM {vmid} is already a pool member")
        if not delete and current is not None and not move:
            raise fail(f"{prefix}VM {vmid} belongs already to pool '{current}' and 'allow-move' is not set")
    for storeid in storages:
        if delete and storeid not in pool.storages:
            raise fail(f"{prefix}Storage '{storeid}' is not a pool member")
        if not delete and storeid in pool.storages:
            raise fail(f"{prefix}Storage '{storeid}' is already a pool member")
    if c.opt_text("comment") is not None:
        pool.comment = c.text("comment")
    for vmid in guests:
        guest = c.state.guests.get(vmid)
        if guest is not None:  # PVE records unknown IDs too; they never show as members
            guest.pool = None if delete else pool.poolid
    for storeid in storages:
        if delete:
            pool.storages.remove(storeid)
        else:
            pool.storages.append(storeid)
    return None


def pool_delete(c: Call) -> object:
    prefix = "delete pool failed: "
    pool = _pool(c, prefix)
    for guest in sorted(c.state.guests.values(), key=lambda g: g.vmid):
        if guest.pool == pool.poolid:
            raise fail(f"{prefix}pool '{pool.poolid}' is not empty (contains VM {guest.vmid})")
    for storeid in sorted(pool.storages):
        if storeid in c.state.storages:
            raise fail(f"{prefix}pool '{pool.poolid}' is not empty (contains storage '{storeid}')")
    del c.state.pools[pool.poolid]
    return None


POOLID = text("poolid", optional=False, format="pve-poolid")

ROUTES = (
    Route(
        "GET",
        "/pools",
        (text("poolid", format="pve-poolid"), text("type", enum=("qemu", "lxc", "storage"))),
        pool_index,
    ),
    Route("POST", "/pools", (POOLID, text("comment")), pool_create),
    Route(
        "PUT",
        "/pools",
        (
            POOLID,
            flag("allow-move"),
            text("comment"),
            flag("delete"),
            text("storage", format="pve-storage-id-list"),
            text("vms", format="pve-vmid-list"),
        ),
        pool_update,
    ),
    Route("DELETE", "/pools", (POOLID,), pool_delete),
)
