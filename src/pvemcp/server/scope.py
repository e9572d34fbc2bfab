"""Scoping: which nodes and guests this server may touch at all (PVE_ALLOWED_NODES, PVE_ALLOWED_VMIDS,
PVE_PROTECTED_TAG), the refusals it answers with, and what lists show.

What a request names is worked out in server/reach.py, and the guard in server/guard.py decides with the
`Scope` below. Cluster-wide objects (users, tokens, ACLs, realms, storage definitions, the datacenter firewall,
pools themselves, backup jobs as such) are neither guests nor nodes: the scope does not restrict them, only
the guests and nodes a call names through them. HA resources (vm:100) and replication jobs (100-0) name their
guest inside their ID. Ceph and SDN objects are cluster-wide; a node scope still decides where a per-node read
runs, and SDN apply, which runs on every node, needs a server without a node scope.

- Lists drop every row that names an out-of-scope guest or node, nested lists included; rows naming a
  guest only by VMID (archives) need `guest_homes` to be dropped for a guest on an out-of-scope node.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, PveMcpError, ToolCallError, api_error
from pvemcp.pve.upid import Upid, parse_upid
from pvemcp.server.resolve import GuestRef, Locator

DEFAULT_PROTECTED_TAG = "pvemcp-protected"


@dataclass(frozen=True, slots=True)
class Scope:
    """nodes/vmids None: no restriction. vmids holds inclusive (low, high) ranges."""

    nodes: frozenset[str] | None = None
    vmids: tuple[tuple[int, int], ...] | None = None
    protected_tag: str | None = DEFAULT_PROTECTED_TAG

    @property
    def restricted(self) -> bool:
        return self.nodes is not None or self.vmids is not None

    def allows_node(self, node: str) -> bool:
        return self.nodes is None or node in self.nodes

    def allows_vmid(self, vmid: int) -> bool:
        return self.vmids is None or any(low <= vmid <= high for low, high in self.vmids)

    def protects(self, guest: GuestRef) -> bool:
        tag = (self.protected_tag or "").lower()
        return bool(tag) and tag in (t.lower() for t in guest.tags)

    def describe_vmids(self) -> str:
        return ",".join(f"{low}-{high}" if high > low else str(low) for low, high in self.vmids or ())

    def describe_nodes(self) -> str:
        return ",".join(sorted(self.nodes or ())) or "(none)"


def parse_scope(nodes: str | None, vmids: str | None, tag: str | None) -> tuple[Scope, list[str]]:
    """The scope from its three settings, and every problem found in them."""
    problems: list[str] = []
    node_set: frozenset[str] | None = None
    if nodes is not None and nodes.strip():
        names = [n.strip() for n in nodes.split(",") if n.strip()]
        bad = [n for n in names if not n.replace("-", "").replace(".", "").isalnum()]
        if bad:
            problems.append(f"PVE_ALLOWED_NODES has invalid node names: {', '.join(bad)}")
        node_set = frozenset(names)
    ranges: list[tuple[int, int]] | None = None
    if vmids is not None and vmids.strip():
        ranges = []
        for item in (i.strip() for i in vmids.split(",")):
            if not item:
                continue
            low_text, _, high_text = item.partition("-")
            # int() also reads '١٠٦' as 106: a scope is written in ASCII digits
            if not all(t.strip().isascii() and t.strip().isdigit() for t in (low_text, high_text or low_text)):
                problems.append(f"PVE_ALLOWED_VMIDS: {item!r} is not a VMID or a range like 100-199")
                continue
            low = int(low_text)
            high = int(high_text) if high_text else low
            if low < 100 or high < low:
                problems.append(f"PVE_ALLOWED_VMIDS: {item!r} must be VMIDs from 100 up, low-high with low <= high")
                continue
            ranges.append((low, high))
    protected = DEFAULT_PROTECTED_TAG if tag is None else (tag.strip() or None)
    return Scope(node_set, tuple(ranges) if ranges is not None else None, protected), problems


# Refusals and the answers an unknown guest, node or task gets.


def not_found_guest(vmid: int) -> ToolCallError:
    """Word for word what GuestLocator says about a VMID the cluster does not have."""
    return ToolCallError(
        ErrorCode.GUEST_NOT_FOUND,
        f"No VM or container with VMID {vmid} exists in the cluster.",
        "List guests with pve_list_cluster_resources (type vm) and use one of their vmids.",
    )


def unknown_node(node: str) -> PveMcpError:
    """What Proxmox answers for a node the cluster does not have."""
    message = f"hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"
    return api_error(ErrorCode.PROXMOX_NOT_FOUND, message, status=500)


def unknown_task() -> PveMcpError:
    """What Proxmox answers for a UPID it does not know (pve/wire.py classifies it TASK_NOT_FOUND)."""
    return api_error(
        ErrorCode.TASK_NOT_FOUND,
        "Parameter verification failed: upid: no such task",
        status=400,
        details={"errors": {"upid": "no such task"}},
    )


def _refusal(setting: str, allowed: str, subject: str, argument: str, use: str, **details: Any) -> ToolCallError:
    key = "allowed_vmids" if setting == "PVE_ALLOWED_VMIDS" else "allowed_nodes"
    return ToolCallError(
        ErrorCode.OUT_OF_SCOPE,
        f"{subject} ({argument}) is outside this server's scope: {setting}={allowed}.",
        f"Use {use} {allowed}. Only an administrator can widen {setting}.",
        details={"argument": argument, **details, key: allowed},
    )


def vmid_out_of_scope(scope: Scope, vmid: int, argument: str) -> ToolCallError:
    allowed = scope.describe_vmids()
    return _refusal("PVE_ALLOWED_VMIDS", allowed, f"VMID {vmid}", argument, "a guest or new ID within", vmid=vmid)


def node_out_of_scope(scope: Scope, node: str, argument: str) -> ToolCallError:
    return _refusal("PVE_ALLOWED_NODES", scope.describe_nodes(), f"Node {node}", argument, "a node among", node=node)


def guest_out_of_scope(scope: Scope, vmid: int, argument: str) -> ToolCallError:
    """A guest on a node outside the scope: no name and no node, since a read of it says only "no such guest"."""
    allowed = scope.describe_nodes()
    return _refusal("PVE_ALLOWED_NODES", allowed, f"VMID {vmid}", argument, "a guest on a node among", vmid=vmid)


def protected(scope: Scope, guest: GuestRef, reached_by: str = "") -> ToolCallError:
    tool = "qm" if guest.type == "qemu" else "pct"
    rest = ";".join(t for t in guest.tags if t.lower() != str(scope.protected_tag).lower())
    return ToolCallError(
        ErrorCode.PROTECTED_GUEST,
        (f"{reached_by} reaches " if reached_by else "")
        + f"{guest.describe()}, which carries the tag '{scope.protected_tag}': pvemcp changes nothing on protected"
        " guests.",
        "Leave this guest alone, or ask an administrator: only they can lift the protection, by removing the tag"
        f" in the Proxmox web UI (the guest's Summary > Tags) or with `{tool} set {guest.vmid} --tags '{rest}'`.",
        details={"vmid": guest.vmid, "tag": scope.protected_tag},
    )


def vmid_list(text: str) -> Iterator[int]:
    """VMIDs in a result's comma-separated list (ASCII digits only, as Proxmox writes them)."""
    for item in re.split(r"[,;\s]+", text):
        if item.isascii() and item.isdigit():
            yield int(item)


