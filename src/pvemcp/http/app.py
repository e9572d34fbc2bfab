"""The Starlette application behind `pvemcp run --transport http`, assembled once at start-up.

Layers, outermost first (each is a plain ASGI middleware, so a refused request costs no routing):

    SecurityHeaders   nosniff + no-store on every response; any unhandled error becomes sanitized JSON
    HostOriginGuard   Host must be an allowed name (DNS rebinding); an Origin header must be allowed
    RequestLimits     header count, body size (413, declared or streamed), time to receive the request
    Authenticate      who is calling: a bearer token or an OAuth access token (identifies, never refuses)
    RateLimit         per credential, else per client address: 429 with Retry-After and RateLimit-*
    RequireAuth       401/403 with WWW-Authenticate for protected routes
    routes            /mcp (the SDK's Streamable HTTP transport behind SessionLimits: 2025-11-25 sessions
                      capped per caller and in all), /health, /ready, /metrics,
                      /.well-known/oauth-protected-resource (OAuth mode)

The MCP server, its listings and every caller's view are built before the first request; nothing is
rebuilt per request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from pvemcp.http.auth import GRANT_KEY, Authenticate, Authenticator, RequireAuth, protected_resource_routes
from pvemcp.http.guards import HostOriginGuard, RequestLimits, SecurityHeaders
from pvemcp.http.observe import Metrics, Readiness
from pvemcp.http.ratelimit import RateLimit
from pvemcp.http.replica import SessionRouting
from pvemcp.http.sessions import SessionBook, SessionLimits
from pvemcp.http.settings import HttpSettings
from pvemcp.server.access import Grant
from pvemcp.server.dispatch import Runtime

if TYPE_CHECKING:
    from pvemcp.http.shared import SharedState

MCP_PATH = "/mcp"
# Who a request without a credential is, in the logs and the audit log: only a server without authentication
# (loopback, or MCP_ALLOW_UNAUTHENTICATED) lets one through, and it must never pass for the local stdio user.
ANONYMOUS_CALLER = "http:anonymous"


def identify(ctx: ServerRequestContext[Any]) -> Grant | None:
    """The grant Authenticate attached to the HTTP request that carries this MCP request."""
    request = ctx.request
    if isinstance(request, Request):
        grant = request.scope.get(GRANT_KEY)
        if isinstance(grant, Grant):
            return grant
    return None


def build_http_app(
    server: Server[Any],
    runtime: Runtime,
    settings: HttpSettings,
    *,
    authenticator: Authenticator | None,
    metrics: Metrics,
    readiness: Readiness,
    shared: SharedState | None = None,
) -> Starlette:
    """shared: the Redis state of MCP_SHARED_STATE_URL (approvals are in the runtime already; the rate limit's
    windows are built on it here); closed when the app shuts down."""
    manager = StreamableHTTPSessionManager(
        app=server,
        json_response=False,  # SSE, so progress notifications reach the client while a task runs
        stateless=settings.stateless,
        # Host and Origin are checked for every route by HostOriginGuard, with our settings.
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        max_request_body_size=settings.max_body_bytes,
        session_idle_timeout=settings.session_idle_timeout,
        # A backstop only: SessionLimits refuses first, with a better answer. Twice the cap, so it never fires
        # first, not even while the SDK has yet to reap a session whose idle time just ran out.
        max_sessions=2 * settings.max_sessions,
    )
    mcp: ASGIApp = StreamableHTTPASGIApp(manager)
    if not settings.stateless:
        book = SessionBook(settings.max_sessions, settings.max_sessions_per_caller, settings.session_idle_timeout)
        metrics.open_sessions = book.live
        mcp = SessionLimits(mcp, book, metrics)
        if settings.replica_id is not None:  # session IDs name this replica, for the load balancer
            mcp = SessionRouting(mcp, settings.replica_id)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": "pvemcp"})

    async def ready(request: Request) -> Response:
        ok, detail = await readiness.check()
        return JSONResponse({"status": "ready" if ok else "not ready", **detail}, status_code=200 if ok else 503)

    async def metrics_page(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    routes: list[BaseRoute] = [
        Route(MCP_PATH, endpoint=mcp, methods=["GET", "POST", "DELETE"]),
        Route("/health", endpoint=health, methods=["GET"]),
        Route("/ready", endpoint=ready, methods=["GET"]),
        Route("/metrics", endpoint=metrics_page, methods=["GET"]),
    ]
    if settings.oauth is not None:
        routes.extend(protected_resource_routes(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with manager.run():
                yield
        finally:
            if shared is not None:
                await shared.aclose()

    limiter = None if shared is None else shared.windows(settings.rate_limit_max, settings.rate_limit_window)
    public = {"/health", "/ready"} | ({"/metrics"} if settings.metrics_public else set())
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(HostOriginGuard, settings=settings),
        Middleware(RequestLimits, settings=settings),
        Middleware(Authenticate, authenticator=authenticator),
        Middleware(RateLimit, settings=settings, metrics=metrics, exempt=frozenset({"/health"}), limiter=limiter),
        Middleware(RequireAuth, authenticator=authenticator, settings=settings, public=frozenset(public)),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
