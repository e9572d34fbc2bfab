"""The simulated cluster's state: ``ClusterState`` and the records it holds.

Layers, each importing only those below it: ``records`` (guests, nodes, storages, tasks...);
the per-area records (access, admin, backup, ceph, cloudinit, firewall, ha, metrics, network,
node_admin, replication, sdn); ``cluster`` (``ClusterState``, which holds one of each area);
and the operations over the whole cluster (guest_disks, permissions, scheduler, seeds).
This package's own modules never import it, so re-exporting here makes no cycle.
"""

from __future__ import annotations

from .cluster import ClusterState
from .records import (
    Acl,
    ConfigValue,
    Guest,
    GuestConfig,
    GuestProfile,
    GuestType,
    Node,
    Pool,
    Shape,
    Storage,
    Task,
    Token,
    User,
    Volume,
)

__all__ = [
    "Acl",
    "ClusterState",
    "ConfigValue",
    "Guest",
    "GuestConfig",
    "GuestProfile",
    "GuestType",
    "Node",
    "Pool",
    "Shape",
    "Storage",
    "Task",
    "Token",
    "User",
    "Volume",
]
