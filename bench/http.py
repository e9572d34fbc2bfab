"""Throughput of `pvemcp run --sandbox --transport http`: 20 clients calling pve_list_nodes for 10 s.

One fresh server process per row, every layer in place (headers, Host check, limits, rate limit,
authentication hook, the SDK's Streamable HTTP transport). The load generator is deliberately lean:
raw HTTP/1.1 over asyncio streams with one keep-alive connection per client, so the figures measure
the server, not an HTTP client library. Peak RSS is the server's VmHWM (psutil where /proc is missing).

- 2026-07-28: every request carries its own envelope (protocol version and client capabilities in
  `_meta`, the mcp-* headers); no session.
- 2025-11-25: each client initializes once, then calls tools/call on its session (SSE responses).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.common import QUIET_ENV, ROOT, Headline, Report, Table, mib, ms, percentile, venv_script

CLIENTS = 20
SECONDS = 10.0
WARMUP_SECONDS = 1.0
TOOL = "pve_list_nodes"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
AIM_RPS = 500
AIM_MIB = 150
RATE_LIMIT_MAX = 1_000_000_000  # the bench's single address would otherwise meet the 120/minute default
START_TIMEOUT = 30.0


@dataclass(slots=True)
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def failed(self, why: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or why


@dataclass(frozen=True, slots=True)
class Outcome:
    era: str
    requests: int
    seconds: float
    p50: float
    p95: float
    errors: int
    first_error: str
    server_cpu: float  # seconds of the server's CPU during the measured window
    client_cpu: float  # seconds of this process's CPU (the load generator) during the window
    rss: int
    peak_rss: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


# ---------------------------------------------------------------- the server


@dataclass(slots=True)
class Server:
    host: str
    port: int
    pid: int
    token: str | None = None  # the bearer token every request carries (MCP_AUTH_TOKEN)

    def headers(self, **extra: str) -> dict[str, str]:
        auth = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return {**JSON_HEADERS, **auth, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(f"GET /health HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n\r\n".encode())
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@contextmanager
def serving(token: str | None = None, **settings: str) -> Iterator[Server]:
    """`pvemcp run --sandbox --transport http` (plus MCP_* `settings`) on a free loopback port, until the block ends.

    The server logs at warning level (a line per call would cost time we are not measuring), so it is
    ready when /health answers rather than when it says so.
    """
    port = free_port()
    env = {
        **QUIET_ENV,
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "MCP_PORT": str(port),
        "MCP_RATE_LIMIT_MAX": str(RATE_LIMIT_MAX),
        **({"MCP_AUTH_TOKEN": token} if token else {}),
        **settings,
    }
    argv = [venv_script("pvemcp"), "run", "--sandbox", "--transport", "http"]
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tail: deque[str] = deque(maxlen=20)
    threading.Thread(target=drain, args=(proc, tail), daemon=True).start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"pvemcp did not start serving on 127.0.0.1:{port} (exit status {proc.poll()}):\n" + "".join(tail)
                )
            time.sleep(0.05)
        yield Server("127.0.0.1", port, proc.pid, token)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def drain(proc: subprocess.Popen[str], tail: deque[str]) -> None:
    """Read the server's stderr to its end (a full pipe would block it), keeping the last lines."""
    assert proc.stderr is not None
    for line in proc.stderr:
        tail.append(line)


