"""Readiness and metrics. (Skeleton until filled in.)"""

from __future__ import annotations

from typing import Any

from pvemcp.pve.client import ProxmoxClient


class Metrics:
    def observe_call(self, tool: str, outcome: str, code: str | None, seconds: float) -> None:
        pass

    def rate_limited(self) -> None:
        pass

    def render(self) -> str:
        return ""


class Readiness:
    def __init__(self, client: ProxmoxClient, ttl: float = 5.0) -> None:
        self.client = client
        self.ttl = ttl

    async def check(self) -> tuple[bool, dict[str, Any]]:
        return True, {}
