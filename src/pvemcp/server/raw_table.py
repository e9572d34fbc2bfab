"""The raw API's endpoint table: the (method, path) pairs pve_api_call may send while a scope is set, and
how each names nodes and guests. Anything not listed is refused under a scope (deny by default).

A row says which parameters name what (server/reach.py's kinds), which flags or missing parameters reach
every guest of a node or of the cluster, and which endpoints are refused whatever their arguments, because
what they reach cannot be checked (a node's root shell, a batch of API calls, a move to another cluster).
Path segments name nodes, guests, tasks, HA resources, replication jobs and volumes the same way everywhere
(reach.path_reach), so rows only add what parameters name. tests/test_raw_table.py checks every row against
the official API schema: each parameter that carries a node or VMID format there is modelled here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Literal

from pvemcp.catalog import ALL_TOOLS
from pvemcp.catalog.spec import Tier, ToolSpec

# How a parameter names things. guest: one VMID; new: the ID a new guest gets; guests: a VMID list;
# sid/sids: HA resources (vm:100); job: a replication job (100-0); volume: a volume whose name carries its
# guest (vm-100-disk-0, vzdump-qemu-100-…); node/nodes: node names; ha-nodes: node[:priority] lists;
# upid: a task; all: a flag that reaches every guest; exclude: guests a span leaves out;
# filter: a read's guest filter; ask: a read asking whether an ID is free; pool: guests chosen by pool
# membership (anywhere in the cluster); acl-path: a permission path (/vms/100, /nodes/pve1).
Kind = Literal[
    "guest", "new", "guests", "sid", "sids", "job", "volume", "node", "nodes", "ha-nodes", "upid", "all",
    "exclude", "filter", "ask", "pool", "acl-path",
]  # fmt: skip
# What a request reaches beyond the guests it names: every guest of one node, of the cluster, every backup on
# a storage, every node.
Span = Literal["node-guests", "cluster-guests", "storage-backups", "every-node"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One row: methods, a path pattern ('*' one segment, '**' any rest), and what its parameters reach."""

    methods: frozenset[str]
    pattern: tuple[str, ...]
    params: Mapping[str, Kind]
    flags: Mapping[str, Span]  # a true value reaches every guest of the node or cluster
    missing: Mapping[str, Span]  # leaving it out does
    spans: tuple[Span, ...]  # what it reaches whatever its arguments
    refuse: str  # never under a scope: why ("" when it may be sent)
    ignore: frozenset[str]  # names that mean something else here (an iSCSI target, a firewall source)

    def matches(self, method: str, segments: list[str]) -> bool:
        return method in self.methods and pattern_matches(self.pattern, segments)


def pattern_matches(pattern: tuple[str, ...], segments: list[str]) -> bool:
    if pattern and pattern[-1] == "**":
        head = pattern[:-1]
        return len(segments) >= len(head) and pattern_matches(head, segments[: len(head)])
    return len(pattern) == len(segments) and all(p in ("*", s) for p, s in zip(pattern, segments, strict=True))


def row(
    methods: str,
    where: str,
    *,
    refuse: str = "",
    spans: tuple[Span, ...] = (),
    ignore: tuple[str, ...] = (),
    flags: Mapping[str, Span] | None = None,
    missing: Mapping[str, Span] | None = None,
    **params: Kind,
) -> Endpoint:
    """A row; the few parameter names Proxmox spells with '-' are written with '_' here."""
    named = {DASHED.get(name, name): kind for name, kind in params.items()}
    return Endpoint(
        frozenset(methods.split()),
        tuple(where.strip("/").split("/")),
        MappingProxyType(named),
        MappingProxyType(dict(flags or {})),
        MappingProxyType(dict(missing or {})),
        spans,
        refuse,
        frozenset(ignore),
    )


W = "POST PUT DELETE"
DASHED = {"target_vmid": "target-vmid", "exitnodes_primary": "exitnodes-primary"}
GUESTS_OF_NODE: Mapping[str, Span] = {"vms": "node-guests"}
SHELL = "it opens a root shell on the node, which can change any guest"
BATCH = "it runs a batch of API calls whose reach pvemcp cannot check"
REMOTE = "it moves the guest to another cluster, outside every scope"
MEMBERSHIP = "it changes which nodes form the cluster"
UNCHECKED = "what it reaches depends on objects pvemcp does not read first"

