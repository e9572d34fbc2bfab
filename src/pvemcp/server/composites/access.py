"""Composite handlers for access tools."""

from __future__ import annotations

from pvemcp.server.call import Handler

HANDLERS: dict[str, Handler] = {}
