"""MCP resources: the inventory, each node's status and each guest's config and status, read-only.

A client (or its user) can attach these as context without a tool call. They read through the same
client and answer within the caller's scope, as tools do: a guest or node outside it is unknown, and
the inventory lists only what lies inside. Every tier reads, so every caller gets them. Completions
offer the caller's guests and nodes for `vmid` and `node`, in resource templates and prompts alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from pvemcp.catalog import BY_NAME
from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, PveMcpError
from pvemcp.server.scope import filter_result, guest_homes, not_found_guest, unknown_node
from pvemcp.server.validation import identifier_problem

if TYPE_CHECKING:
    from pvemcp.server.dispatch import Runtime

JSON = "application/json"
INVENTORY = "pve://cluster/resources"
NODE_STATUS = "pve://node/{node}/status"
GUEST_CONFIG = "pve://guest/{vmid}/config"
GUEST_STATUS = "pve://guest/{vmid}/status"
MAX_COMPLETIONS = 100  # the protocol's cap on values per answer
NOT_FOUND = frozenset({ErrorCode.GUEST_NOT_FOUND, ErrorCode.PROXMOX_NOT_FOUND, ErrorCode.TOOL_INPUT_REJECTED})
_URI = re.compile(
    r"^pve://(?:cluster/resources|node/(?P<node>[^/]+)/status|guest/(?P<vmid>[^/]+)/(?P<what>config|status))$"
)

TEMPLATES = [
    types.ResourceTemplate(
        name="node-status",
        title="Node status",
        uri_template=NODE_STATUS,
        description="One node's CPU, memory, load, uptime, kernel and PVE version.",
        mime_type=JSON,
    ),
    types.ResourceTemplate(
        name="guest-config",
        title="Guest configuration",
        uri_template=GUEST_CONFIG,
        description="A VM's or container's configuration (disks, network, CPU, memory, options), by VMID.",
        mime_type=JSON,
    ),
    types.ResourceTemplate(
        name="guest-status",
        title="Guest status",
        uri_template=GUEST_STATUS,
        description="A VM's or container's current state and usage (CPU, memory, disk, network, uptime), by VMID.",
        mime_type=JSON,
    ),
]
INVENTORY_RESOURCE = types.Resource(
    name="cluster-resources",
    title="Cluster inventory",
    uri=INVENTORY,
    description="Every node, guest and storage of the cluster with state and usage, as one JSON list.",
    mime_type=JSON,
)


def mcp_error(error: PveMcpError) -> MCPError:
    """A failure as an MCP error: Proxmox's words as the message, pvemcp's code and hint as data."""
    code = types.INVALID_PARAMS if error.code in NOT_FOUND else types.INTERNAL_ERROR
    return MCPError(code, error.message, error.to_payload())


def unknown_resource(uri: str) -> MCPError:
    return MCPError(
        types.INVALID_PARAMS,
        f"Unknown resource: {uri[:200]}",
        {"hint": f"Read {INVENTORY}, or a resources/templates/list template such as {GUEST_CONFIG}."},
    )


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


async def in_scope_nodes(runtime: Runtime) -> list[str]:
    """The caller's nodes, from one read of /nodes."""
    rows = await runtime.client.get("/nodes")
    names = [str(r["node"]) for r in rows if isinstance(r, dict) and r.get("node")] if isinstance(rows, list) else []
    return sorted(n for n in names if runtime.scope.allows_node(n))


async def in_scope_vmids(runtime: Runtime) -> list[int]:
    guests = await runtime.locator.guests()
    scope = runtime.scope
    return sorted(v for v, g in guests.items() if scope.allows_vmid(v) and scope.allows_node(g.node))


async def listing(runtime: Runtime) -> list[types.Resource]:
    """The inventory, and each node's status: a handful of fixed resources (guests come from templates)."""
    resources = [INVENTORY_RESOURCE]
    for node in await in_scope_nodes(runtime):
        resources.append(
            types.Resource(
                name=f"node-{node}-status",
                title=f"Node {node} status",
                uri=NODE_STATUS.replace("{node}", node),
                description=f"Node {node}: CPU, memory, load, uptime, kernel and PVE version.",
                mime_type=JSON,
            )
        )
    return resources


async def read(runtime: Runtime, uri: str) -> types.ReadResourceResult:
    """Read one resource within the caller's scope; an out-of-scope guest or node is unknown."""
    match = _URI.match(uri)
    if match is None:
        raise unknown_resource(uri)
    try:
        if match["vmid"] is not None:
            data = await _guest(runtime, match["vmid"], match["what"])
        elif match["node"] is not None:
            data = await _node(runtime, match["node"])
        else:
            data = await _inventory(runtime)
    except PveMcpError as exc:
        raise mcp_error(exc) from None
    return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, mime_type=JSON, text=_compact(data))])


async def _inventory(runtime: Runtime) -> Any:
    data = await runtime.client.get("/cluster/resources")
    spec = BY_NAME["pve_list_cluster_resources"]
    return filter_result(runtime.scope, spec, data, await guest_homes(runtime.scope, runtime.locator, data))


async def _node(runtime: Runtime, node: str) -> Any:
    problem = identifier_problem(node)
    if problem is not None:
        raise PveMcpError(ErrorCode.TOOL_INPUT_REJECTED, f"Node name {problem}.", "Use a node name from the inventory.")
    if not runtime.scope.allows_node(node):
        raise unknown_node(node)
    return await runtime.client.get(wire.expand_path("/nodes/{node}/status", {"node": node}))


async def _guest(runtime: Runtime, text: str, what: str) -> Any:
    if not text.isdigit() or not 100 <= int(text) <= 999_999_999:
        raise PveMcpError(
            ErrorCode.TOOL_INPUT_REJECTED, f"{text[:40]!r} is not a VMID.", "Use a guest's VMID, e.g. 100."
        )
    vmid, scope = int(text), runtime.scope
    if not scope.allows_vmid(vmid):
        raise not_found_guest(vmid)
    ref = await runtime.locator.locate(vmid)
    if not scope.allows_node(ref.node):
        raise not_found_guest(vmid)
    path = "/nodes/{node}/{kind}/{vmid}/" + ("config" if what == "config" else "status/current")
    return await runtime.client.get(wire.expand_path(path, {"node": ref.node, "kind": ref.type, "vmid": vmid}))


async def complete(runtime: Runtime, params: types.CompleteRequestParams) -> types.Completion:
    """The caller's VMIDs or node names that start with what was typed; nothing for other arguments."""
    name, typed = params.argument.name, params.argument.value
    try:
        if name == "vmid":
            values = [str(v) for v in await in_scope_vmids(runtime)]
        elif name == "node":
            values = await in_scope_nodes(runtime)
        else:
            values = []
    except PveMcpError as exc:
        raise mcp_error(exc) from None
    found = [v for v in values if v.startswith(typed)]
    shown = found[:MAX_COMPLETIONS]
    return types.Completion(values=shown, total=len(found), has_more=len(found) > len(shown))


View = Callable[[ServerRequestContext[Any]], "Runtime"]


class ResourceHandlers:
    """The low-level Server's resource and completion handlers, each for the caller's own view."""

    def __init__(self, view: View) -> None:
        self._view = view

    async def list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        try:
            resources = await listing(self._view(ctx))
        except PveMcpError as exc:
            raise mcp_error(exc) from None
        return types.ListResourcesResult(resources=resources)

    async def list_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=TEMPLATES)

    async def read(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await read(self._view(ctx), params.uri)

    async def complete(
        self, ctx: ServerRequestContext[Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        return types.CompleteResult(completion=await complete(self._view(ctx), params))
