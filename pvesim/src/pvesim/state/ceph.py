"""A hyper-converged Ceph cluster on the simulated nodes: one monitor and a few OSDs per node, two pools.

Monitors and OSDs follow the nodes (a node that is offline has its monitor out of quorum and its OSDs
down), so only what a test may change is stored here: nodes without the Ceph packages, OSDs marked
down or out, the cluster flags, pools, and extra health checks (``warn``). Health is derived from all of
it the way Ceph reports it (OSD_DOWN, MON_DOWN, OSDMAP_FLAGS, plus the checks a test set).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import Node

GIB = 1024**3
VERSION = "19.2.3"
VERSION_TEXT = f"ceph version {VERSION} (c92aebb279828e9c3c1f5d24613efca272649e62) squid (stable)"
FSID = "5f1c8e2a-9b3d-4c6e-a1f0-7d2e4b8c9a31"
OSD_BYTES = 894 * GIB
BASE_FLAGS = ("sortbitwise", "recovery_deletes", "purged_snapdirs", "pglog_hardlimit")
SEVERITY = {"HEALTH_OK": 0, "HEALTH_WARN": 1, "HEALTH_ERR": 2}
# The flags PVE lets you set (PVE::API2::Cluster::Ceph), with its descriptions.
FLAGS = {
    "nobackfill": "Backfilling of PGs is suspended.",
    "nodeep-scrub": "Deep Scrubbing is disabled.",
    "nodown": "OSD failure reports are being ignored, such that the monitors will not mark OSDs down.",
    "noin": "OSDs that were previously marked out will not be marked back in when they start.",
    "noout": "OSDs will not automatically be marked out after the configured interval.",
    "norebalance": "Rebalancing of PGs is suspended.",
    "norecover": "Recovery of PGs is suspended.",
    "noscrub": "Scrubbing is disabled.",
    "notieragent": "Cache tiering activity is suspended.",
    "noup": "OSDs are not allowed to start.",
    "pause": "Pauses read and writes.",
}


@dataclass(eq=False)
class CephPool:
    id: int
    name: str
    stored: int
    objects: int
    application: str
    pg_num: int
    size: int = 3
    min_size: int = 2
    autoscale: str = "on"


@dataclass(frozen=True, slots=True)
class Osd:
    id: int
    host: str
    up: bool
    inside: bool


@dataclass(frozen=True, slots=True)
class Check:
    severity: str
    message: str
    count: int


def _pools() -> list[CephPool]:
    return [
        CephPool(1, ".mgr", stored=1_900_000, objects=2, application="mgr", pg_num=1),
        CephPool(2, "ceph-vm", stored=412 * GIB, objects=106_214, application="rbd", pg_num=128),
    ]


@dataclass(eq=False)
class CephState:
    """What tests may change; see the module docstring for what is derived from the nodes."""

    absent: set[str] = field(default_factory=set)  # nodes without the Ceph packages
    initialized: bool = True  # False: no /etc/pve/ceph.conf (pveceph init never ran)
    osds_per_node: int = 2
    down: set[int] = field(default_factory=set)
    out: set[int] = field(default_factory=set)
    flags: set[str] = field(default_factory=set)
    checks: dict[str, Check] = field(default_factory=dict)
    pools: list[CephPool] = field(default_factory=_pools)

    def warn(self, name: str, message: str, count: int = 1, severity: str = "HEALTH_WARN") -> None:
        """Raise a health check, e.g. warn("OSD_NEARFULL", "1 nearfull osd(s)")."""
        self.checks[name] = Check(severity, message, count)

    def clear(self, name: str) -> None:
        self.checks.pop(name, None)

    def error(self, node: str) -> str | None:
        """PVE's check_ceph_inited, on the node that would run the command."""
        if node in self.absent:
            return "binary not installed: /usr/bin/ceph-mon"
        if not self.initialized:
            return "pveceph configuration not initialized - missing '/etc/pve/ceph.conf'"
        return None

    def hosts(self, nodes: Mapping[str, Node]) -> list[str]:
        return [name for name in nodes if name not in self.absent]

    def osds(self, nodes: Mapping[str, Node]) -> list[Osd]:
        """OSD IDs are fixed by the node's place in the cluster, so they survive other nodes' changes."""
        found: list[Osd] = []
        for index, (name, node) in enumerate(nodes.items()):
            if name in self.absent:
                continue
            for slot in range(self.osds_per_node):
                osd_id = index * self.osds_per_node + slot
                found.append(Osd(osd_id, name, node.online and osd_id not in self.down, osd_id not in self.out))
        return found

    def quorum(self, nodes: Mapping[str, Node]) -> list[str]:
        return [name for name in self.hosts(nodes) if nodes[name].online]

    def health(self, nodes: Mapping[str, Node]) -> tuple[str, dict[str, Check]]:
        """The overall status and every check, the derived ones first."""
        checks: dict[str, Check] = {}
        down = [osd for osd in self.osds(nodes) if not osd.up]
        if down:
            checks["OSD_DOWN"] = Check("HEALTH_WARN", f"{len(down)} osds down", len(down))
        hosts, quorum = self.hosts(nodes), self.quorum(nodes)
        if len(quorum) < len(hosts):
            missing = len(hosts) - len(quorum)
            text = f"{missing}/{len(hosts)} mons down, quorum {','.join(quorum)}"
            checks["MON_DOWN"] = Check("HEALTH_WARN", text, missing)
        if self.flags:
            text = f"{','.join(sorted(self.flags))} flag(s) set"
            checks["OSDMAP_FLAGS"] = Check("HEALTH_WARN", text, len(self.flags))
        checks.update(self.checks)
        worst = max((SEVERITY.get(c.severity, 1) for c in checks.values()), default=0)
        return next(name for name, level in SEVERITY.items() if level == worst), checks

    def raw_used(self) -> int:
        return sum(pool.stored * pool.size for pool in self.pools)