TABLE: tuple[Endpoint, ...] = (
    # A guest's own endpoints act on that guest (the path); some name another node or guest as well.
    *(row(W, f"/nodes/*/{kind}/*/{leaf}", refuse=REMOTE) for kind in ("qemu", "lxc")
      for leaf in ("remote_migrate", "mtunnel")),
    *(row(W, f"/nodes/*/{kind}/*/**", target="node", newid="new", target_vmid="guest", migratedfrom="node")
      for kind in ("qemu", "lxc")),
    # Creating a guest names its ID; a restore names the backup's guest too.
    row("POST", "/nodes/*/qemu", vmid="new", archive="volume"),
    row("POST", "/nodes/*/lxc", vmid="new", ostemplate="volume"),
    # Every guest of a node, unless vms names them.
    *(row("POST", f"/nodes/*/{action}", vms="guests", missing=GUESTS_OF_NODE)
      for action in ("startall", "stopall", "suspendall")),
    row("POST", "/nodes/*/migrateall", vms="guests", target="node", missing=GUESTS_OF_NODE),
    row("POST", "/nodes/*/status", spans=("node-guests",)),  # reboot or shut down the node and its guests
    row("POST", "/nodes/*/vzdump", vmid="guests", exclude="exclude", pool="pool", flags={"all": "node-guests"}),
    # Storage content: volumes carry their guest in their name.
    row("POST", "/nodes/*/storage/*/content", vmid="guest", filename="volume"),
    row(W, "/nodes/*/storage/*/content/*", target="volume", target_node="node"),
    row("DELETE", "/nodes/*/storage/*/prunebackups", vmid="guest", missing={"vmid": "storage-backups"}),
    *(row("POST", f"/nodes/*/storage/*/{leaf}", filename="volume")
      for leaf in ("upload", "download-url", "oci-registry-pull")),
    row("POST", "/nodes/*/replication/*/schedule_now"),
    row("DELETE", "/nodes/*/tasks/*"),
    # A node's own configuration and services: the node in the path.
    *(row(W, f"/nodes/*/{area}/**") for area in (
        "services", "network", "apt", "certificates", "disks", "firewall", "ceph", "subscription",
    )),
    *(row(W, f"/nodes/*/{leaf}") for leaf in ("network", "dns", "hosts", "time", "config", "wakeonlan", "aplinfo")),
    *(row(W, f"/nodes/*/{leaf}", refuse=SHELL) for leaf in ("termproxy", "vncshell", "spiceshell")),
    row(W, "/nodes/*/execute", refuse=BATCH),
    # HA: resources name their guest; rules and groups name guests and nodes in lists.
    row("POST", "/cluster/ha/resources", sid="sid"),
    row("PUT DELETE", "/cluster/ha/resources/*"),
    row("POST", "/cluster/ha/resources/*/migrate", node="node", target="node"),
    row("POST", "/cluster/ha/resources/*/relocate", node="node", target="node"),
    row("POST", "/cluster/ha/rules", resources="sids", nodes="ha-nodes"),
    row("PUT", "/cluster/ha/rules/*", resources="sids", nodes="ha-nodes"),
    row("POST", "/cluster/ha/groups", nodes="ha-nodes"),
    row("PUT", "/cluster/ha/groups/*", nodes="ha-nodes"),
    row("DELETE", "/cluster/ha/rules/*", refuse=UNCHECKED),
    row("DELETE", "/cluster/ha/groups/*", refuse=UNCHECKED),
    # Replication jobs name their guest in their ID, and the nodes they copy between.
    row("POST", "/cluster/replication", id="job", target="node", source="node"),
    row("PUT DELETE", "/cluster/replication/*", source="node", target="node"),
    # Backup jobs and bulk actions: guest lists, `all`, a pool, a node.
    *(row(method, path, vmid="guests", exclude="exclude", node="node", pool="pool",
          flags={"all": "cluster-guests"}) for method, path in (("POST", "/cluster/backup"),
                                                                 ("PUT", "/cluster/backup/*"))),
    row("DELETE", "/cluster/backup/*"),
    *(row("POST", f"/cluster/bulk-action/guest/{action}", vms="guests", target="node",
          missing={"vms": "cluster-guests"}) for action in ("start", "shutdown", "suspend", "migrate")),
    # Pools: members are guests.
    row("POST PUT", "/pools", vms="guests"),
    row("PUT", "/pools/*", vms="guests"),
    row("DELETE", "/pools"),
    row("DELETE", "/pools/*"),
    # SDN: pending configuration, applied on every node.
    row("PUT", "/cluster/sdn", spans=("every-node",)),
    row(W, "/cluster/sdn/vnets/*/ips", vmid="guest"),
    row("POST", "/cluster/sdn/zones", nodes="nodes", exitnodes="nodes", exitnodes_primary="node"),
    row("PUT", "/cluster/sdn/zones/*", nodes="nodes", exitnodes="nodes", exitnodes_primary="node"),
    row("POST", "/cluster/sdn/controllers", node="node"),
    row("PUT", "/cluster/sdn/controllers/*", node="node"),
    row(W, "/cluster/sdn/fabrics/node/**", node_id="node"),
    row(W, "/cluster/sdn/**"),
    # Storage definitions may be limited to nodes.
    row("POST", "/storage", nodes="nodes", ignore=("target",)),
    row("PUT", "/storage/*", nodes="nodes"),
    row("DELETE", "/storage/*"),
    # Cluster-wide objects that are neither guests nor nodes.
    row("PUT", "/access/acl", path="acl-path"),
    row(W, "/access/**"),
    row(W, "/cluster/firewall/**"),
    row(W, "/cluster/options"),
    row(W, "/cluster/notifications/**", ignore=("target",)),
    row(W, "/cluster/metrics/**"),
    row(W, "/cluster/mapping/**"),
    row(W, "/cluster/jobs/**"),
    row(W, "/cluster/acme/plugins", nodes="nodes"),
    row(W, "/cluster/acme/plugins/*", nodes="nodes"),
    row(W, "/cluster/acme/**"),
    row(W, "/cluster/ceph/**", spans=("every-node",)),
    row(W, "/cluster/config/**", refuse=MEMBERSHIP),
)  # fmt: skip


