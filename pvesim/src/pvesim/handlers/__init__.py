"""Every route the simulator answers, in one table built from the handler modules."""

from __future__ import annotations

from ..routes import Route
from . import (
    access,
    backup,
    ceph,
    cluster,
    cluster_admin,
    disks,
    firewall,
    guest_changes,
    guest_exec,
    guest_firewall,
    guests,
    guests_admin,
    ha,
    migration,
    monitoring,
    network,
    node_admin,
    nodes,
    pools,
    power,
    replication,
    sdn,
    storage,
    storage_admin,
    tasks,
)

ALL_ROUTES: tuple[Route, ...] = (
    *cluster.ROUTES,
    *cluster_admin.ROUTES,
    *nodes.ROUTES,
    *guests.ROUTES,
    *power.ROUTES,
    *storage.ROUTES,
    *tasks.ROUTES,
    *guests_admin.ROUTES,
    *migration.ROUTES,
    *guest_changes.ROUTES,
    *guest_exec.ROUTES,
    *disks.ROUTES,
    *backup.ROUTES,
    *network.ROUTES,
    *firewall.ROUTES,
    *guest_firewall.ROUTES,
    *pools.ROUTES,
    *access.ROUTES,
    *monitoring.ROUTES,
    *ha.ROUTES,
    *replication.ROUTES,
    *sdn.ROUTES,
    *ceph.ROUTES,
    *node_admin.ROUTES,
    *storage_admin.ROUTES,
)

__all__ = ["ALL_ROUTES"]
