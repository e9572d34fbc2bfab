"""Which SSH connection reaches a node: the entry host, the node's own address, or a jump through the entry host.

The cluster's view of its members comes from /cluster/status (name and corosync address per node), cached
briefly: nodes rarely change, and one diagnostic batch should not ask Proxmox once per command.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from pvemcp.pve.client import ProxmoxClient
from pvemcp.pve.errors import ErrorCode, PveMcpError, ToolCallError
from pvemcp.ssh.channel import Route
from pvemcp.ssh.settings import SshSettings, valid_host, valid_node

STATUS_TTL = 30.0


@dataclass(frozen=True, slots=True)
class Hop:
    """Where one node's commands go. `address` is what the connection dials (through the entry host for a jump)."""

    node: str
    route: Route
    address: str

    @property
    def key(self) -> str:
        """Commands to the same place share a connection: the entry host is one key however it is named."""
        return f"jump:{self.address}" if self.route == "jump" else f"host:{self.address}"


class Router:
    def __init__(
        self,
        settings: SshSettings,
        client: ProxmoxClient,
        *,
        ttl: float = STATUS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._members: dict[str, str | None] | None = None
        self._fetched = 0.0
        self._lock = anyio.Lock()

    @property
    def entry(self) -> Hop:
        return Hop(self._settings.host, "entry", self._settings.host)

    async def route(self, node: str | None) -> Hop:
        settings = self._settings
        if node is None:
            return Hop(await self._entry_name(), "entry", settings.host)
        if not valid_node(node):
            raise ToolCallError(ErrorCode.TOOL_INPUT_REJECTED, f"{node!r} is not a node name.")
        pinned = settings.node_hosts.get(node)
        if pinned is not None:
            return Hop(node, "entry" if pinned == settings.host else "direct", pinned)
        members = await self.members()
        if node not in members:
            known = ", ".join(sorted(members)) or "none"
            raise ToolCallError(
                ErrorCode.TOOL_INPUT_REJECTED,
                f"The cluster has no node named {node!r}.",
                f"Known nodes: {known}.",
            )
        address = members[node]
        if node == settings.host or address == settings.host or len(members) == 1:
            return Hop(node, "entry", settings.host)
        if address:
            return Hop(node, "direct", address)
        return Hop(node, "jump", node)

    async def members(self) -> dict[str, str | None]:
        """Node name → its address from /cluster/status (None when it has none usable)."""
        async with self._lock:
            now = self._clock()
            if self._members is None or now - self._fetched > self._ttl:
                self._members = _members(await self._client.get("/cluster/status"))
                self._fetched = now
            return dict(self._members)

    async def _entry_name(self) -> str:
        """The entry host's node name when the cluster says which one it is; its address otherwise."""
        host = self._settings.host
        try:
            members = await self.members()
        except PveMcpError:
            return host
        for name, address in members.items():
            if host in (name, address):
                return name
        return next(iter(members)) if len(members) == 1 else host


def _members(status: Any) -> dict[str, str | None]:
    members: dict[str, str | None] = {}
    for item in status if isinstance(status, list) else []:
        if not isinstance(item, Mapping) or item.get("type") != "node":
            continue
        name = str(item.get("name") or "")
        if not valid_node(name):
            continue
        address = str(item.get("ip") or "")
        members[name] = address if _address(address) else None
    return members


def _address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return bool(value) and valid_host(value)
    return True
