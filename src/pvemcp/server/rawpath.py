"""The raw API's path and parameters (pve_api_get, pve_api_call): their shape, and what they name.

A raw call names its endpoint as an argument, so nothing in the catalog vouches for it. The path must
look like a Proxmox API path (segments of safe characters; no `..`, empty segment, query, fragment,
percent-escape, whitespace, absolute URL or `/api2` prefix), and the parameters must be flat
values. The scope then applies to the node, guest or task the path names, and, for writes, to the
nodes and guests its parameters name, exactly as it does for catalog tools (server/scope.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.server import scope as scoping
from pvemcp.server.resolve import GuestLocator, GuestRef

MAX_PATH = 1024
MAX_PARAMS = 100
SEGMENT = re.compile(r"[A-Za-z0-9._:@!+=-]+")
PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(?:\[n\])?")
GUEST_KINDS = ("qemu", "lxc")
_HA_SID = re.compile(r"^(?:(?:vm|ct):)?(\d+)$")
_REPLICATION_ID = re.compile(r"^(\d+)-\d+$")
_GUEST_VOLUME = re.compile(r"(?:vzdump-(?:qemu|lxc)-|(?:vm|base|subvol)-)(\d+)-")

# Parameters through which a write names nodes or guests (the raw counterpart of scope.reach).
NODE_PARAMS = ("node", "target")
GUEST_PARAMS = ("vmid", "newid", "vms", "sid", "guest")
HINT = "Pass a Proxmox API path such as /nodes/pve1/qemu/100/config, without /api2/json, query or fragment."


def rejected(message: str, hint: str = HINT) -> ToolCallError:
    return ToolCallError(ErrorCode.TOOL_INPUT_REJECTED, message, hint)


def path_problem(path: str) -> str | None:
    """Why `path` is not a Proxmox API path, or None when it is one."""
    if not path.startswith("/"):
        return "must start with '/'"
    if path.startswith("//") or "://" in path:
        return "must be a path on this cluster, not a URL"
    if len(path) > MAX_PATH:
        return f"must be at most {MAX_PATH} characters"
    segments = path[1:].split("/")
    if segments[0] == "api2":
        return "must not start with /api2: name the path below /api2/json"
    for segment in segments:
        if not segment:
            return "must not hold empty segments ('//' or a trailing '/')"
        if set(segment) == {"."}:
            return "must not hold '.' or '..' segments"
        if not SEGMENT.fullmatch(segment):
            bad = next(c for c in segment if not SEGMENT.fullmatch(c))
            return f"may only hold letters, digits and . _ : @ ! + = - between slashes (found {bad!r})"
    return None


def checked_path(path: str) -> list[str]:
    """The path's segments; TOOL_INPUT_REJECTED when it is not a Proxmox API path."""
    problem = path_problem(path)
    if problem is not None:
        raise rejected(f"path {problem} (got {path[:80]!r}).")
    return path[1:].split("/")


def checked_params(params: Any) -> dict[str, Any]:
    """The request's parameters: names as Proxmox spells them, values strings, numbers, booleans or lists of those."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise rejected("params must be an object.", "Pass params as {name: value}.")
    if len(params) > MAX_PARAMS:
        raise rejected(f"params may hold at most {MAX_PARAMS} entries.", "Split the request.")
    hint = "Pass params as {name: value}, with the parameter names of the Proxmox API; values flat."
    for name, value in params.items():
        if not PARAM_NAME.fullmatch(name):
            raise rejected(f"params: {name[:80]!r} is not a Proxmox parameter name.", hint)
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str | int | float | bool) for item in items):
            raise rejected(f"params.{name} must be a string, number, boolean or a list of those.", hint)
        if any(isinstance(item, str) and has_control(item) for item in items):
            raise rejected(f"params.{name} must not contain control characters.", hint)
    return dict(params)


def has_control(text: str) -> bool:
    """Control characters other than newline and tab (descriptions and scripts may span lines)."""
    return any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in text)


def method_of(spec: ToolSpec, args: Mapping[str, Any]) -> str:
    return str(args.get("method") or spec.method)


def raw_request(spec: ToolSpec, args: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(method, path, params) of a raw call, checked."""
    path = str(args.get("path", ""))
    checked_path(path)
    return method_of(spec, args), path, checked_params(args.get("params"))


@dataclass(frozen=True, slots=True)
class Named:
    """What a raw path names: a node, a guest, a task."""

    node: str | None = None
    vmid: int | None = None
    upid: str | None = None


