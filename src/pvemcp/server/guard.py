"""The scope guard: whether this server may send a request, from what server/reach.py says it names.

Applied on the one dispatch path, after validation and before confirmation, and again to every request a
handler sends (server/scoped_client.py). What the guard finds is handed on: the guest a call acts on goes to
the confirmation form, the audit log and the handler.

- Writes that name a guest or node outside the scope are refused with OUT_OF_SCOPE, naming the setting but
  nothing about the guest (a read of it would not say more); writes that name a guest carrying the protected
  tag are refused with PROTECTED_GUEST. Guests are read fresh from the cluster for writes.
- Reads of an out-of-scope guest, node or task get the answer an unknown one gets; a list filtered by such a
  guest is empty and is not asked for. Protected guests may be read.
- A request that reaches every guest of a node or of the cluster (all=1, stopall without vms, pruning every
  backup, a pool selection) is refused under a VMID scope (and under a node scope when cluster-wide), and
  while any guest it reaches carries the protected tag. SDN apply runs on every node: refused under a node
  scope. A raw write whose reach is not modelled is refused whenever a scope or the protected tag is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pvemcp.catalog.spec import Tier, ToolSpec
from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, PveMcpError, ToolCallError
from pvemcp.pve.upid import parse_upid
from pvemcp.server import scope as scoping
from pvemcp.server.raw_table import Kind, Span, read_tier
from pvemcp.server.rawpath import raw_request
from pvemcp.server.reach import (
    ASCII_DIGITS,
    UNMODELLED_HINT,
    Named,
    Reach,
    add,
    catalog_reach,
    raw_reach,
    truthy,
)
from pvemcp.server.resolve import GuestRef, Locator
from pvemcp.server.scope import Scope

ID_VIAS = frozenset({"path", "sid", "id"})  # where a read names a guest inside an object's ID


class EmptyRead(Exception):  # noqa: N818 - a verdict, not a failure
    """A read filtered by a guest outside the scope: the answer is an empty list, and nothing is asked."""


async def guard(
    scope: Scope, locator: Locator, spec: ToolSpec, args: Mapping[str, Any], tier: Tier = Tier.FULL
) -> GuestRef | None:
    """Refuse what lies outside the scope; return the guest the call acts on (None when it names none).

    tier: the caller's; a raw read of a path a higher-tier tool covers (guest-agent file-read) needs it too.
    """
    if spec.raw:
        method, path, params = raw_request(spec, args)
        if method == "GET":
            _read_tier(path, tier)
        return await enforce(scope, locator, raw_reach(method, path, params), write=method != "GET")
    return await enforce(scope, locator, catalog_reach(spec, args), write=not spec.read_only)


def _read_tier(path: str, tier: Tier) -> None:
    needed, why = read_tier(path.strip("/").split("/"))
    if needed > tier:
        raise ToolCallError(
            ErrorCode.TOOL_INPUT_REJECTED,
            f"Reading {path[:80]} needs the {needed.label} access tier ({why}); this server runs at {tier.label}.",
            "Use a tool this server offers, or ask an administrator for a higher PVE_ACCESS_TIER.",
            details={"needs_tier": needed.label},
        )


async def enforce(scope: Scope, locator: Locator, reach: Reach, *, write: bool) -> GuestRef | None:
    """Check everything `reach` names; return the guest whose path it is."""
    protecting = write and bool(scope.protected_tag)
    if reach.unmodelled is not None and (scope.restricted or scope.protected_tag):
        raise ToolCallError(
            ErrorCode.OUT_OF_SCOPE,
            reach.unmodelled,
            "Use the catalog tool named, if any. " + UNMODELLED_HINT,
            details={"argument": "path"},
        )
    target = await own_guest(scope, locator, reach.own, write) if reach.own is not None else None
    if not scope.restricted and not protecting:
        return target  # nothing else to check: unrestricted reads cost nothing more
    for node in reach.nodes:
        if not scope.allows_node(str(node.value)):
            raise (
                scoping.node_out_of_scope(scope, str(node.value), node.via)
                if write
                else scoping.unknown_node(str(node.value))
            )
    for task in reach.tasks:
        await _task(scope, locator, task, write)
    for guest in (*reach.guests, *reach.new):
        if write:
            target = await named_guest(scope, locator, int(guest.value), guest.via) or target
        else:  # a guest an ID names (vm:100, 100-0) must exist, or it reads like one outside the scope
            await _read_guest(scope, locator, int(guest.value), must_exist=guest.via in ID_VIAS)
    for wanted in reach.filters:
        if not await _readable(scope, locator, int(wanted.value)):
            raise EmptyRead(wanted.via)
    for asked in reach.asks:  # a read asking whether an ID is free: outside the scope, it is not
        if not scope.allows_vmid(int(asked.value)):
            raise scoping.vmid_out_of_scope(scope, int(asked.value), asked.via)
    if reach.next_id is not None and write and scope.vmids is not None:
        raise _next_id_unscoped(scope, reach.next_id)
    for span, via, span_node in reach.spans:
        await _span(scope, locator, span, via, span_node, reach.exclude, write)
    for job in reach.backup_jobs if write else ():
        await enforce(scope, locator, await _backup_job(locator, str(job.value)), write=True)
    return target


JOB_SELECTION: tuple[tuple[str, Kind], ...] = (("vmid", "guests"), ("exclude", "exclude"), ("node", "node"))


async def _backup_job(locator: Locator, job_id: str) -> Reach:
    """What an existing backup job backs up: changing or deleting it changes that (read from Proxmox)."""
    try:
        job = await locator.client.get(wire.expand_path("/cluster/backup/{id}", {"id": job_id}))
    except PveMcpError:
        return Reach()  # no such job: Proxmox refuses the write in its own words
    found = Reach()
    if not isinstance(job, Mapping):
        return found
    via = f"backup job {job_id}"
    for name, kind in JOB_SELECTION:
        if job.get(name) not in (None, ""):
            add(found, kind, wire.encode_value(job[name]), via)
    if truthy(wire.encode_value(job.get("all", 0))) or job.get("pool"):
        node = str(job["node"]) if job.get("node") else None
        found.spans.append(("node-guests" if node else "cluster-guests", via, node))
    return found


async def own_guest(scope: Scope, locator: Locator, named: Named, write: bool) -> GuestRef:
    """The guest a call acts on, checked against the scope and, for writes, the protected tag."""
    vmid = int(named.value)
    if not scope.allows_vmid(vmid):
        raise scoping.vmid_out_of_scope(scope, vmid, named.via) if write else scoping.not_found_guest(vmid)
    ref = await locator.locate(vmid, fresh=write)
    if not scope.allows_node(ref.node):
        raise scoping.guest_out_of_scope(scope, vmid, named.via) if write else scoping.not_found_guest(vmid)
    if write and scope.protects(ref):
        raise scoping.protected(scope, ref)
    return ref


async def named_guest(scope: Scope, locator: Locator, vmid: int, via: str) -> GuestRef | None:
    """A guest a write names besides its own: in scope, not protected; None when the cluster has none."""
    if not scope.allows_vmid(vmid):
        raise scoping.vmid_out_of_scope(scope, vmid, via)
    try:
        ref = await locator.locate(vmid, fresh=True)
    except ToolCallError as exc:
        if exc.code is ErrorCode.GUEST_NOT_FOUND:
            return None  # a new ID, or one Proxmox will refuse in its own words
        raise
    if not scope.allows_node(ref.node):
        raise scoping.guest_out_of_scope(scope, vmid, via)
    if scope.protects(ref):
        raise scoping.protected(scope, ref)
    return ref


async def _readable(scope: Scope, locator: Locator, vmid: int) -> bool:
    """Whether a read may name this guest: within the VMIDs, and on an allowed node when it exists."""
    if not scope.allows_vmid(vmid):
        return False
    if scope.nodes is None:
        return True
    ref = (await locator.guests()).get(vmid)
    return ref is None or scope.allows_node(ref.node)


async def _read_guest(scope: Scope, locator: Locator, vmid: int, *, must_exist: bool) -> None:
    """A guest a read names. Outside the scope it is "no such guest"; so is an unknown one that an object's ID
    names (an HA resource, a replication job), so that the scope does not show through the answer."""
    if not await _readable(scope, locator, vmid) or (must_exist and vmid not in await locator.guests()):
        raise scoping.not_found_guest(vmid)


async def _task(scope: Scope, locator: Locator, task: Named, write: bool) -> None:
    """A task belongs to its node and, when its ID is a VMID, to that guest."""
    upid = parse_upid(str(task.value))
    if upid is None:
        return  # Proxmox refuses it in its own words
    node, ident = upid.node, upid.id
    if not scope.allows_node(node):
        raise scoping.node_out_of_scope(scope, node, task.via) if write else scoping.unknown_node(node)
    if not ASCII_DIGITS.fullmatch(ident):
        return
    if write:
        await named_guest(scope, locator, int(ident), task.via)
    elif not await _readable(scope, locator, int(ident)):
        raise scoping.unknown_task()


SPAN_WORDS: dict[Span, str] = {
    "node-guests": "every guest on the node",
    "cluster-guests": "every guest it selects anywhere in the cluster",
    "storage-backups": "the backups of every guest on the storage",
    "every-node": "every node of the cluster",
}
SPAN_HINTS: dict[Span, str] = {
    "node-guests": "Name the guests instead (vmid=101,102, or vms= for bulk actions), each within the scope.",
    "cluster-guests": "Name the guests instead (vmid=101,102, or vms= for bulk actions), each within the scope.",
    "storage-backups": "Prune one guest at a time: pass vmid (a guest within the scope).",
    "every-node": "Ask an administrator to do this, or to run a server without PVE_ALLOWED_NODES for it.",
}


async def _span(
    scope: Scope, locator: Locator, span: Span, via: str, node: str | None, exclude: frozenset[int], write: bool
) -> None:
    """A request that reaches many guests, or every node, at once."""
    if span == "every-node":
        if scope.nodes is not None:
            raise _span_refused(span, via, "PVE_ALLOWED_NODES")
        return
    wide = span != "node-guests"
    if scope.vmids is not None or (wide and scope.nodes is not None):
        raise _span_refused(span, via, "PVE_ALLOWED_VMIDS" if scope.vmids is not None else "PVE_ALLOWED_NODES")
    if not scope.protected_tag:
        return
    guests = await locator.guests(fresh=True)
    for ref in guests.values():
        if ref.vmid in exclude or (span == "node-guests" and node is not None and ref.node != node):
            continue
        if scope.protects(ref):
            raise scoping.protected(scope, ref, reached_by=f"{via} ({SPAN_WORDS[span]})")


def _span_refused(span: Span, via: str, setting: str) -> ToolCallError:
    return ToolCallError(
        ErrorCode.OUT_OF_SCOPE,
        f"{via}: this reaches {SPAN_WORDS[span]}, also what lies outside this server's scope ({setting} is set).",
        SPAN_HINTS[span],
        details={"argument": via, "reaches": span},
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
