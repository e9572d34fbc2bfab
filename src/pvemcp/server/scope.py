"""Scoping: which nodes and guests this server may touch at all (PVE_ALLOWED_NODES, PVE_ALLOWED_VMIDS,
PVE_PROTECTED_TAG). Applied on the one dispatch path, after validation and before confirmation.

- Writes that name a guest or node outside the scope are refused with OUT_OF_SCOPE, naming the setting;
  writes that name a guest carrying the protected tag are refused with PROTECTED_GUEST. The guest is read
  fresh from the cluster, so a tag or a migration a moment ago counts.
- Reads of an out-of-scope guest, node or task get the very answer an unknown one gets, so the scope does
  not reveal what lies outside it (a task log, which Proxmox answers with a line, gets "no such task").
  Protected guests may be read.
- Lists drop every row that names an out-of-scope guest or node, nested lists included; rows naming a
  guest only by VMID (archives) need `guest_homes` to be dropped for a guest on an out-of-scope node.
- all=true (vzdump, backup jobs) is refused under a VMID scope, and for a whole-cluster job under a node
  scope; it does not look for protected guests, which only calls naming them are refused for.
- Cluster-wide objects (users, tokens, ACLs, realms, storage definitions, the datacenter firewall, pools
  themselves, backup jobs as such) are neither guests nor nodes: the scope does not restrict them. Only the
  guest IDs a call hands them (a pool's `vms`, a backup job's `vmid` or `all`) are checked.
- HA resources (`sid` vm:100) and replication jobs (`id` 100-0) name their guest inside the ID: writes
  treat it as a named guest, reads of an out-of-scope one answer like an unknown guest. HA rule rows
  name guests in `resources` and nodes in `nodes`.
- Ceph is one service spanning the nodes: its health, OSD tree and monitors are reported whole (a node
  scope still decides which node a per-node Ceph read may run on). SDN objects are cluster-wide too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pvemcp.catalog.spec import Param, ToolSpec
from pvemcp.pve.errors import ErrorCode, PveMcpError, ToolCallError, api_error
from pvemcp.pve.upid import Upid, parse_upid
from pvemcp.server.resolve import GuestLocator, GuestRef

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
            try:
                low = int(low_text)
                high = int(high_text) if high_text else low
            except ValueError:
                problems.append(f"PVE_ALLOWED_VMIDS: {item!r} is not a VMID or a range like 100-199")
                continue
            if low < 100 or high < low:
                problems.append(f"PVE_ALLOWED_VMIDS: {item!r} must be VMIDs from 100 up, low-high with low <= high")
                continue
            ranges.append((low, high))
    protected = DEFAULT_PROTECTED_TAG if tag is None else (tag.strip() or None)
    return Scope(node_set, tuple(ranges) if ranges is not None else None, protected), problems


# What a tool's arguments name, besides the guest of a guest tool (its path's {vmid}). Each write tool of
# the catalog either acts on a guest, names a node or guest through these, or is one of CLUSTER_WIDE.
NODE_ARGS = ("node", "target")  # a node: the path's {node}, or where a migration or clone goes
NEW_GUEST_ARGS = ("vmid", "newid")  # integer, on tools without a guest of their own: the ID a new guest gets
GUEST_LIST_ARGS = ("vmid", "vms")  # string: comma-separated guest IDs (backups, pool members)
ALL_GUESTS_ARG = "all"  # vzdump and backup jobs: every guest of the node or of the cluster
TASK_ARG = "upid"  # a task names its node and, for guest tasks, the guest
ID_QUESTIONS = frozenset({"pve_get_next_vmid"})  # reads whose vmid asks about an ID, not a guest
REF_ARGS = ("sid",)  # an HA resource: vm:100, ct:101 or a bare VMID
JOB_ARG = "id"  # on replication paths: a job '<vmid>-<n>'
_GUEST_REF = re.compile(r"^(?:(?:vm|ct):)?(\d+)(?:-\d+)?$")
CLUSTER_WIDE = frozenset({
    "pve_create_storage", "pve_update_storage", "pve_delete_storage", "pve_delete_backup_job",
    "pve_update_cluster_firewall_options", "pve_create_cluster_firewall_rule", "pve_update_cluster_firewall_rule",
    "pve_delete_cluster_firewall_rule", "pve_create_pool", "pve_delete_pool", "pve_create_user", "pve_update_user",
    "pve_delete_user", "pve_update_acl", "pve_create_api_token", "pve_delete_api_token",
    "pve_create_cluster_firewall_alias", "pve_delete_cluster_firewall_alias", "pve_add_cluster_firewall_ipset_entry",
    "pve_delete_cluster_firewall_ipset_entry",
    "pve_create_sdn_vnet", "pve_delete_sdn_vnet", "pve_create_sdn_subnet", "pve_delete_sdn_subnet",
    "pve_apply_sdn_changes",
})  # fmt: skip


def reach(spec: ToolSpec) -> dict[str, str]:
    """The arguments through which `spec` names nodes, guests or tasks (its own guest's vmid aside), by kind:
    node, task, all, list (comma-separated VMIDs) or id (one VMID: a new guest's, or the one a read asks about).
    """
    kinds = {p.name: _kind(spec, p) for p in spec.all_params}
    return {name: kind for name, kind in kinds.items() if kind}


def _kind(spec: ToolSpec, param: Param) -> str:
    name = param.name
    if (spec.guest_type is not None and name == "vmid") or (param.local and name == "node"):
        return ""  # the own guest is checked apart; a local node only filters what is listed
    if name in REF_ARGS or (name == JOB_ARG and "/replication" in spec.path):
        return "ref"
    if name in NODE_ARGS:
        return "node"
    if name in (TASK_ARG, ALL_GUESTS_ARG):
        return "task" if name == TASK_ARG else "all"
    if name in NEW_GUEST_ARGS and param.type == "integer" and (not spec.read_only or spec.name in ID_QUESTIONS):
        return "id"
    return "list" if name in GUEST_LIST_ARGS and param.type == "string" else ""


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
    """What Proxmox answers for a UPID it does not know."""
    return api_error(
        ErrorCode.PROXMOX_REQUEST_REJECTED,
        "Parameter verification failed: upid: no such task",
        status=400,
        details={"errors": {"upid": "no such task"}},
    )


def vmid_out_of_scope(scope: Scope, vmid: int, argument: str) -> ToolCallError:
    allowed = scope.describe_vmids()
    return ToolCallError(
        ErrorCode.OUT_OF_SCOPE,
        f"VMID {vmid} ({argument}) is outside this server's scope: PVE_ALLOWED_VMIDS={allowed}.",
        f"Use a guest or new ID within {allowed}. Only an administrator can widen PVE_ALLOWED_VMIDS.",
        details={"argument": argument, "vmid": vmid, "allowed_vmids": allowed},
    )


def node_out_of_scope(scope: Scope, node: str, argument: str, guest: GuestRef | None = None) -> ToolCallError:
    allowed = scope.describe_nodes()
    what = f"{guest.describe()} is on node {node}" if guest else f"Node {node} ({argument})"
    return ToolCallError(
        ErrorCode.OUT_OF_SCOPE,
        f"{what}, outside this server's scope: PVE_ALLOWED_NODES={allowed}.",
        f"Use a node among {allowed}. Only an administrator can widen PVE_ALLOWED_NODES.",
        details={"argument": argument, "node": node, "allowed_nodes": allowed},
    )


def protected(scope: Scope, guest: GuestRef) -> ToolCallError:
    tool = "qm" if guest.type == "qemu" else "pct"
    rest = ";".join(t for t in guest.tags if t.lower() != str(scope.protected_tag).lower())
    return ToolCallError(
        ErrorCode.PROTECTED_GUEST,
        f"{guest.describe()} carries the tag '{scope.protected_tag}': pvemcp changes nothing on protected guests.",
        "Leave this guest alone, or ask an administrator: only they can lift the protection, by removing the tag"
        f" in the Proxmox web UI (the guest's Summary > Tags) or with `{tool} set {guest.vmid} --tags '{rest}'`.",
        details={"vmid": guest.vmid, "tag": scope.protected_tag},
    )


# The guard.


async def guard(scope: Scope, locator: GuestLocator, spec: ToolSpec, args: Mapping[str, Any]) -> GuestRef | None:
    """Refuse what lies outside the scope; return the guest the call acts on (None when it names none).

    Reads: an out-of-scope guest, node or task is answered as if it did not exist. Writes: OUT_OF_SCOPE or
    PROTECTED_GUEST, read fresh from the cluster.
    """
    if spec.raw:  # the raw API: its path names what it reaches (server/rawpath.py imports this module)
        from pvemcp.server.rawpath import guard_raw

        return await guard_raw(scope, locator, spec, args)
    write = not spec.read_only
    target: GuestRef | None = None
    if spec.guest_type is not None and "vmid" in args:
        target = await _own_guest(scope, locator, spec, int(args["vmid"]))
    elif spec.ssh and "ctid" in args:  # pct exec's container: the same rules, and a name for the confirmation
        target = await _own_guest(scope, locator, spec, int(args["ctid"]))
    if not scope.restricted and not (write and scope.protected_tag):
        return target  # nothing else to check: unrestricted reads cost nothing more
    for name, kind in reach(spec).items():
        value = args.get(name)
        if value is None:
            if kind == "id" and write and scope.vmids is not None:
                raise _next_id_unscoped(scope, name)  # Proxmox's next free ID may lie outside
        elif kind == "node" and not scope.allows_node(str(value)):
            raise node_out_of_scope(scope, str(value), name) if write else unknown_node(str(value))
        elif kind == "task":
            await _task(scope, locator, str(value), write)
        elif kind == "all" and value is True:
            _all_guests(scope, spec)
        elif kind == "list":
            for vmid in _vmids(str(value)):
                await _named_guest(scope, locator, vmid, name)
        elif kind == "ref":
            target = await _referenced_guest(scope, locator, str(value), name, write) or target
        elif kind == "id" and not write:  # a read asking whether an ID is free: outside the scope, it is not
            if not scope.allows_vmid(int(value)):
                raise vmid_out_of_scope(scope, int(value), name)
        elif kind == "id":  # a new guest's ID; a restore with force overwrites the guest that has it
            target = await _named_guest(scope, locator, int(value), name) or target
    return target


async def _own_guest(scope: Scope, locator: GuestLocator, spec: ToolSpec, vmid: int) -> GuestRef:
    """The guest a guest tool acts on, checked against the scope and, for writes, the protected tag."""
    write = not spec.read_only
    if not scope.allows_vmid(vmid):
        raise vmid_out_of_scope(scope, vmid, "vmid") if write else not_found_guest(vmid)
    ref = await locator.locate(vmid, fresh=write)
    if not scope.allows_node(ref.node):
        raise node_out_of_scope(scope, ref.node, "vmid", ref) if write else not_found_guest(vmid)
    if write and scope.protects(ref):
        raise protected(scope, ref)
    return ref


async def _named_guest(scope: Scope, locator: GuestLocator, vmid: int, argument: str) -> GuestRef | None:
    """A guest a write names besides its own: in scope, not protected; None when the cluster has none."""
    if not scope.allows_vmid(vmid):
        raise vmid_out_of_scope(scope, vmid, argument)
    try:
        ref = await locator.locate(vmid, fresh=True)
    except ToolCallError as exc:
        if exc.code is ErrorCode.GUEST_NOT_FOUND:
            return None  # a new ID, or one Proxmox will refuse in its own words
        raise
    if not scope.allows_node(ref.node):
        raise node_out_of_scope(scope, ref.node, argument, ref)
    if scope.protects(ref):
        raise protected(scope, ref)
    return ref


async def _referenced_guest(
    scope: Scope, locator: GuestLocator, ref: str, argument: str, write: bool
) -> GuestRef | None:
    """The guest an HA resource or replication job ID names: a named guest for writes; for reads, one
    outside the scope (or none at all) answers like an unknown guest."""
    match = _GUEST_REF.match(ref)
    if match is None:
        return None  # Proxmox refuses it in its own words
    vmid = int(match.group(1))
    if write:
        return await _named_guest(scope, locator, vmid, argument)
    if not scope.allows_vmid(vmid):
        raise not_found_guest(vmid)
    found = await locator.locate(vmid)
    if not scope.allows_node(found.node):
        raise not_found_guest(vmid)
    return None


async def _task(scope: Scope, locator: GuestLocator, upid: str, write: bool) -> None:
    """A task belongs to its node and, when its ID is a VMID, to that guest."""
    parsed = parse_upid(upid)
    if parsed is None:
        return  # fill_location rejects it in its own words
    if not scope.allows_node(parsed.node):
        raise node_out_of_scope(scope, parsed.node, TASK_ARG) if write else unknown_node(parsed.node)
    vmid = int(parsed.id) if parsed.id.isdigit() else None
    if vmid is None:
        return
    if not write:
        if not scope.allows_vmid(vmid):
            raise unknown_task()
        return
    await _named_guest(scope, locator, vmid, TASK_ARG)


def _all_guests(scope: Scope, spec: ToolSpec) -> None:
    """all=true reaches every guest of the node (vzdump) or of the cluster (a backup job)."""
    cluster_wide = "node" not in spec.placeholders
    if scope.vmids is None and not (cluster_wide and scope.nodes is not None):
        return
    setting = "PVE_ALLOWED_VMIDS" if scope.vmids is not None else "PVE_ALLOWED_NODES"
    raise ToolCallError(
        ErrorCode.OUT_OF_SCOPE,
        f"all=true would reach guests outside this server's scope ({setting} is set).",
        "Pass the guests as a vmid list instead, e.g. vmid=101,102, each within the scope.",
        details={"argument": ALL_GUESTS_ARG},
    )


def _next_id_unscoped(scope: Scope, argument: str) -> ToolCallError:
    allowed = scope.describe_vmids()
    return ToolCallError(
        ErrorCode.OUT_OF_SCOPE,
        f"Without {argument}, Proxmox picks the next free VMID cluster-wide, which may lie outside this"
        f" server's scope (PVE_ALLOWED_VMIDS={allowed}).",
        f"Pass {argument} within {allowed}; pve_get_next_vmid with vmid checks that an ID is free.",
        details={"argument": argument, "allowed_vmids": allowed},
    )


def _vmids(text: str) -> Iterator[int]:
    for item in re.split(r"[,;\s]+", text):
        if item.isdigit():
            yield int(item)


# Results.

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


async def guest_homes(scope: Scope, locator: GuestLocator, data: Any) -> dict[int, str] | None:
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
            yield from _vmids(value)
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
