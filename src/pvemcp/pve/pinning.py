"""Certificate pinning on the connected socket, before a request is sent (PROXMOX_TLS_FINGERPRINT).

Kept apart from pve/tls.py so that httpcore2 loads only when a pinned client is built, not at start-up.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2

from pvemcp.pve.tls import format_fingerprint, normalize_fingerprint


class _PinnedStream(httpcore2.AsyncNetworkStream):
    def __init__(self, inner: httpcore2.AsyncNetworkStream, expected: str) -> None:
        self._inner = inner
        self._expected = expected

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        ssl_object = stream.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        actual = hashlib.sha256(der).hexdigest() if der else ""
        if actual != self._expected:
            await stream.aclose()
            raise httpcore2.ConnectError(
                f"certificate fingerprint mismatch: expected {format_fingerprint(self._expected)},"
                f" got {format_fingerprint(actual) if actual else 'no certificate'}"
            )
        return stream

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class PinningBackend(httpcore2.AsyncNetworkBackend):
    """Network backend that checks the peer certificate's sha256 right after the handshake."""

    def __init__(self, fingerprint: str) -> None:
        self._expected = normalize_fingerprint(fingerprint)
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _PinnedStream(stream, self._expected)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return _PinnedStream(stream, self._expected)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
