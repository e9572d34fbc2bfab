"""Who is calling, and how far they may go: one authenticated caller's grant.

On stdio the process's own settings are the whole story. Over HTTP each credential (a bearer token
from MCP_AUTH_TOKENS_FILE, MCP_AUTH_TOKEN, or an OAuth access token) carries a `Grant`: a tier
ceiling and optionally narrower nodes and VMIDs. A grant only ever narrows the server's settings:
the caller's tier is the lower of the two and its scope is the intersection, so no credential
reaches past what PVE_ACCESS_TIER and PVE_ALLOWED_* allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from pvemcp.catalog.spec import Tier
from pvemcp.server.scope import Scope

VmidRanges = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Grant:
    """One caller: its name (for the audit log), its tier ceiling and optional node and VMID limits."""

    name: str
    tier: Tier = Tier.FULL
    nodes: frozenset[str] | None = None
    vmids: VmidRanges | None = None

    @property
    def key(self) -> tuple[Tier, frozenset[str] | None, VmidRanges | None]:
        """Grants with the same key see the same tools and the same scope, whatever their names."""
        return self.tier, self.nodes, self.vmids


def _intersect_ranges(a: VmidRanges | None, b: VmidRanges | None) -> VmidRanges | None:
    if a is None:
        return b
    if b is None:
        return a
    out = [(max(lo1, lo2), min(hi1, hi2)) for lo1, hi1 in a for lo2, hi2 in b if max(lo1, lo2) <= min(hi1, hi2)]
    return tuple(sorted(set(out)))


def narrowed_scope(scope: Scope, grant: Grant) -> Scope:
    """The server's scope cut down to what the grant allows (an empty intersection allows nothing)."""
    if grant.nodes is None:
        nodes = scope.nodes
    elif scope.nodes is None:
        nodes = grant.nodes
    else:
        nodes = scope.nodes & grant.nodes
    return Scope(nodes, _intersect_ranges(scope.vmids, grant.vmids), scope.protected_tag)
