"""What the tool handlers send requests through, as a Protocol.

Three things answer it: the pooled `ProxmoxClient`, the client that checks every request against the
scope (server/scoped_client.py) and pve_preview's recorder, which sends reads and writes writes down
(server/preview.py). The latter two wrap another Upstream; none of them is a ProxmoxClient.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Protocol


class Upstream(Protocol):
    async def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send one API call and return its `data`; raises a classified PveMcpError."""
        ...

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

    async def post(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...


class Shortcuts(ABC):
    """`get` and `post` as `request` calls, for an Upstream that decides only what `request` does."""

    @abstractmethod
    async def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send one API call (or refuse it, or write it down): what each Upstream decides for itself."""

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.request("GET", path, params)

    async def post(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.request("POST", path, params)
