"""Simulated access endpoints."""

from __future__ import annotations

from ..routes import Route

ROUTES: tuple[Route, ...] = ()
