"""/version and /cluster: status, resources, next free VMID."""

from __future__ import annotations

from ..errors import fail, param_error
from ..params import VMID_FILTER, text
from ..render import encode, guest_resources_json, node_entry, pool_entry, sdn_entry, storage_entry
from ..routes import Call, RawJSON, Route

NEXTID_LOW, NEXTID_HIGH = 100, 1_000_000


def version(c: Call) -> object:
    s = c.state
    return {"version": s.pve_version, "release": s.release, "repoid": s.repoid}


def cluster_status(c: Call) -> object:
    """A real cluster lists itself first; a standalone node lists only itself, with nodeid 0."""
    nodes = list(c.state.nodes.values())
    clustered = len(nodes) > 1
    items: list[dict[str, object]] = []
    if clustered:
        online = sum(1 for n in nodes if n.online)
        items.append(
            {
                "type": "cluster",
                "id": "cluster",
                "name": c.state.cluster_name,
                "nodes": len(nodes),
                "quorate": 1 if online * 2 > len(nodes) else 0,
                "version": len(nodes) + 2,
            }
        )
    for node in nodes:
        items.append(
            {
                "type": "node",
                "id": f"node/{node.name}",
                "name": node.name,
                "nodeid": node.nodeid if clustered else 0,
                "ip": node.ip,
                "local": 1 if node.name == c.state.local_node else 0,
                "online": 1 if node.online else 0,
                "level": "",
            }
        )
    return items


def resources(c: Call) -> object:
    """Guests, nodes, storages (one per node), pools and SDN zones, as one encoded list."""
    kind = c.opt_text("type")
    state, now = c.state, c.now
    parts: list[str] = []
    if kind in (None, "vm"):
        guests = sorted(state.guests.values(), key=lambda g: g.vmid)
        parts += guest_resources_json(c.ctx, guests, now)
    if kind in (None, "node"):
        parts += [encode(node_entry(node, now)) for node in state.nodes.values()]
    if kind in (None, "storage"):
        for node in state.nodes.values():
            for storage in state.storages.values():
                if storage.available_on(node.name):
                    parts.append(encode(storage_entry(storage, node.name)))
    if kind is None:
        parts += [encode(pool_entry(pool)) for pool in state.pools.values()]
    if kind in (None, "sdn"):
        parts += [encode(sdn_entry(node.name)) for node in state.nodes.values() if node.online]
    return RawJSON("[" + ",".join(parts) + "]")


def nextid(c: Call) -> object:
    """PVE answers with a string on the wire, though the schema says integer; it does not reserve the id."""
    taken = c.state.guests
    wanted = c.opt_int("vmid")
    if wanted is not None:
        if wanted in taken:
            raise param_error({"vmid": f"VM {wanted} already exists"})
        return str(wanted)
    for vmid in range(NEXTID_LOW, NEXTID_HIGH):
        if vmid not in taken:
            return str(vmid)
    raise fail(f"unable to get any free VMID in range [{NEXTID_LOW}, {NEXTID_HIGH}]")


ROUTES = (
    Route("GET", "/version", (), version),
    Route("GET", "/cluster/status", (), cluster_status),
    Route("GET", "/cluster/resources", (text("type", enum=("vm", "storage", "node", "sdn")),), resources),
    Route("GET", "/cluster/nextid", (VMID_FILTER,), nextid),
)
