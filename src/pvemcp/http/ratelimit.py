"""Rate limiting per credential, else per client address (MCP_RATE_LIMIT_WINDOW_MS, MCP_RATE_LIMIT_MAX).

A fixed window per key: the first request of a key opens a window of `rate_limit_window` seconds in which
at most `rate_limit_max` requests are served. Every counted response says where the caller stands
(RateLimit-Policy, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset); a request over the limit gets a
sanitized 429 with Retry-After. Memory stays bounded: expired windows are dropped as time passes and, when
too many keys are live at once, the oldest windows are dropped first.

The middleware awaits a Limiter: this process's windows (LocalLimiter over FixedWindow), or with
MCP_SHARED_STATE_URL windows in Redis that every replica counts in as one (http/shared.py SharedWindows,
which falls back to this process's windows while Redis is unreachable).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pvemcp.http.auth import GRANT_KEY
from pvemcp.http.guards import error_response
from pvemcp.http.observe import Metrics
from pvemcp.http.settings import HttpSettings
from pvemcp.server.access import Grant

MAX_BUCKETS = 100_000


@dataclass(slots=True)
class Bucket:
    opened: float
    count: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    reset: float  # seconds until the key's window ends


class FixedWindow:
    """Counters per key, kept in the order their windows opened (so the oldest is always first)."""

    def __init__(
        self, limit: int, window: float, *, max_buckets: int = MAX_BUCKETS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_buckets = max_buckets
        self.clock = clock
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def hit(self, key: str) -> Decision:
        now = self.clock()
        self.expire(now)
        bucket = self.buckets.get(key)
        if bucket is None:
            while len(self.buckets) >= self.max_buckets:
                self.buckets.popitem(last=False)
            bucket = self.buckets[key] = Bucket(opened=now)
        reset = bucket.opened + self.window - now
        if bucket.count >= self.limit:
            return Decision(False, 0, reset)
        bucket.count += 1
        return Decision(True, self.limit - bucket.count, reset)

    def expire(self, now: float) -> None:
        while self.buckets:
            key, bucket = next(iter(self.buckets.items()))
            if bucket.opened + self.window > now:
                return
            del self.buckets[key]


class Limiter(Protocol):
    """Counts a request of a key and says whether it may be served."""

    limit: int

    async def hit(self, key: str) -> Decision: ...


class LocalLimiter:
    """This process's windows, for the middleware: counts per replica."""

    def __init__(self, windows: FixedWindow) -> None:
        self.windows = windows
        self.limit = windows.limit

    async def hit(self, key: str) -> Decision:
        return self.windows.hit(key)


def caller_key(scope: Scope) -> str:
    """The authenticated credential's name, else the client address (uvicorn resolved trusted proxies)."""
    grant = scope.get(GRANT_KEY)
    if isinstance(grant, Grant):
        return f"grant:{grant.name}"
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        settings: HttpSettings,
        metrics: Metrics,
        exempt: frozenset[str],
        *,
        limiter: Limiter | None = None,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        """limiter: windows shared by the replicas (MCP_SHARED_STATE_URL); None counts in this process alone."""
        self.app = app
        self.metrics = metrics
        self.exempt = exempt
        self.limiter = limiter or LocalLimiter(
            FixedWindow(settings.rate_limit_max, settings.rate_limit_window, max_buckets=max_buckets)
        )
        self.policy = f"{settings.rate_limit_max};w={math.ceil(settings.rate_limit_window)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        decision = await self.limiter.hit(caller_key(scope))
        headers = self.headers(decision)
        if not decision.allowed:
            self.metrics.rate_limited()
            retry = {"Retry-After": headers["RateLimit-Reset"]}
            await error_response(429, "Too many requests", headers={**headers, **retry})(scope, receive, send)
            return
        extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, counted_send)

    def headers(self, decision: Decision) -> dict[str, str]:
        return {
            "RateLimit-Policy": self.policy,
            "RateLimit-Limit": str(self.limiter.limit),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(max(1, math.ceil(decision.reset))),
        }