def memory(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process in bytes."""
    path = Path(f"/proc/{pid}/status")
    if path.exists():
        values = {}
        for line in path.read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) * 1024
        return values["VmRSS"], values["VmHWM"]
    rss = int(psutil.Process(pid).memory_info().rss)
    return rss, rss


# ---------------------------------------------------------------- the load generator


class Connection:
    """One keep-alive HTTP/1.1 connection that sends a POST and reads the whole answer."""

    def __init__(self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.host = f"{server.host}:{server.port}"
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server: Server) -> Connection:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        return cls(server, reader, writer)

    def close(self) -> None:
        self.writer.close()

    def request(self, body: bytes, headers: dict[str, str], method: str = "POST") -> bytes:
        head = [f"{method} /mcp HTTP/1.1", f"host: {self.host}", f"content-length: {len(body)}"]
        head.extend(f"{name}: {value}" for name, value in headers.items())
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    async def exchange(self, raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(b":")
                fields[name.strip().lower()] = value.strip()
        if b"content-length" in fields:
            body = await self.reader.readexactly(int(fields[b"content-length"]))
        elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(part[:-2] for part in parts)
        else:
            body = b""
        return status, fields, body


def call_body(request_id: int, meta: dict[str, object] | None = None) -> bytes:
    params: dict[str, object] = {"name": TOOL, "arguments": {}}
    if meta is not None:
        params["_meta"] = meta
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}).encode()


def answered(status: int, body: bytes) -> str:
    """'' for a successful tool result, else why not."""
    if status != 200:
        return f"HTTP {status}: {body[:120]!r}"
    if b'"result"' not in body:
        return f"no result: {body[:120]!r}"
    if b'"isError":true' in body:
        return f"tool error: {body[:160]!r}"
    return ""


async def modern_client(server: Server, until: float, counting_from: float, tally: Tally) -> None:
    conn = await Connection.open(server)
    meta: dict[str, object] = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    headers = server.headers(**{"mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": TOOL})
    raw = conn.request(call_body(1, meta), headers)
    try:
        while (started := time.perf_counter()) < until:
            try:
                status, _, body = await conn.exchange(raw)
            except (OSError, asyncio.IncompleteReadError) as exc:  # the server closed the connection: reconnect
                tally.failed(f"connection lost: {exc!r}")
                conn.close()
                conn = await Connection.open(server)
                continue
            if started >= counting_from:
                tally.latencies.append(time.perf_counter() - started)
                if why := answered(status, body):
                    tally.failed(why)
    finally:
        conn.close()


async def legacy_client(server: Server, until: float, counting_from: float, tally: Tally) -> None:
    conn = await Connection.open(server)
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
    }
    status, fields, body = await conn.exchange(conn.request(json.dumps(init).encode(), server.headers()))
    session = fields.get(b"mcp-session-id", b"").decode()
    if status != 200 or not session:
        tally.failed(f"initialize: HTTP {status}: {body[:120]!r}")
        conn.close()
        return
    headers = server.headers(**{"mcp-protocol-version": LEGACY, "mcp-session-id": session})
    note = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
    await conn.exchange(conn.request(note, headers))
    request_id = 1
    try:
        while (started := time.perf_counter()) < until:
            try:
                status, _, body = await conn.exchange(conn.request(call_body(request_id), headers))
            except (OSError, asyncio.IncompleteReadError) as exc:  # the session outlives the connection
                tally.failed(f"connection lost: {exc!r}")
                conn.close()
                conn = await Connection.open(server)
                continue
            request_id += 1
            if started >= counting_from:
                tally.latencies.append(time.perf_counter() - started)
                if why := answered(status, body):
                    tally.failed(why)
        await conn.exchange(conn.request(b"", headers, method="DELETE"))
    finally:
        conn.close()


async def load(server: Server, era: str) -> tuple[Tally, float, float, float]:
    """Run the clients; returns the tally, the measured window's length and the CPU both sides spent in it."""
    tally = Tally()
    worker = modern_client if era == MODERN else legacy_client
    process = psutil.Process(server.pid)
    begin = time.perf_counter()
    counting_from, until = begin + WARMUP_SECONDS, begin + WARMUP_SECONDS + SECONDS
    clients = [asyncio.create_task(worker(server, until, counting_from, tally)) for _ in range(CLIENTS)]
    await asyncio.sleep(max(0.0, counting_from - time.perf_counter()))
    server_cpu, client_cpu = sum(process.cpu_times()[:2]), time.process_time()
    await asyncio.gather(*clients)
    server_cpu = sum(process.cpu_times()[:2]) - server_cpu
    client_cpu = time.process_time() - client_cpu
    return tally, time.perf_counter() - counting_from, server_cpu, client_cpu


def measure(era: str, token: str | None) -> Outcome:
    with serving(token) as server:
        tally, seconds, server_cpu, client_cpu = asyncio.run(load(server, era))
        rss, peak = memory(server.pid)
    samples = tally.latencies or [0.0]
    return Outcome(
        era,
        len(tally.latencies),
        seconds,
        percentile(samples, 50),
        percentile(samples, 95),
        tally.errors,
        tally.first_error,
        server_cpu,
        client_cpu,
        rss,
        peak,
    )


# (era, with a bearer token): both eras as a loopback deployment runs them, then the modern era authenticated
CASES = ((MODERN, False), (LEGACY, False), (MODERN, True))


def main() -> Report:
    report = Report("Streamable HTTP throughput")
    table = Table(
        f"{CLIENTS} concurrent clients calling {TOOL} for {SECONDS:g} s (`pvemcp run --sandbox --transport http`)",
        [
            "era",
            "authentication",
            "requests",
            "requests/s",
            "p50 ms",
            "p95 ms",
            "errors",
            "server CPU s",
            "load generator CPU s",
            "RSS MiB",
            "peak RSS MiB",
        ],
        notes=[
            f"each client: one keep-alive HTTP/1.1 connection on 127.0.0.1, one request at a time; the first"
            f" {WARMUP_SECONDS:g} s are a warm-up and not counted. One fresh server process per row.",
            f"{MODERN}: per-request envelope, no session; {LEGACY}: one initialize per client, then tools/call on"
            " its session (SSE responses).",
            f"MCP_RATE_LIMIT_MAX={RATE_LIMIT_MAX:,}: every request comes from one address, which the default"
            " (120 per minute) would throttle; the limiter still runs for every request. PVE_AUDIT_LOG=off.",
            "bearer token: MCP_AUTH_TOKEN set, every request sends it (checked for each request).",
            "the simulated cluster lives in the server process (--sandbox), so its work is in the server's CPU;"
            " server CPU close to the window's length means one core saturated (one process, one event loop).",
            f"aim: ≥ {AIM_RPS} requests/s with peak RSS ≤ {AIM_MIB} MiB.",
        ],
    )
    for era, authenticated in CASES:
        outcome = measure(era, secrets.token_urlsafe(32) if authenticated else None)
        auth = "bearer token" if authenticated else "none (loopback)"
        table.rows.append(
            [
                era,
                auth,
                str(outcome.requests),
                f"{outcome.rate:.0f}",
                ms(outcome.p50, 1),
                ms(outcome.p95, 1),
                str(outcome.errors),
                f"{outcome.server_cpu:.1f}",
                f"{outcome.client_cpu:.1f}",
                mib(outcome.rss),
                mib(outcome.peak_rss),
            ]
        )
        where = f"{era}, {auth}"
        if outcome.first_error:
            table.notes.append(f"{where}: first error: {outcome.first_error}")
        report.headlines.append(
            Headline(f"requests/s, {where}", f"{outcome.rate:.0f}", f"≥ {AIM_RPS}", outcome.rate >= AIM_RPS)
        )
        report.headlines.append(
            Headline(
                f"peak RSS, {where}",
                f"{mib(outcome.peak_rss)} MiB",
                f"≤ {AIM_MIB} MiB",
                outcome.peak_rss <= AIM_MIB * 1024 * 1024,
            )
        )
    report.tables.append(table)
    return report


if __name__ == "__main__":
    print(main().render())
