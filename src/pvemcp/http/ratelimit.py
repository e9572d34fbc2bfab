"""Rate limiting per credential, else per client address. (Skeleton: pass-through until filled in.)"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from pvemcp.http.observe import Metrics
from pvemcp.http.settings import HttpSettings


class RateLimit:
    def __init__(self, app: ASGIApp, settings: HttpSettings, metrics: Metrics, exempt: frozenset[str]) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