# Results.

_GUEST_REF = re.compile(r"^(?:(?:vm|ct):)?(\d+)(?:-\d+)?$")
_GUEST_ID = re.compile(r"^(?:qemu|lxc)/(\d+)$|^(?:service:)?(?:vm|ct):(\d+)$")
_NODE_ID = re.compile(r"^(?:node|storage|sdn)/([^/]+)")
_VOLUME = re.compile(r"vzdump-(?:qemu|lxc|openvz)-(\d+)-|(?:vm|base|subvol)-(\d+)-disk")
_UPID_IN_TEXT = re.compile(
    r"UPID:[A-Za-z0-9][A-Za-z0-9.-]*:[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:[^:\s]+:[^:\s]*:[^:\s]+:"
)

VMID_KEYS = ("vmid", "guest")  # a guest's ID, or a comma-separated list of them (backup jobs)
NODE_KEYS = ("node",)
REPLICATION_NODE_KEYS = ("source", "target")  # node names in rows that carry a "guest"


def filter_result(scope: Scope, spec: ToolSpec, data: Any, homes: Mapping[int, str] | None = None) -> Any:
    """List results show only in-scope guests and nodes: rows naming others are dropped, at any depth.

    `homes` (vmid → node, from `guest_homes`) also drops rows that name a guest only by VMID, such as a
    backup archive, when that guest lives on a node outside the scope.
    """
    if not scope.restricted:
        return data
    return _prune(scope, data, homes or {})


