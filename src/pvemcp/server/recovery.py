"""What an assistant needs to recover from a failed call: the names that do exist, and partial successes.

Proxmox says "hostname lookup 'pve9' failed" for a node the cluster does not have and "Configuration file
... does not exist" for a guest on another node; neither says what to use instead. `explain` reads what
exists (the nodes once, the guests when a guest's node was wrong) and puts it in the hint. It sees only what
the scope allows, so an out-of-scope node or guest still reads exactly like one that does not exist.

A composite that writes and then reads (the pending changes after a config change, a rule as listed after
creating it) has already changed the cluster when the read fails; `read_after_write` turns that failure into
a warning in the result, so that the assistant does not retry a change that was made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, PveMcpError
from pvemcp.pve.upid import parse_upid
from pvemcp.pve.upstream import Upstream
from pvemcp.server.rawpath import raw_request
from pvemcp.server.reach import Named, Reach, catalog_reach, raw_reach
from pvemcp.server.scope import Scope

T = TypeVar("T")

LIST_GUESTS = {"tool": "pve_list_cluster_resources", "arguments": {"type": "vm"}}
LIST_GUESTS_HINT = "List guests with pve_list_cluster_resources (type vm) and use one of their vmids."


async def explain(
    error: PveMcpError, spec: ToolSpec, args: Mapping[str, Any], client: Upstream, scope: Scope | None = None
) -> PveMcpError:
    """The error with a hint naming what exists, when a node or guest the call names does not; else as it was.

    A not-found (PROXMOX_NOT_FOUND: a node Proxmox cannot resolve, a guest config missing on that node) gets
    the cluster's nodes, or the node the guest is really on; GUEST_NOT_FOUND gets how to list guests. Reading
    what exists may fail too: then the original error stands. Never raises.
    """
    scope = scope or Scope()
    try:
        if error.code is ErrorCode.GUEST_NOT_FOUND:
            return _with(error, _hint_listing_guests(error.hint), next=LIST_GUESTS)
        if error.code is ErrorCode.PROXMOX_NOT_FOUND:
            reach = _reach(spec, args)
            return await _unknown_node(error, reach, client, scope) or await _guest_elsewhere(
                error, reach, client, scope
            )
    except PveMcpError:
        pass  # what exists could not be read (or the arguments name nothing readable): say what Proxmox said
    return error


def _reach(spec: ToolSpec, args: Mapping[str, Any]) -> Reach:
    if spec.raw:
        method, path, params = raw_request(spec, args)
        return raw_reach(method, path, params)
    return catalog_reach(spec, args)


def _named_nodes(reach: Reach) -> list[Named]:
    """The nodes a call names: the node inside each UPID first (the node argument defaults to it), then the
    arguments and the path."""
    nodes = []
    for task in reach.tasks:
        upid = parse_upid(str(task.value))
        if upid is not None:
            nodes.append(Named(upid.node, f"upid:{task.via}"))
    return nodes + list(reach.nodes)


async def _unknown_node(error: PveMcpError, reach: Reach, client: Upstream, scope: Scope) -> PveMcpError | None:
    named = _named_nodes(reach)
    if not named:
        return None
    rows = await client.get("/nodes")
    members = {
        str(row["node"]): row.get("status") == "online"
        for row in (rows if isinstance(rows, list) else [])
        if isinstance(row, dict) and row.get("node") and scope.allows_node(str(row["node"]))
    }
    missing = next((n for n in named if str(n.value) not in members), None)
    if missing is None:
        return None
    names = sorted(members)
    listed = ", ".join(name if members[name] else f"{name} (offline)" for name in names) or "(none)"
    if missing.via.startswith("upid:"):
        hint = (
            f"The UPID names node '{missing.value}', which is not in this cluster: the task ran on another"
            f" cluster, or the UPID was mistyped. This cluster's nodes: {listed}."
        )
    else:
        hint = f"Node '{missing.value}' ({missing.via}) is not in this cluster. Its nodes: {listed}; pass one of them."
    return _with(error, hint, nodes=names)


async def _guest_elsewhere(error: PveMcpError, reach: Reach, client: Upstream, scope: Scope) -> PveMcpError:
    """A guest path on an existing node that Proxmox does not find: the guest is elsewhere, or gone."""
    path_nodes = [n for n in reach.nodes if n.via in ("path", "node")]  # a raw path, or a tool's {node}
    if reach.own is None or not path_nodes:
        return error
    vmid, node = int(reach.own.value), str(path_nodes[0].value)
    rows = await client.get("/cluster/resources", {"type": "vm"})
    row = next(
        (r for r in (rows if isinstance(rows, list) else []) if isinstance(r, dict) and r.get("vmid") == vmid), None
    )
    home = str(row.get("node")) if row is not None else None
    if home is None or not scope.allows_vmid(vmid) or not scope.allows_node(home):
        return _with(error, f"No guest with VMID {vmid} exists in the cluster. {LIST_GUESTS_HINT}", next=LIST_GUESTS)
    if home == node:
        return error  # the guest is there: something else (a snapshot, a disk, a storage) is missing
    return _with(
        error,
        f"VMID {vmid} is on node {home}, not {node}: call again with node {home}, or leave node out and pvemcp"
        " finds the guest's node itself.",
        node=home,
    )


def _hint_listing_guests(hint: str) -> str:
    if "pve_list_cluster_resources" in hint:
        return hint
    return f"{hint} {LIST_GUESTS_HINT}".strip()


def _with(error: PveMcpError, hint: str, **details: Any) -> PveMcpError:
    """A copy of the error (same class, code, message, status) with this hint and more details."""
    explained = type(error)(
        error.code,
        error.message,
        hint,
        status=error.status,
        details={**(error.details or {}), **details},
    )
    explained.__cause__ = error.__cause__
    return explained


async def read_after_write(read: Awaitable[T], what: str, instead: str) -> tuple[T | None, str | None]:
    """Await a read that follows a write already made: (its value, None), or (None, a warning) if it fails.

    what: what was being read ("the pending changes"); instead: how the assistant can read it itself.
    """
    try:
        return await read, None
    except PveMcpError as exc:
        return None, (
            f"The change was made, but reading {what} afterwards failed ({exc.code}: {exc.message}). Do not"
            f" repeat the change; {instead}"
        )
