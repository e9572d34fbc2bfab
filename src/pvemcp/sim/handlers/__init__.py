"""Every route the simulator answers, in one table built from the handler modules."""

from __future__ import annotations

from ..routes import Route
from . import (
    access,
    backup,
    cluster,
    cluster_admin,
    firewall,
    guest_changes,
    guest_exec,
    guests,
    guests_admin,
    monitoring,
    network,
    nodes,
    pools,
    power,
    storage,
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
    *guest_changes.ROUTES,
    *guest_exec.ROUTES,
    *backup.ROUTES,
    *network.ROUTES,
    *firewall.ROUTES,
    *pools.ROUTES,
    *access.ROUTES,
    *monitoring.ROUTES,
)

__all__ = ["ALL_ROUTES"]
