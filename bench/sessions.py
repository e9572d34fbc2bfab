"""Memory of idle 2025-11-25 sessions in `pvemcp run --sandbox --transport http`, up to the session cap.

One server process with the default session limits (MCP_MAX_SESSIONS, MCP_MAX_SESSIONS_PER_CALLER). The
sessions come from as many loopback addresses as the caps need (unauthenticated callers are told apart by
address), each opened like a real client does: initialize, then notifications/initialized; then left idle,
never deleted. The server's RSS is read after each step, and the answers at the caps are recorded. Then
every session is deleted and as many opened again, to show that a freed slot's memory is reused.

Many clients also keep a GET stream open on their session (for server notifications); a second, fresh
server holds STREAMING such sessions, each with its own connection, to show what that costs.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from bench.common import Headline, Report, Table, mib
from bench.http import LEGACY, Connection, Server, memory, serving
from pvemcp.http.settings import HttpSettings

DEFAULTS = HttpSettings()
CAP = DEFAULTS.max_sessions
PER_CALLER = DEFAULTS.max_sessions_per_caller
STEPS = (100, 250, 500, CAP)
STREAMING = 250
SETTLE_SECONDS = 0.5
AIM_KIB = 64  # per idle session
AIM_MIB = 150  # RSS at the cap, as the throughput bench aims for its peak
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}
INITIALIZED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    retry_after: str
    message: str


def address(caller: int) -> str:
    """The loopback address of caller number `caller` (127.0.1.0 onwards; all of 127/8 is loopback)."""
    return f"127.0.{1 + caller // 250}.{caller % 250 + 1}"


async def connect(server: Server, caller: int) -> Connection:
    reader, writer = await asyncio.open_connection(server.host, server.port, local_addr=(address(caller), 0))
    return Connection(server, reader, writer)


async def initialize(conn: Connection, server: Server) -> tuple[str, Answer]:
    """Open one session on `conn`: its id, or '' and the refusal."""
    status, fields, body = await conn.exchange(conn.request(json.dumps(INITIALIZE).encode(), server.headers()))
    session = fields.get(b"mcp-session-id", b"").decode()
    if status != 200 or not session:
        message = json.loads(body).get("error", {}).get("message", "") if body.startswith(b"{") else body[:120]
        return "", Answer(status, fields.get(b"retry-after", b"-").decode(), str(message))
    headers = server.headers(**{"mcp-protocol-version": LEGACY, "mcp-session-id": session})
    await conn.exchange(conn.request(INITIALIZED, headers))
    return session, Answer(status, "-", "")


async def open_sessions(server: Server, callers: range, each: int) -> list[str]:
    """`each` sessions for every caller in `callers`, the callers concurrently; fails on any refusal."""

    async def caller(number: int) -> list[str]:
        conn = await connect(server, number)
        opened = []
        try:
            for _ in range(each):
                session, answer = await initialize(conn, server)
                if not session:
                    raise RuntimeError(f"initialize from {address(number)}: HTTP {answer.status}: {answer.message}")
                opened.append(session)
        finally:
            conn.close()
        return opened

    results = await asyncio.gather(*(caller(number) for number in callers))
    return [session for result in results for session in result]


async def delete_all(server: Server, sessions: list[str], callers: int) -> None:
    """DELETE every session, from the address that opened it (as sessions were handed out in order)."""
    for number in range(callers):
        conn = await connect(server, number)
        try:
            for session in sessions[number * PER_CALLER : (number + 1) * PER_CALLER]:
                headers = server.headers(**{"mcp-protocol-version": LEGACY, "mcp-session-id": session})
                status, _, _ = await conn.exchange(conn.request(b"", headers, method="DELETE"))
                if status != 200:
                    raise RuntimeError(f"DELETE of a session: HTTP {status}")
        finally:
            conn.close()


async def refused(server: Server, caller: int) -> Answer:
    conn = await connect(server, caller)
    try:
        return (await initialize(conn, server))[1]
    finally:
        conn.close()


async def streaming(server: Server, count: int) -> float:
    """Bytes per session for `count` sessions that each keep a GET stream open on their own connection."""
    base = await settled_rss(server)
    conns: list[Connection] = []
    try:
        for number in range(count):
            conn = await connect(server, number // PER_CALLER)
            conns.append(conn)
            session, answer = await initialize(conn, server)
            if not session:
                raise RuntimeError(f"initialize: HTTP {answer.status}: {answer.message}")
            headers = server.headers(
                **{"mcp-protocol-version": LEGACY, "mcp-session-id": session, "accept": "text/event-stream"}
            )
            conn.writer.write(conn.request(b"", headers, method="GET"))
            await conn.writer.drain()
        return (await settled_rss(server) - base) / count
    finally:
        for conn in conns:
            conn.close()


async def settled_rss(server: Server) -> int:
    await asyncio.sleep(SETTLE_SECONDS)
    return memory(server.pid)[0]


async def measure(server: Server, table: Table, answers: Table) -> tuple[float, int]:
    """Fill the server step by step; returns (bytes per session over the whole fill, RSS at the cap)."""
    base = await settled_rss(server)
    table.rows.append(["0", "0", mib(base), "-", "-"])
    sessions: list[str] = []
    previous, rss = (0, base), base
    for target in STEPS:
        callers = range(len(sessions) // PER_CALLER, target // PER_CALLER)
        started = time.perf_counter()
        sessions += await open_sessions(server, callers, PER_CALLER)
        seconds = time.perf_counter() - started
        rss = await settled_rss(server)
        per = (rss - previous[1]) / (target - previous[0]) / 1024
        table.rows.append([str(target), str(target // PER_CALLER), mib(rss), f"{per:.1f}", f"{seconds:.1f}"])
        previous = (target, rss)
    per_session = (rss - base) / CAP
    for who, caller in (("a new caller, server full", CAP // PER_CALLER), ("a caller at its cap", 0)):
        answer = await refused(server, caller)
        answers.rows.append([who, str(answer.status), answer.retry_after, answer.message])
    await delete_all(server, sessions, CAP // PER_CALLER)
    after_delete = await settled_rss(server)
    await open_sessions(server, range(CAP // PER_CALLER), PER_CALLER)
    reopened = await settled_rss(server)
    table.notes.append(
        f"after DELETE of all {CAP}: RSS {mib(after_delete)} MiB (the allocator keeps freed pages);"
        f" {CAP} sessions opened again: RSS {mib(reopened)} MiB ({(reopened - rss) / 2**20:+.1f} MiB: slots reused)."
    )
    return per_session, rss


def main() -> Report:
    report = Report("Session memory")
    table = Table(
        f"idle {LEGACY} sessions held open in `pvemcp run --sandbox --transport http` (default limits)",
        ["sessions", "callers", "RSS MiB", "KiB per session (this step)", "seconds to open"],
        notes=[
            f"each session: initialize + notifications/initialized on one keep-alive connection per caller, then"
            f" idle (no GET stream); {PER_CALLER} per caller address (MCP_MAX_SESSIONS_PER_CALLER), up to"
            f" MCP_MAX_SESSIONS={CAP}. RSS is VmRSS, read {SETTLE_SECONDS:g} s after each step.",
        ],
    )
    answers = Table("answers at the caps", ["initialize from", "HTTP status", "Retry-After", "message"])
    with serving() as server:
        per_session, at_cap = asyncio.run(measure(server, table, answers))
    with serving() as server:
        per_streaming = asyncio.run(streaming(server, STREAMING))
    table.notes.append(
        f"{per_session / 1024:.1f} KiB per idle session over the whole fill; {DEFAULTS.max_sessions:,} sessions"
        f" (the cap) = {per_session * CAP / 2**20:.0f} MiB; the SDK's own default of 10,000 would be"
        f" {per_session * 10_000 / 2**20:.0f} MiB."
    )
    table.notes.append(
        f"with a GET stream open on each (its own connection; {STREAMING} sessions, a fresh server):"
        f" {per_streaming / 1024:.1f} KiB per session, {per_streaming * CAP / 2**20:.0f} MiB for {CAP:,}."
        " Its idle countdown starts only when the stream's connection closes."
    )
    report.tables += [table, answers]
    kib = per_session / 1024
    report.headlines += [
        Headline("memory per idle session", f"{kib:.1f} KiB", f"≤ {AIM_KIB} KiB", kib <= AIM_KIB),
        Headline(f"RSS at the cap ({CAP} sessions)", f"{mib(at_cap)} MiB", f"≤ {AIM_MIB} MiB", at_cap <= AIM_MIB << 20),
        Headline("memory per session with a GET stream", f"{per_streaming / 1024:.1f} KiB"),
    ]
    return report


if __name__ == "__main__":
    print(main().render())