def named(segments: list[str]) -> Named:
    """The node, guest and task a path names: /nodes/{node}/{qemu|lxc}/{vmid}/..., /nodes/{node}/tasks/{upid},
    a guest's volume under a storage's content, an HA resource (vm:100) or a replication job (100-0)."""
    node = segments[1] if len(segments) > 1 and segments[0] == "nodes" else None
    vmid: int | None = None
    upid: str | None = None
    if node is not None and len(segments) > 3:
        kind, ident = segments[2], segments[3]
        if kind in GUEST_KINDS and ident.isdigit():
            vmid = int(ident)
        elif kind == "tasks":
            upid = ident
        elif kind == "storage" and len(segments) > 5 and segments[4] == "content":
            match = _GUEST_VOLUME.search(segments[5])
            vmid = int(match.group(1)) if match else None
    elif segments[:3] == ["cluster", "ha", "resources"] and len(segments) > 3:
        match = _HA_SID.match(segments[3])
        vmid = int(match.group(1)) if match else None
    elif segments[:2] == ["cluster", "replication"] and len(segments) > 2:
        match = _REPLICATION_ID.match(segments[2])
        vmid = int(match.group(1)) if match else None
    return Named(node, vmid, upid)


async def guard_raw(
    scope: scoping.Scope, locator: GuestLocator, spec: ToolSpec, args: Mapping[str, Any]
) -> GuestRef | None:
    """The scope for a raw call; the guest it acts on, or None. Reads of what lies outside answer like unknown."""
    _, path, params = raw_request(spec, args)
    write = not spec.read_only
    where = named(path[1:].split("/"))
    target: GuestRef | None = None
    if where.node is not None and not scope.allows_node(where.node):
        raise scoping.node_out_of_scope(scope, where.node, "path") if write else scoping.unknown_node(where.node)
    if where.vmid is not None and (write or scope.restricted):  # unrestricted reads: Proxmox answers itself
        target = await _path_guest(scope, locator, where.vmid, write)
    if where.upid is not None:
        await scoping._task(scope, locator, where.upid, write)
    if write:
        if path == "/cluster/replication" and isinstance(params.get("id"), str):  # a new job: "<vmid>-<n>"
            match = _REPLICATION_ID.match(params["id"])
            if match:
                target = await scoping._named_guest(scope, locator, int(match.group(1)), "params.id") or target
        target = await _param_reach(scope, locator, params) or target
    return target


async def _path_guest(scope: scoping.Scope, locator: GuestLocator, vmid: int, write: bool) -> GuestRef:
    """The guest a path names: like a catalog tool's own guest (unknown when outside, for reads)."""
    if not scope.allows_vmid(vmid):
        raise scoping.vmid_out_of_scope(scope, vmid, "path") if write else scoping.not_found_guest(vmid)
    ref = await locator.locate(vmid, fresh=write)
    if not scope.allows_node(ref.node):
        raise scoping.node_out_of_scope(scope, ref.node, "path", ref) if write else scoping.not_found_guest(vmid)
    if write and scope.protects(ref):
        raise scoping.protected(scope, ref)
    return ref


async def _param_reach(scope: scoping.Scope, locator: GuestLocator, params: Mapping[str, Any]) -> GuestRef | None:
    """Nodes and guests a write's parameters name: a migration's target, a clone's newid, a backup's vmid list."""
    target: GuestRef | None = None
    for name in NODE_PARAMS:
        value = params.get(name)
        if isinstance(value, str) and not scope.allows_node(value):
            raise scoping.node_out_of_scope(scope, value, f"params.{name}")
    if _truthy(params.get(scoping.ALL_GUESTS_ARG)) and scope.restricted:
        raise ToolCallError(
            ErrorCode.OUT_OF_SCOPE,
            "all=1 would reach guests outside this server's scope (PVE_ALLOWED_NODES or PVE_ALLOWED_VMIDS is set).",
            "Name the guests instead, e.g. vmid=101,102, each within the scope.",
            details={"argument": "params.all"},
        )
    for name in GUEST_PARAMS:
        value = params.get(name)
        for vmid in _guest_ids(name, value):
            target = await scoping._named_guest(scope, locator, vmid, f"params.{name}") or target
    upid = params.get(scoping.TASK_ARG)
    if isinstance(upid, str):
        await scoping._task(scope, locator, upid, True)
    return target


def _guest_ids(name: str, value: Any) -> list[int]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [value]
    texts = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if name == "sid":
        return [int(m.group(1)) for m in map(_HA_SID.match, texts) if m]
    return [vmid for text in texts for vmid in scoping._vmids(text)]


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, int | str) and str(value).strip() == "1")