async def guest_homes(scope: Scope, locator: Locator, data: Any) -> dict[int, str] | None:
    """Where the guests that rows name only by VMID live; needed with a node scope alone, None otherwise."""
    if scope.nodes is None:
        return None
    named = {vmid for row in _rows(data) if not any(_row_nodes(row)) for vmid in _row_vmids(row)}
    if not named:
        return {}
    guests = await locator.guests()  # a guest that is gone lives nowhere: its rows stay
    return {vmid: guests[vmid].node for vmid in named if scope.allows_vmid(vmid) and vmid in guests}


def _rows(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _rows(item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item
            yield from _rows(item)


def _prune(scope: Scope, value: Any, homes: Mapping[int, str]) -> Any:
    if isinstance(value, list):
        kept = (item for item in value if not (isinstance(item, dict) and _outside(scope, item, homes)))
        return [_prune(scope, item, homes) for item in kept]
    if isinstance(value, dict):
        return {k: _prune(scope, v, homes) if isinstance(v, list | dict) else v for k, v in value.items()}
    return value


def _outside(scope: Scope, row: Mapping[str, Any], homes: Mapping[int, str]) -> bool:
    """Whether a row names a guest or node outside the scope."""
    vmids = list(_row_vmids(row))
    nodes = [*_row_nodes(row), *(homes[v] for v in vmids if v in homes)]
    return any(not scope.allows_vmid(v) for v in vmids) or any(not scope.allows_node(n) for n in nodes)


def _row_vmids(row: Mapping[str, Any]) -> Iterator[int]:
    for key in VMID_KEYS:
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            yield value
        elif isinstance(value, str):
            yield from vmid_list(value)
    if "rule" in row and isinstance(row.get("resources"), str):  # an HA rule names its resources
        yield from (int(m.group(1)) for m in map(_GUEST_REF.match, row["resources"].split(",")) if m)
    for key, pattern in (("id", _GUEST_ID), ("sid", _GUEST_ID), ("volid", _VOLUME)):
        value = row.get(key)
        match = pattern.search(value) if isinstance(value, str) else None
        if match:
            yield int(next(g for g in match.groups() if g))
    for upid in _upids(row):
        if upid.id.isdigit():
            yield int(upid.id)


def _row_nodes(row: Mapping[str, Any]) -> Iterator[str]:
    keys = NODE_KEYS + (REPLICATION_NODE_KEYS if "guest" in row else ())
    yield from (row[key] for key in keys if isinstance(row.get(key), str))
    if "rule" in row and isinstance(row.get("nodes"), str):  # an HA node-affinity rule: node[:priority],...
        yield from (item.split(":")[0] for item in row["nodes"].split(",") if item)
    node_id = row.get("id")
    match = _NODE_ID.match(node_id) if isinstance(node_id, str) else None
    if match:
        yield match.group(1)
    yield from (upid.node for upid in _upids(row))


def _upids(row: Mapping[str, Any]) -> Iterator[Upid]:
    """The tasks a row names: its upid, or a UPID quoted in a log line (cluster log, syslog)."""
    for key in ("upid", "msg", "t"):
        value = row.get(key)
        if isinstance(value, str) and "UPID:" in value:
            for text in _UPID_IN_TEXT.findall(value):
                parsed = parse_upid(text)
                if parsed is not None:
                    yield parsed
