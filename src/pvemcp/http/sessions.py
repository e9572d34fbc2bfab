"""Limits on 2025-11-25 sessions: how many are open per caller and in all (MCP_MAX_SESSIONS_PER_CALLER,
MCP_MAX_SESSIONS); how long an idle one lives is the SDK's own timeout (MCP_SESSION_IDLE_TIMEOUT_MS).

In the 2025-11-25 era `initialize` opens a session the server keeps in memory (about 38 KiB when idle,
see bench/sessions.py) until the client deletes it or it has been idle for the timeout. The SDK caps only
the total and, once full, answers every caller a bare 503: one caller that never closes its sessions locks
all the others out. `SessionLimits` stands in front of the SDK's transport and decides first:

- a request that would open a session counts against its caller (the credential's name, else the client
  address, as for the rate limit) and against the total, before the SDK sees it;
- over the caller's cap: 429; over the server's: 503; both with Retry-After (when the soonest idle session
  of that caller, or of anyone, expires) and a message that says what to do and names the setting;
- 2026-07-28 requests (no session) and MCP_STATELESS pass untouched.

The SDK's session table is private, so `SessionBook` keeps its own from the exchanges it sees: a session
counts from the response that names its Mcp-Session-Id until a DELETE of it succeeds or it has been idle
for the timeout, measured from after the SDK's own countdown starts, so the book never lets a session go
while the SDK still holds it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pvemcp.http.guards import error_response
from pvemcp.http.observe import Metrics
from pvemcp.http.ratelimit import caller_key

log = logging.getLogger("pvemcp.http")

SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"
TOO_MANY = -32000  # the JSON-RPC code of a refusal at a session limit (server error range)
INVALID_REQUEST = -32600  # what the SDK answers an unknown session with; kept, with a message that says what to do
UNKNOWN_SESSION = (
    "Session not found: no session with this Mcp-Session-Id is open here (it was closed or expired, or the server"
    " that held it restarted or went down). Start a new session: send initialize again, without Mcp-Session-Id."
)
MAX_WARNED = 1024  # callers remembered as already logged at their limit


@dataclass(slots=True)
class Tracked:
    key: str  # the caller that opened it
    in_flight: int  # requests on it being served (an open GET stream included)
    idle_since: float  # when the last of them ended


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: str  # "caller" or "server"
    status: int
    message: str
    retry_after: int  # seconds


class SessionBook:
    """Open sessions by caller, plus openings under way (so concurrent initializes cannot overshoot)."""

    def __init__(
        self, max_sessions: int, per_caller: int, idle_timeout: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_sessions = max_sessions
        self.per_caller = min(per_caller, max_sessions)
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.sessions: dict[str, Tracked] = {}
        self.held: dict[str, int] = {}  # caller -> sessions open or being opened
        self.opening = 0  # openings under way, all callers

    def live(self) -> int:
        """Sessions open now (the /metrics gauge)."""
        self.expire()
        return len(self.sessions)

    def reserve(self, key: str) -> Refusal | None:
        """Room for one more session of `key`, held until `opened` or `release`; else why not."""
        self.expire()
        if self.held.get(key, 0) >= self.per_caller:
            return self._refusal("caller", key)
        if len(self.sessions) + self.opening >= self.max_sessions:
            return self._refusal("server", None)
        self.held[key] = self.held.get(key, 0) + 1
        self.opening += 1
        return None

    def release(self, key: str) -> None:
        """The opening request did not open a session."""
        self.opening -= 1
        self._drop_hold(key)

    def opened(self, key: str, session_id: str) -> None:
        """The opening request is answering with `session_id`: the reservation becomes that session."""
        self.opening -= 1
        self.sessions[session_id] = Tracked(key, in_flight=1, idle_since=self.clock())

    def begin(self, session_id: str) -> bool:
        """A request on `session_id` is being served; False if the book does not know that session."""
        tracked = self.sessions.get(session_id)
        if tracked is None:
            return False
        tracked.in_flight += 1
        return True

    def end(self, session_id: str) -> None:
        tracked = self.sessions.get(session_id)
        if tracked is not None:
            tracked.in_flight -= 1
            tracked.idle_since = self.clock()

    def closed(self, session_id: str) -> None:
        """The session is gone (deleted, or its opening failed after all)."""
        tracked = self.sessions.pop(session_id, None)
        if tracked is not None:
            self._drop_hold(tracked.key)

    def expire(self) -> None:
        deadline = self.clock() - self.idle_timeout
        for session_id in [sid for sid, t in self.sessions.items() if not t.in_flight and t.idle_since <= deadline]:
            self.closed(session_id)

    def retry_after(self, key: str | None) -> int:
        """Seconds until the soonest idle session (of `key`, or of anyone) expires; the timeout if none is idle."""
        now = self.clock()
        waits = [
            t.idle_since + self.idle_timeout - now
            for t in self.sessions.values()
            if not t.in_flight and (key is None or t.key == key)
        ]
        return max(1, math.ceil(min(waits, default=self.idle_timeout)))

    def _drop_hold(self, key: str) -> None:
        left = self.held.get(key, 0) - 1
        if left > 0:
            self.held[key] = left
        else:
            self.held.pop(key, None)

    def _refusal(self, limit: str, key: str | None) -> Refusal:
        wait = self.retry_after(key)
        idle = f"{_duration(self.idle_timeout)}, MCP_SESSION_IDLE_TIMEOUT_MS"
        close = "end sessions you no longer use (DELETE /mcp with their Mcp-Session-Id)"
        if limit == "caller":
            message = (
                f"Too many open sessions for this caller (MCP_MAX_SESSIONS_PER_CALLER={self.per_caller})."
                f" Reuse one or {close}; an idle session also ends by itself ({idle}). Retry in {wait} s."
            )
            return Refusal(limit, 429, message, wait)
        message = (
            f"The server has as many open sessions as it allows (MCP_MAX_SESSIONS={self.max_sessions})."
            f" Retry in {wait} s, when the soonest idle session expires ({idle}), or {close};"
            " the operator can raise MCP_MAX_SESSIONS."
        )
        return Refusal(limit, 503, message, wait)


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class SessionLimits:
    """The SDK's Streamable HTTP app behind per-caller and total session caps (see the module docstring)."""

    def __init__(self, app: ASGIApp, book: SessionBook, metrics: Metrics) -> None:
        self.app = app
        self.book = book
        self.metrics = metrics
        self.warned: set[str] = set()  # limits already logged since they last had room (one line per episode)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        version = _header(headers, VERSION_HEADER)
        if scope["type"] != "http" or (version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS):
            await self.app(scope, receive, send)  # 2026-07-28: no session to count
            return
        session_id = _header(headers, SESSION_HEADER)
        if session_id is None:
            await self.open(scope, receive, send)
        elif self.book.begin(session_id):
            await self.serve(session_id, scope, receive, send)
        else:  # unknown or expired (the book lets a session go only after the SDK has): 404, as the SDK would
            await error_response(404, UNKNOWN_SESSION, code=INVALID_REQUEST)(scope, receive, send)

    async def open(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = caller_key(scope)
        refusal = self.book.reserve(key)
        if refusal is not None:
            await self.refuse(key, refusal, scope, receive, send)
            return
        self.warned.discard(key)
        self.warned.discard("server")
        opened: str | None = None

        async def watch(message: Message) -> None:
            nonlocal opened
            if message["type"] == "http.response.start" and message["status"] < 400:
                opened = _header(message.get("headers", []), SESSION_HEADER)
                if opened is not None:
                    self.book.opened(key, opened)
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, watch)
        except BaseException:
            failed = True  # the SDK discards a session whose opening request did not complete
            raise
        finally:
            if opened is None:
                self.book.release(key)
            elif failed:
                self.book.closed(opened)
            else:
                self.book.end(opened)

    async def serve(self, session_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.book.end(session_id)
            if scope.get("method") == "DELETE" and status == 200:
                self.book.closed(session_id)  # the SDK has terminated and forgotten it

    async def refuse(self, key: str, refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        self.metrics.session_refused(refusal.limit)
        episode = key if refusal.limit == "caller" else "server"
        if episode not in self.warned:  # one line per episode of a full limit, not one per refusal
            if len(self.warned) >= MAX_WARNED:
                self.warned.clear()
            self.warned.add(episode)
            if refusal.limit == "caller":
                log.warning(
                    "caller %s has %d open sessions (MCP_MAX_SESSIONS_PER_CALLER): refusing its new ones until"
                    " one ends",
                    key,
                    self.book.per_caller,
                )
            else:
                log.warning(
                    "%d sessions are open (MCP_MAX_SESSIONS): refusing new ones until one ends or expires",
                    self.book.max_sessions,
                )
        headers = {"Retry-After": str(refusal.retry_after)}
        await error_response(refusal.status, refusal.message, code=TOO_MANY, headers=headers)(scope, receive, send)
