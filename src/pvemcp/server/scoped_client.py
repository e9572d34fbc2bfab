"""The client handlers get: every request is checked against the scope before it leaves, as sent.

The guard (server/guard.py) checks a call's main request before anyone is asked to confirm it. A handler may
send more: a composite reads before it writes, a raw call's answer may be a task that is then followed. This
client runs the same reach and guard on each of those requests, from the path and parameters it is handed,
so a handler cannot reach past the scope even by mistake. Guests it names are read fresh once per call:
a write reuses the cluster read the guard made for this call rather than reading the cluster again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from pvemcp.pve import wire
from pvemcp.pve.upstream import Shortcuts, Upstream
from pvemcp.server.guard import enforce
from pvemcp.server.reach import raw_reach
from pvemcp.server.resolve import GuestRef, Locator
from pvemcp.server.scope import Scope


class CallLocator:
    """The runtime's locator, for which "fresh" means "read since this call began"."""

    def __init__(self, inner: Locator, since: float) -> None:  # shares `inner`'s cache; owns nothing
        self._inner = inner
        self._since = since

    @property
    def client(self) -> Upstream:
        return self._inner.client

    async def guests(self, *, fresh: bool = False, since: float | None = None) -> Mapping[int, GuestRef]:
        return await self._inner.guests(fresh=fresh, since=self._since)

    async def locate(self, vmid: int, *, fresh: bool = False, since: float | None = None) -> GuestRef:
        return await self._inner.locate(vmid, fresh=fresh, since=self._since)


class ScopedClient(Shortcuts):
    """Sends through `inner` what the scope allows; refuses the rest with the guard's own errors."""

    def __init__(self, inner: Upstream, scope: Scope, locator: Locator, since: float) -> None:
        """since: when the call began (time.monotonic()); cluster reads made after it count as fresh."""
        self._inner = inner  # wraps `inner`; owns no connection of its own
        self._scope = scope
        self._locator = CallLocator(locator, since)

    async def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        method = method.upper()
        if self._scope.restricted or (method != "GET" and self._scope.protected_tag):
            segments = [unquote(segment) for segment in path.strip("/").split("/")]
            reach = raw_reach(method, path, wire.encode_params(params), segments)
            await enforce(self._scope, self._locator, reach, write=method != "GET")
        return await self._inner.request(method, path, params, timeout=timeout)
