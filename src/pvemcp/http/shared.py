"""State the replicas of one deployment share, in Redis (MCP_SHARED_STATE_URL).

Two guarantees that hold per process without it hold across replicas with it:

- Single-use approvals (RedisApprovals, the Runtime's ApprovalStore): a 2026-07-28 confirmation state acts
  once, whichever replica it is sent to. It fails closed: when Redis cannot be reached or errs, the approval
  is refused with SHARED_STATE_UNAVAILABLE and nothing is done.
- The rate limit (SharedWindows, the RateLimit middleware's Limiter): one fixed window per key that every
  replica counts in. When Redis cannot be reached it falls back to this replica's own windows (limits still
  enforced, per replica), logs one warning per episode, and goes back to Redis when it answers again.

One redis.asyncio client per process, built at start-up (the server starts with Redis down) and closed at
shutdown. Short socket timeouts, and one retry on a broken connection only (a pooled connection to a
restarted Redis), none on a timeout, keep what a dead Redis costs a call small. Keys live under `pvemcp:`.
The URL may carry a password: failures are described by `where` (host:port and db) and the password is
redacted from any library text. This module, and redis with it, is imported only when the setting is set.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from pvemcp.http.observe import Metrics
from pvemcp.http.ratelimit import MAX_BUCKETS, Decision, FixedWindow
from pvemcp.http.settings import SharedStateSettings
from pvemcp.logs import redact
from pvemcp.server.confirm import CLOCK_MARGIN, STATE_LIFETIME, ApprovalStoreError

log = logging.getLogger("pvemcp.http")

PREFIX = "pvemcp:"
CONNECT_TIMEOUT = 0.5  # seconds to open a connection to Redis
COMMAND_TIMEOUT = 0.5  # seconds for Redis to answer a command on an open connection
RETRY_AFTER = 2.0  # seconds the rate limit stays on this replica's windows after Redis failed, before asking again
FAILURES = (RedisError, OSError, TimeoutError)
MAX_DETAIL = 200  # characters of a library's error text kept in a log line

# Read the nonce's key and, if it is free, mark it with this attempt's token, in one step: two replicas
# spending one nonce cannot both find it free. The mark is returned to whoever comes later.
SPEND = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""
# Count a request; the first of a window (no expiry yet) opens it. One step, so no counter lives forever.
HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class SharedState:
    """The process's one Redis client and what is built on it: the approval store and shared windows."""

    def __init__(
        self, settings: SharedStateSettings, metrics: Metrics | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.where = settings.where
        self.metrics = metrics
        self._secrets = settings.passwords
        self.down_at_start = False  # announce() found Redis down and warned: the episode's warning is said
        self.redis = Redis.from_url(
            settings.url.get_secret_value(),
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=COMMAND_TIMEOUT,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            client_name="pvemcp",
        )
        self._spend = self.redis.register_script(SPEND)
        self._hit = self.redis.register_script(HIT)
        self.approvals = RedisApprovals(self, clock=clock)
        if metrics is not None:
            metrics.shared_state = True

    def failure(self, use: str, exc: BaseException) -> str:
        """Count a failed operation (metrics, by use) and say what happened, without the password."""
        if self.metrics is not None:
            self.metrics.shared_state_failed(use)
        detail = redact(str(exc), self._secrets)[:MAX_DETAIL]
        return f"Redis at {self.where} failed ({type(exc).__name__}{': ' + detail if detail else ''})"

    async def spend(self, key: str, token: str, ttl_ms: int) -> Any:
        return await self._spend(keys=[key], args=[token, ttl_ms])

    async def hit(self, key: str, window_ms: int) -> Any:
        return await self._hit(keys=[key], args=[window_ms])

    async def ping(self, use: str = "ready") -> bool:
        """Does Redis answer? (/ready; a failure is counted under `use`.)"""
        try:
            answer: Any = self.redis.ping()  # typed for the sync client too
            return bool(await answer)
        except FAILURES as exc:
            self.failure(use, exc)
            return False

    async def announce(self) -> None:
        """Say at start-up that state is shared, and where (never the password); warn if Redis is down now."""
        log.info("shared state: single-use approvals and rate-limit windows are kept in Redis at %s", self.where)
        if not await self.ping():
            self.down_at_start = True
            log.warning(
                "shared state: Redis at %s does not answer yet: approvals are refused and rate limits are"
                " counted by this replica alone until it does",
                self.where,
            )

    def windows(self, limit: int, window: float, *, max_buckets: int = MAX_BUCKETS) -> SharedWindows:
        return SharedWindows(self, limit, window, max_buckets=max_buckets)

    async def aclose(self) -> None:
        await self.redis.aclose()


class RedisApprovals:
    """The ApprovalStore in Redis: a state's nonce is spent once across every replica sharing the store.

    One Lua script reads and marks `pvemcp:approval:<nonce>` atomically, so two replicas (or two concurrent
    retries) spending one nonce cannot both find it fresh. The key expires when the state could no longer
    be unsealed anyway (minted + STATE_LIFETIME + CLOCK_MARGIN, as UsedApprovals keeps a nonce), set
    relative to this replica's clock so Redis's own clock does not matter; a state already past that is
    refused without asking Redis. Each attempt marks the key with its own token: a retry after a reply lost
    on a broken connection recognises its own mark instead of taking it for a replay.

    Fails closed: when Redis cannot be reached or errs, spend raises ApprovalStoreError, and confirm()
    refuses the approval (SHARED_STATE_UNAVAILABLE): nothing is done, and the nonce stays unspent, so the
    same answer may be sent again once Redis is back.
    """

    def __init__(
        self,
        shared: SharedState,
        lifetime: float = STATE_LIFETIME + CLOCK_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.shared = shared
        self.lifetime = lifetime
        self.clock = clock  # wall time: the state's mint time may come from another replica's clock

    async def spend(self, nonce: str, minted: float) -> str | None:
        left = minted + self.lifetime - self.clock()
        if left <= 0:
            return "is too old to be checked for an earlier use"
        token = secrets.token_hex(8)
        try:
            held = await self.shared.spend(f"{PREFIX}approval:{nonce}", token, math.ceil(left * 1000))
        except FAILURES as exc:
            raise ApprovalStoreError(self.shared.failure("approval", exc)) from None
        return None if held is None or held == token.encode() else "was already used"


class SharedWindows:
    """The rate limit's fixed windows in Redis (a ratelimit.Limiter): every replica counts in the same window.

    As FixedWindow: the first request of a key opens a window of `window` seconds (INCR, and PEXPIRE on the
    first hit, in one Lua script under `pvemcp:ratelimit:<key>`), in which at most `limit` requests are
    served; the answer says how many remain and when the window ends.

    When Redis is unreachable or errs, the request is counted in this replica's own FixedWindow instead:
    limits are still enforced, per replica. One warning is logged per episode, not per request; every
    failure counts in pvemcp_shared_state_errors_total{use="rate_limit"} and every request counted locally
    in pvemcp_rate_limit_local_total. For RETRY_AFTER seconds after a failure Redis is not asked, so a dead
    Redis costs one request a timeout now and then, not every request; the first request after that asks
    Redis again, and once it answers the windows are shared again (logged once).
    """

    def __init__(
        self,
        shared: SharedState,
        limit: int,
        window: float,
        *,
        max_buckets: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.limit = limit
        self.window_ms = max(1, math.ceil(window * 1000))
        self.local = FixedWindow(limit, window, max_buckets=max_buckets, clock=clock)
        self.clock = clock
        self.retry_at = -math.inf
        self.away = shared.down_at_start  # in an episode of Redis failures: warned once already

    async def hit(self, key: str) -> Decision:
        if self.clock() < self.retry_at:
            return self._locally(key)
        try:
            count, ttl = await self.shared.hit(f"{PREFIX}ratelimit:{key}", self.window_ms)
        except FAILURES as exc:
            said = self.shared.failure("rate_limit", exc)
            self.retry_at = self.clock() + RETRY_AFTER
            if not self.away:
                self.away = True
                log.warning("shared state: %s; rate limits are counted by this replica alone until it answers", said)
            return self._locally(key)
        if self.away:
            self.away = False
            log.info("shared state: Redis at %s answers again; rate limits are shared again", self.shared.where)
        reset = max(0, int(ttl)) / 1000
        if int(count) > self.limit:
            return Decision(False, 0, reset)
        return Decision(True, self.limit - int(count), reset)

    def _locally(self, key: str) -> Decision:
        if self.shared.metrics is not None:
            self.shared.metrics.rate_limited_locally()
        return self.local.hit(key)
