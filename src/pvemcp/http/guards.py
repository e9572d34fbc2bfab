"""Request hardening in front of every route.

Each layer is a plain ASGI middleware that refuses early, before routing or authentication, and every
refusal has the same sanitized JSON-RPC error shape (`error_response`), so a client never sees a stack
trace, a framework's plain-text page or a hint about the software behind the port.
"""

from __future__ import annotations

import http
import json
import logging
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import anyio
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pvemcp.http.settings import LOOPBACK_NAMES, HttpSettings, normalize_host

log = logging.getLogger("pvemcp.http")

INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
)
_REPLACED = frozenset({b"x-content-type-options", b"cache-control", b"server"})
_CONTENT_HEADERS = frozenset({b"content-type", b"content-length", b"transfer-encoding", b"content-encoding"})
_BODY_FREE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # never buffered: GET /mcp is a long SSE stream


def error_body(message: str, code: int = SERVER_ERROR) -> bytes:
    """The one error body every refusal carries: a JSON-RPC error with no request id."""
    document = {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": None}
    return json.dumps(document, separators=(",", ":")).encode()


def error_response(
    status: int, message: str, *, code: int = SERVER_ERROR, headers: Mapping[str, str] | None = None
) -> Response:
    """A sanitized JSON error response (nosniff and no-store are added by SecurityHeaders)."""
    return Response(error_body(message, code), status_code=status, headers=headers, media_type="application/json")


def status_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _is_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


class SecurityHeaders:
    """nosniff and no-store on every response, no Server header, and sanitized JSON for every error.

    An error response the inner app renders as anything but JSON (Starlette's plain-text 404/405, for
    example) is replaced by the sanitized body with the same status and headers; an exception that escapes
    before the response started becomes a sanitized 500 and is logged here, never shown to the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False  # the response start went out: too late for a 500
        replacing: Message | None = None  # the held response start of an error being rewritten

        async def secured_send(message: Message) -> None:
            nonlocal started, replacing
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _REPLACED]
                message = {**message, "headers": [*headers, *SECURITY_HEADERS]}
                if status >= 400 and not _is_json(headers):
                    replacing = message
                    return
            elif message["type"] == "http.response.body" and replacing is not None:
                if message.get("more_body", False):
                    return
                start, replacing = replacing, None
                started = True
                await _send_error(send, start, int(start["status"]), status_phrase(int(start["status"])))
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, secured_send)
        except Exception:
            log.exception("unhandled error while serving %s %r", scope.get("method"), scope.get("path"))
            if not started:
                await _send_error(send, None, 500, "Internal server error", INTERNAL_ERROR)
            # Once the response started, returning without finishing it makes the server drop the connection.


async def _send_error(send: Send, start: Message | None, status: int, message: str, code: int = SERVER_ERROR) -> None:
    body = error_body(message, code)
    kept = [] if start is None else [(k, v) for k, v in start["headers"] if k.lower() not in _CONTENT_HEADERS]
    headers = [
        *kept,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *([] if start is not None else SECURITY_HEADERS),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class HostOriginGuard:
    """DNS-rebinding and cross-site protection for every route: the Host and any Origin must be ours."""

    def __init__(self, app: ASGIApp, settings: HttpSettings) -> None:
        self.app = app
        self.settings = settings
        names = set(settings.allowed_hosts)
        if settings.wildcard or settings.loopback:
            names |= LOOPBACK_NAMES
        if not settings.wildcard:
            names.add(normalize_host(settings.host))
        self.hosts = frozenset(names)
        self.origins = frozenset(origin.lower() for origin in settings.allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> Response | None:
        host = (_header(scope, b"host") or b"").decode("latin-1").strip()
        if not host:
            return error_response(400, "Host header is missing")
        if normalize_host(host) not in self.hosts:
            return error_response(403, "Host header is not allowed")
        origin = _header(scope, b"origin")
        if origin is not None and not self.origin_allowed(origin.decode("latin-1").strip().lower()):
            return error_response(403, "Origin is not allowed")
        return None

    def origin_allowed(self, origin: str) -> bool:
        if origin.rstrip("/") in self.origins:
            return True
        try:
            parts = urlsplit(origin)
            name = parts.hostname
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and name is not None and name in self.hosts


class RequestLimits:
    """Header count, body size and the time to receive a request, enforced before the app sees it.

    A request body is read here in full (up to the limit) and replayed to the app, so an oversized or
    trickled body never reaches a route; GET, HEAD and OPTIONS pass straight through.
    """

    def __init__(self, app: ASGIApp, settings: HttpSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope["headers"]) > self.settings.max_headers:
            await _refuse(scope, receive, send, 431, "Too many request headers")
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.settings.max_body_bytes:
            await _refuse(scope, receive, send, 413, "Request body is too large")
            return
        if scope["method"] in _BODY_FREE_METHODS:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        complete = False
        with anyio.move_on_after(self.settings.request_timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                if len(body) > self.settings.max_body_bytes:
                    await _refuse(scope, receive, send, 413, "Request body is too large")
                    return
                if not message.get("more_body", False):
                    complete = True
                    break
        if not complete:
            await _refuse(scope, receive, send, 408, "Request was not received in time")
            return
        await self.app(scope, _replay(bytes(body), receive), send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    """Refuse and close the connection: the rest of the request is never read."""
    await error_response(status, message, headers={"Connection": "close"})(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then the connection's own messages (disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
