"""Raw HTTP/1.1 over real sockets, for requests a well-behaved client would never send."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import uvicorn
from starlette.types import ASGIApp

from pvemcp.http.protocol import guarded_protocol
from pvemcp.http.settings import HttpSettings


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return Answer(int(lines[0].split()[1]), headers, body)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def connect(port: int, *, source: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


def exchange(port: int, *parts: bytes, pause: float = 0.0, source: str = "127.0.0.1") -> bytes:
    """Send `parts` (with `pause` seconds between them), then read until the server closes."""
    with connect(port, source=source) as sock:
        for index, part in enumerate(parts):
            if index and pause:
                time.sleep(pause)
            sock.sendall(part)
        return read_all(sock)


def trickle(port: int, data: bytes, *, pause: float) -> bytes:
    """Send `data` one byte every `pause` seconds until the server answers, then read until it closes."""
    with connect(port) as sock:
        for byte in data:
            sock.sendall(bytes([byte]))
            readable, _, _ = select.select([sock], [], [], pause)
            if readable:
                break
        return read_all(sock)


def request(
    method: str,
    path: str,
    *,
    host: str = "127.0.0.1",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    close: bool = True,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


@contextmanager
def serve_asgi(app: ASGIApp, settings: HttpSettings | None = None) -> Iterator[int]:
    """Serve a bare ASGI app with uvicorn and our protocol on a loopback port; yields the port."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        http=guarded_protocol(settings or HttpSettings()),
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
    started = threading.Event()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve)
            while not server.started and not server.should_exit:  # noqa: ASYNC110 - uvicorn offers a flag only
                await anyio.sleep(0.005)
            started.set()

    thread = threading.Thread(target=anyio.run, args=(main,), name="asgi-under-test", daemon=True)
    thread.start()
    started.wait(10)
    try:
        assert server.started, "uvicorn did not start"
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
