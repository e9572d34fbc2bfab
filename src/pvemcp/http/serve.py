"""`pvemcp run --transport http`: build everything once, then serve it with uvicorn.

The listening sockets are bound here, before anything else is built, so an address already in use is one
line naming it and the setting that moves it (ListenError), not uvicorn's exit from inside its task.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

    from pvemcp.http.observe import Metrics
    from pvemcp.http.settings import HttpConfig, HttpSettings
    from pvemcp.http.shared import SharedState
    from pvemcp.pve.client import ProxmoxClient
    from pvemcp.server.dispatch import Runtime

log = logging.getLogger("pvemcp")
BACKLOG = 2048  # uvicorn's own default


@dataclass(slots=True)
class HttpService:
    """One deployment's HTTP application and what it was built from."""

    app: Starlette
    runtime: Runtime
    metrics: Metrics
    settings: HttpSettings
    shared: SharedState | None = None  # MCP_SHARED_STATE_URL: the Redis client (the app's lifespan closes it too)

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.aclose()
        if self.runtime.audit is not None:
            self.runtime.audit.close()
        if self.runtime.ssh is not None:
            await self.runtime.ssh.close()
        await self.runtime.client.aclose()


async def build_service(config: HttpConfig, client: ProxmoxClient) -> HttpService:
    """The server, every caller's listing and the Starlette app, built before the first request."""
    from pvemcp.compose import make_runtime
    from pvemcp.http.app import ANONYMOUS_CALLER, build_http_app, identify
    from pvemcp.http.auth import load_authenticator
    from pvemcp.http.observe import Metrics, Readiness
    from pvemcp.server.app import build_server

    settings = config.http
    assert settings is not None, "build_service needs the HTTP settings (MCP_TRANSPORT=http)"
    runtime = make_runtime(config, client)
    metrics = Metrics()
    runtime.observe = metrics.observe_call
    shared: SharedState | None = None
    if settings.shared_state is not None:  # redis is imported only then
        from pvemcp.http.shared import SharedState

        shared = SharedState(settings.shared_state, metrics)
        runtime.approvals = shared.approvals  # before the callers' views below copy the runtime
        await shared.announce()
    authenticator = await load_authenticator(settings, config.policy.tier)
    if authenticator is not None:
        for grant in authenticator.known_grants():
            runtime.for_caller(grant)  # every token's listing is built now, not at its first request
    server = build_server(runtime, caller=ANONYMOUS_CALLER, identify=identify, state_keys=settings.state_keys)
    app = build_http_app(
        server,
        runtime,
        settings,
        authenticator=authenticator,
        metrics=metrics,
        readiness=Readiness(client, shared=shared.ping if shared is not None else None),
        shared=shared,
    )
    return HttpService(app, runtime, metrics, settings, shared)


def uvicorn_config(app: Starlette, settings: HttpSettings) -> uvicorn.Config:
    import uvicorn

    from pvemcp.http.protocol import guarded_protocol

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=guarded_protocol(settings),
        loop="asyncio",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=settings.keepalive_timeout,  # type: ignore[arg-type]  # a float is honoured
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        timeout_graceful_shutdown=5,
        backlog=BACKLOG,
    )


class ListenError(Exception):
    """The address MCP_HOST and MCP_PORT name cannot be listened on; the message says which and what to change."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        change, setting = "another port", "MCP_PORT"
        if error.errno == errno.EADDRINUSE:
            reason = "the address is already in use (another server listens there)"
        elif error.errno == errno.EACCES:
            reason, change = "permission denied (ports below 1024 need privileges)", "a port above 1023"
        else:
            reason = error.strerror or str(error)
            change, setting = "another address", "MCP_HOST"
        super().__init__(
            f"pvemcp cannot listen on {where}: {reason}; choose {change} with {setting}"
            f" (or {setting.lower()} in the configuration file)"
        )


def listen(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Bound, listening sockets for every address `host` names, as asyncio's create_server binds them.

    "*" means every interface. Raises ListenError, with nothing left open, when one cannot be bound.
    """
    bind_host = None if host in ("*", "") else host
    sockets: list[socket.socket] = []
    try:
        infos = socket.getaddrinfo(bind_host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ListenError(host, port, exc) from None
    return sockets


def bound_port(server: uvicorn.Server, default: int) -> int:
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    return default


def client_config(url: str, *, sandbox: bool, token_hint: bool) -> dict[str, Any]:
    """What an MCP client needs to reach this server (the shape Claude Code, Cursor and VS Code accept)."""
    entry: dict[str, Any] = {"type": "http", "url": url}
    if token_hint:
        entry["headers"] = {"Authorization": "Bearer <your token>"}
    return {"mcpServers": {"pvemcp-sandbox" if sandbox else "pvemcp": entry}}


async def serve_http(config: HttpConfig, listing: Callable[[Runtime], str], *, print_config: bool = False) -> None:
    """Serve until uvicorn is told to stop; `listing` says what tools/list shows. Raises ListenError first."""
    import anyio
    import uvicorn

    from pvemcp.compose import log_safety, make_client, settle_heap

    settings = config.http
    assert settings is not None
    if not settings.authenticated and not settings.loopback:
        log.warning(
            "MCP_ALLOW_UNAUTHENTICATED=true: serving without authentication on %s; anyone who reaches the port"
            " can use every tool up to tier %s",
            settings.host,
            config.policy.tier.label,
        )
    sockets = listen(settings.host, settings.port, BACKLOG)
    client = make_client(config)
    service: HttpService | None = None
    try:
        service = await build_service(config, client)
        server = uvicorn.Server(uvicorn_config(service.app, settings))
        settle_heap()
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, sockets)
            while not server.started and not server.should_exit:  # noqa: ASYNC110 - uvicorn offers a flag, no event
                await anyio.sleep(0.01)
            if server.started:
                _announce(config, bound_port(server, settings.port), listing(service.runtime), print_config)
                log_safety(config)
    finally:
        for sock in sockets:
            sock.close()  # uvicorn closes its listeners at shutdown; these are closed if it never started
        if service is not None:
            await service.aclose()
        else:
            await client.aclose()


def _session_limits(settings: HttpSettings) -> str:
    idle = settings.session_idle_timeout
    shown = f"{idle / 60:g} min" if idle >= 60 else f"{idle:g} s"
    return (
        f"sessions: at most {settings.max_sessions}, {settings.max_sessions_per_caller} per caller,"
        f" closed after {shown} idle"
    )


def _announce(config: HttpConfig, port: int, tools: str, print_config: bool) -> None:
    settings = config.http
    assert settings is not None
    host = "127.0.0.1" if settings.wildcard else settings.host
    url = settings.public_url or f"http://{f'[{host}]' if ':' in host else host}:{port}/mcp"
    auth = "bearer tokens" if settings.tokens_file or settings.token else "OAuth" if settings.oauth else "none"
    log.info(
        "serving %s over Streamable HTTP at %s (tier %s, authentication %s, %s)",
        tools,
        url,
        config.policy.tier.label,
        auth,
        "stateless" if settings.stateless else _session_limits(settings),
    )
    if print_config:
        sys.stderr.write(
            f"pvemcp is serving {'the sandbox cluster' if config.sandbox else 'Proxmox VE'} at {url}\n"
            "To use it from an MCP client (Claude Code, Cursor, VS Code), add this to its MCP configuration:\n"
            + json.dumps(client_config(url, sandbox=config.sandbox, token_hint=auth != "none"), indent=2)
            + "\nPress Ctrl-C to stop.\n"
        )
        sys.stderr.flush()