def endpoint(method: str, segments: list[str]) -> Endpoint | None:
    """The first row that matches a write, or None: not modelled."""
    return next((e for e in TABLE if e.matches(method, segments)), None)


# Which catalog tool covers a path: named in refusals, and its tier applies to raw reads of the path.


def spec_patterns(spec: ToolSpec) -> tuple[tuple[str, ...], ...]:
    """The path patterns a catalog tool sends to ({guest_type} stands for qemu and for lxc)."""
    parts = spec.path.strip("/").split("/")
    options: list[tuple[str, ...]] = [()]
    for part in parts:
        if part == "{guest_type}":
            options = [(*o, kind) for o in options for kind in ("qemu", "lxc")]
        elif part.startswith("{"):
            options = [(*o, "*") for o in options]
        else:
            options = [(*o, part) for o in options]
    return tuple(options)


@cache
def _catalog_index() -> tuple[tuple[str, tuple[str, ...], ToolSpec], ...]:
    rows = [
        (spec.method, pattern, spec)
        for spec in ALL_TOOLS
        if spec.api and not spec.raw and not spec.ssh
        for pattern in spec_patterns(spec)
    ]
    return tuple(sorted(rows, key=lambda r: (r[2].tier, r[2].name)))


def covering_tool(method: str, segments: list[str]) -> ToolSpec | None:
    """The catalog tool that sends this method to this path (the lowest tier first), if one does."""
    return next(
        (spec for m, pattern, spec in _catalog_index() if m == method and pattern_matches(pattern, segments)),
        None,
    )


# Reads that act inside a guest or read files: at least read-execute, as the catalog tools that cover them.
EXECUTING_READS = (("nodes", "*", "qemu", "*", "agent", "**"), ("nodes", "*", "storage", "*", "file-restore", "**"))


def read_tier(segments: list[str]) -> tuple[Tier, str]:
    """The tier a raw GET of this path needs, and what sets it (the covering tool, or the family)."""
    spec = covering_tool("GET", segments)
    if spec is not None:
        return spec.tier, spec.name
    if any(pattern_matches(pattern, segments) for pattern in EXECUTING_READS):
        family = "guest-agent" if "agent" in segments else "file-restore"
        return Tier.READ_EXECUTE, f"the {family} endpoints"
    return Tier.READ_ONLY, ""
