"""What runs a tool once it has passed the checks: the generic REST handler, and named composites."""

from __future__ import annotations

from typing import Any

from pvemcp.pve import wire
from pvemcp.server.call import Call, Handler, api_params
from pvemcp.server.composites import HANDLERS as COMPOSITES
from pvemcp.server.composites import PRECHECKS


async def rest(call: Call) -> Any:
    """Expand the path from the arguments; send the rest as query or form parameters."""
    spec = call.spec
    path_values = {name: call.args[name] for name in spec.placeholders}
    data = await call.client.request(spec.method, wire.expand_path(spec.path, path_values), api_params(call))
    if spec.returns_task and isinstance(data, str):
        return {"upid": data}  # the dispatch path waits for the task (server/waiting.py)
    return data


GUEST_FIELDS = ("vmid", "name", "node", "status", "cpu", "maxcpu", "mem", "maxmem", "uptime", "template", "tags")


async def legacy_list_guests(call: Call) -> Any:
    """listVMs/listContainers: one cluster-wide read, filtered here (nandi made one call per node)."""
    rows = await call.client.get("/cluster/resources", {"type": "vm"})
    node = call.args.get("node")
    return [
        {k: row[k] for k in GUEST_FIELDS if k in row}
        for row in rows
        if row.get("type") == call.spec.category and (node is None or row.get("node") == node)
    ]


HANDLERS: dict[str, Handler] = {
    "rest": rest,
    "legacy_list_guests": legacy_list_guests,
    **COMPOSITES,
}

__all__ = ["HANDLERS", "PRECHECKS"]
