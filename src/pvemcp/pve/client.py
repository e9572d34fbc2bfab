"""The async Proxmox VE API client: one pooled keep-alive connection set per endpoint.

Retries are for idempotent reads (GET) and transient failures only (connection errors, 502, 503,
504 and pveproxy's 596), with capped, jittered backoff. Writes are sent exactly once: a retried
`start` or `create` could act twice. Each request has a deadline that cancels it for real.

A failure on the way is reported in pvemcp's own fixed words, never in the HTTP library's: its text may
quote the request, and the request carries the token secret in its Authorization header.
"""

from __future__ import annotations

import errno
import logging
import random
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx2

from pvemcp import __version__
from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, ProxmoxApiError, ProxmoxTransportError, transport_error
from pvemcp.pve.tls import TlsConfig, classify_tls_failure
from pvemcp.secret_input import printable_ascii

log = logging.getLogger("pvemcp.pve")

API_PREFIX = "/api2/json"
TRANSIENT_STATUSES = frozenset({502, 503, 504, 596})
BAD_HEADER = "the request could not be sent: a header value is not valid (check the token settings)"
BAD_HEADER_HINT = (
    "The API token holds a character an HTTP header cannot carry (a line break, another control character or a"
    " non-ASCII character): check PROXMOX_USER, PROXMOX_REALM, PROXMOX_TOKEN_NAME and PROXMOX_TOKEN_SECRET"
    " (or the file PROXMOX_TOKEN_SECRET_FILE names)."
)
REFUSED_LOCALLY = "the request could not be sent: the HTTP library refused to build it"
REFUSED_LOCALLY_HINT = "Nothing reached Proxmox. This is a bug in pvemcp: report it with the tool and its arguments."
# Connections kept open to one endpoint. pveproxy runs 3 worker processes (max_workers) that each accept up
# to 500 connections (max_conn) and keep up to 100 of them alive (keep_alive), so 3 × 100 keep-alive
# connections stay far below what a node serves, while one burst of calls rarely needs more than 50 at
# once: beyond that, requests wait for a free connection instead of opening yet another TLS session.
MAX_CONNECTIONS = 50


class RequestNotSentError(ProxmoxTransportError):
    """The request never left this process, so nothing reached Proxmox and a retry cannot help."""


