"""Every route the simulator answers, in one table built from the handler modules."""

from __future__ import annotations

from ..routes import Route
from . import cluster, guests, nodes, power, storage, tasks

ALL_ROUTES: tuple[Route, ...] = (
    *cluster.ROUTES,
    *nodes.ROUTES,
    *guests.ROUTES,
    *power.ROUTES,
    *storage.ROUTES,
    *tasks.ROUTES,
)

__all__ = ["ALL_ROUTES"]