def bad_header() -> RequestNotSentError:
    return RequestNotSentError(ErrorCode.PROXMOX_AUTH_FAILED, BAD_HEADER, BAD_HEADER_HINT)


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A Proxmox API token; the secret never appears in repr() or logs."""

    user: str
    realm: str
    token_name: str
    secret: str = field(repr=False)

    @property
    def token_id(self) -> str:
        return f"{self.user}@{self.realm}!{self.token_name}"

    @property
    def header(self) -> str:
        return f"PVEAPIToken={self.token_id}={self.secret}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** (attempt - 1)))
        return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


def _pinned_transport(tls: TlsConfig, limits: httpx2.Limits) -> httpx2.AsyncHTTPTransport:
    import httpcore2

    from pvemcp.pve.pinning import PinningBackend

    transport = httpx2.AsyncHTTPTransport(verify=tls.ssl_context(), limits=limits)
    assert tls.fingerprint is not None
    # Pinning checks the certificate's fingerprint on the connected socket, before a request is sent; only
    # httpcore2's network backend sees that socket. httpx2's AsyncHTTPTransport builds its pool itself and
    # takes no backend argument, and the public way round it (a transport of our own over an httpcore2 pool)
    # would copy its request and error mapping. So the pool it built is replaced by one with the same
    # limits and a pinning backend.
    transport._pool = httpcore2.AsyncConnectionPool(
        ssl_context=tls.ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=PinningBackend(tls.fingerprint),
    )
    return transport


class ProxmoxClient:
    """Talks to one Proxmox endpoint. Build once, share everywhere, close at shutdown."""

    def __init__(
        self,
        base_url: str,
        token: ApiToken,
        *,
        tls: TlsConfig | None = None,
        timeout: float = 20.0,
        retry: RetryPolicy | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        tls = tls or TlsConfig()
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        if transport is None:
            if tls.fingerprint:
                transport = _pinned_transport(tls, limits)
            else:
                transport = httpx2.AsyncHTTPTransport(verify=tls.ssl_context(), limits=limits)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._token_id = token.token_id
        # A token no header can carry is not handed to the HTTP library, whose errors would quote it.
        self._unsendable = not printable_ascii(token.header)
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": f"pvemcp/{__version__}",
        } | ({} if self._unsendable else {"Authorization": token.header})
        self._api_url = self.base_url + API_PREFIX
        self._timeouts = httpx2.Timeout(timeout).as_dict()
        # Requests go straight to the transport: the pool, TLS and HTTP/1.1 are all there, and httpx2's
        # AsyncClient around it (base URL merging, cookies, auth and redirect hooks, none of which the API
        # needs) costs about a third of each request's CPU time, which a burst of calls adds up.
        self._transport = transport

    @property
    def token_id(self) -> str:
        return self._token_id

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.request("GET", path, params)

    async def post(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.request("POST", path, params)

    async def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send one API call and return its `data`; raises a classified PveMcpError."""
        method = method.upper()
        if self._unsendable:
            raise bad_header()
        attempts = self.retry.attempts if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            try:
                return await self._send_once(method, path, params, timeout or self.timeout)
            except (ProxmoxApiError, ProxmoxTransportError) as exc:
                transient = not isinstance(exc, RequestNotSentError) and (
                    exc.code in (ErrorCode.CONNECTION_REFUSED, ErrorCode.CONNECTION_RESET)
                    or exc.status in TRANSIENT_STATUSES
                )
                if not transient or attempt == attempts:
                    raise
                delay = self.retry.delay(attempt)
                log.info("retrying %s %s after %s (attempt %d, %.2fs)", method, path, exc.code, attempt, delay)
                await anyio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, method: str, path: str, params: Mapping[str, Any] | None, timeout: float) -> Any:
        pairs = wire.encode_params(params)
        started = time.perf_counter()
        try:
            with anyio.fail_after(timeout):
                if method in ("GET", "DELETE"):
                    request = httpx2.Request(
                        method,
                        self._api_url + path,
                        params=tuple(pairs),
                        headers=self._headers,
                        extensions={"timeout": self._timeouts},
                    )
                else:
                    request = httpx2.Request(
                        method,
                        self._api_url + path,
                        content=urlencode(pairs).encode(),
                        headers=self._headers | {"Content-Type": "application/x-www-form-urlencoded"},
                        extensions={"timeout": self._timeouts},
                    )
                response = await self._transport.handle_async_request(request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except TimeoutError:
            raise transport_error(
                ErrorCode.TIMEOUT, f"Proxmox did not answer {method} {path} within {timeout:g} s."
            ) from None
        except httpx2.TimeoutException:
            raise transport_error(
                ErrorCode.TIMEOUT, f"Proxmox did not answer {method} {path} within {timeout:g} s."
            ) from None
        except (httpx2.TransportError, UnicodeError) as exc:
            raise _classify_transport(exc, method, path) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("%s %s -> %d (%.1f ms)", method, path, response.status_code, elapsed_ms)
        return wire.unwrap(
            response.status_code,
            response.reason_phrase,
            response.headers.get("content-type", ""),
            response.content,
            path,
        )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _local_refusal(chain: list[BaseException]) -> RequestNotSentError | None:
    """The HTTP library would not build the request: a header it cannot encode or frame, or another reason."""
    for item in chain:
        if isinstance(item, UnicodeError):
            return bad_header()
        if type(item).__name__ == "LocalProtocolError":  # h11's, or httpcore2's and httpx2's wrapping it
            if "header" in str(item).lower():  # read to choose the wording, never shown
                return bad_header()
            return RequestNotSentError(ErrorCode.CONNECTION_RESET, REFUSED_LOCALLY, REFUSED_LOCALLY_HINT)
    return None


def _os_reason(chain: list[BaseException]) -> str:
    """The operating system's short reason (e.g. "Connection refused"), when the chain holds one."""
    reason = next((item.strerror for item in chain if isinstance(item, OSError) and item.strerror), None)
    return f": {reason}" if reason else ""


def _classify_transport(exc: BaseException, method: str, path: str) -> ProxmoxTransportError:
    """A transport failure in fixed words: the library's own text is never passed on (it may quote headers)."""
    chain = _chain(exc)
    refused = _local_refusal(chain)
    if refused is not None:
        return refused
    tls = classify_tls_failure(exc)
    if tls is not None:
        return tls
    where = f"{method} {path}"
    for item in chain:
        if isinstance(item, ConnectionRefusedError):
            return transport_error(ErrorCode.CONNECTION_REFUSED, f"Connection refused ({where}).")
        if isinstance(item, socket.gaierror):
            return transport_error(ErrorCode.DNS_RESOLUTION_FAILED, f"Host name lookup failed{_os_reason([item])}.")
        if isinstance(item, OSError) and item.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN):
            return transport_error(ErrorCode.HOST_UNREACHABLE, f"Host unreachable ({where}){_os_reason([item])}.")
    if isinstance(exc, httpx2.ConnectError):
        return transport_error(ErrorCode.CONNECTION_REFUSED, f"Could not connect ({where}){_os_reason(chain)}.")
    if isinstance(exc, httpx2.RemoteProtocolError):
        return transport_error(
            ErrorCode.CONNECTION_RESET, f"Proxmox closed the connection or broke the HTTP protocol during {where}."
        )
    return transport_error(ErrorCode.CONNECTION_RESET, f"The connection failed during {where} ({type(exc).__name__}).")
