"""MCP_SHARED_STATE_URL: replicas share single-use approvals and rate-limit windows in one real Redis.

Each module run starts its own redis-server on a free loopback port, with a password the watch below
looks for in every log record and tool result. "Replicas" are Runtimes (or HTTP services) of this process
that each have their own Redis client, as separate processes would.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext

from pvemcp.http.observe import Metrics
from pvemcp.http.ratelimit import Decision
from pvemcp.http.settings import SharedStateSettings, load_http_settings, shared_state_settings
from pvemcp.http.shared import RETRY_AFTER, RedisApprovals, SharedState, SharedWindows
from pvemcp.server.app import build_server
from pvemcp.server.confirm import ApprovalStore, UsedApprovals
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory
from pvesim import Simulator
from tests.canary import LeakWatch, watching
from tests.conftest import FULL, client_for, payload
from tests.helpers import pick
from tests.http.wire import exchange, parse, request
from tests.httpserver import http_service, spawn_http
from tests.loopback import RedisServer
from tests.test_approvals import MODERN, answer, ask, refused_as_used, stops

pytestmark = pytest.mark.anyio

PASSWORD = "rd-pa55-" + secrets.token_hex(12)  # the module's Redis password: must appear in no log or result
STATE_KEY = secrets.token_urlsafe(32).encode()  # MCP_STATE_KEY shared by the replicas


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(redis_server: RedisServer) -> RedisServer:
    """The module's Redis, emptied for this test."""
    redis_server.flush()
    return redis_server


def settings_for(url: str) -> SharedStateSettings:
    problems: list[str] = []
    settings = shared_state_settings(url, problems)
    assert settings is not None and not problems, problems
    return settings


@asynccontextmanager
async def shared_state(url: str, metrics: Metrics | None = None) -> AsyncIterator[SharedState]:
    """One replica's Redis client."""
    shared = SharedState(settings_for(url), metrics)
    try:
        yield shared
    finally:
        await shared.aclose()


async def nobody(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
    raise AssertionError("the input request is answered by the test, leg by leg")


@asynccontextmanager
async def replica(sim: Simulator, approvals: ApprovalStore) -> AsyncIterator[Client]:
    """A replica: its own Proxmox client and Runtime, the deployment's state key, and `approvals`."""
    pve = client_for(sim)
    try:
        runtime = Runtime(pve, Inventory(FULL), clock=sim.wait_clock(), approvals=approvals)
        server = build_server(runtime, state_keys=[STATE_KEY])
        async with Client(server, mode=MODERN, elicitation_callback=nobody) as client:
            yield client
    finally:
        await pve.aclose()


def writes(sim: Simulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.requests if r.method != "GET"]


# ---------------------------------------------------------------- the Redis approval store


async def test_a_nonce_is_spent_once_and_its_key_lives_as_long_as_the_state(store: RedisServer) -> None:
    async with shared_state(store.url) as shared:
        now = time.time()
        assert await shared.approvals.spend("fresh", now) is None
        assert await shared.approvals.spend("fresh", now) == "was already used"
        ttl = await shared.redis.pttl("pvemcp:approval:fresh")
        assert 715_000 < ttl <= 720_000  # minted + STATE_LIFETIME + CLOCK_MARGIN, from this replica's clock
        old = await shared.approvals.spend("old", now - 721)
        assert old == "is too old to be checked for an earlier use"
        assert not await shared.redis.exists("pvemcp:approval:old")  # refused without writing anything


async def test_a_spent_nonce_is_forgotten_when_its_state_expires(store: RedisServer) -> None:
    async with shared_state(store.url) as shared:
        short = RedisApprovals(shared, lifetime=1.0)
        minted = time.time()
        assert await short.spend("brief", minted) is None
        assert await short.spend("brief", minted) == "was already used"
        assert 0 < await shared.redis.pttl("pvemcp:approval:brief") <= 1000
        await anyio.sleep(1.2)
        assert not await shared.redis.exists("pvemcp:approval:brief")  # Redis let it expire
        assert await short.spend("brief", time.time()) is None


async def test_concurrent_spends_of_one_nonce_on_two_replicas_let_exactly_one_act(store: RedisServer) -> None:
    results: list[str | None] = []
    async with shared_state(store.url) as a, shared_state(store.url) as b:
        minted = time.time()

        async def spend(approvals: RedisApprovals) -> None:
            results.append(await approvals.spend("contested", minted))

        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(spend, a.approvals)
                group.start_soon(spend, b.approvals)
    assert results.count(None) == 1 and results.count("was already used") == 19


# ---------------------------------------------------------------- two replicas, one approval


@asynccontextmanager
async def two_replicas(sim: Simulator, url: str) -> AsyncIterator[tuple[Client, Client]]:
    """Two replicas of one deployment, each with its own Redis client to one Redis."""
    async with (
        shared_state(url) as on_a,
        shared_state(url) as on_b,
        replica(sim, on_a.approvals) as a,
        replica(sim, on_b.approvals) as b,
    ):
        yield a, b


async def test_a_state_approved_on_one_replica_is_refused_on_the_other_and_acts_once(
    sim: Simulator, store: RedisServer
) -> None:
    guest = pick(sim, "qemu", "running")
    async with two_replicas(sim, store.url) as (a, b):
        state = await ask(a.session, guest)
        done = await answer(a.session, guest, state)
        assert not done.is_error, done.structured_content
        guest.status = "running"  # started again: a replay that got through would stop it a second time
        on_other = await answer(b.session, guest, state)
        on_same = await answer(a.session, guest, state)
    refused_as_used(on_other, guest)
    refused_as_used(on_same, guest)
    assert stops(sim, guest) == 1 and sim.state.guests[guest.vmid].status == "running"


async def test_a_state_declined_on_one_replica_cannot_act_on_the_other(sim: Simulator, store: RedisServer) -> None:
    guest = pick(sim, "qemu", "running")
    async with two_replicas(sim, store.url) as (a, b):
        state = await ask(a.session, guest)
        declined = await answer(a.session, guest, state, types.ElicitResult(action="decline"))
        forged = await answer(b.session, guest, state)
    assert payload(declined)["code"] == "CONFIRMATION_DECLINED"
    refused_as_used(forged, guest)
    assert stops(sim, guest) == 0


async def test_without_shared_state_each_replica_spends_its_own_approvals(sim: Simulator) -> None:
    """Why the setting exists: per-process stores let one state act once on each replica."""
    guest = pick(sim, "qemu", "running")
    async with replica(sim, UsedApprovals()) as a, replica(sim, UsedApprovals()) as b:
        state = await ask(a.session, guest)
        assert not (await answer(a.session, guest, state)).is_error
        guest.status = "running"
        assert not (await answer(b.session, guest, state)).is_error
    assert stops(sim, guest) == 2


# ---------------------------------------------------------------- Redis down


async def test_an_approval_is_refused_while_redis_is_down_and_acts_once_it_is_back(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    guest = pick(sim, "qemu", "running")
    later = RedisServer(tmp_path, PASSWORD)  # nothing listens on its port yet
    metrics = Metrics()
    try:
        async with shared_state(later.url, metrics) as shared, replica(sim, shared.approvals) as client:
            state = await ask(client.session, guest)
            before = len(sim.requests)
            started = time.monotonic()
            refused = await answer(client.session, guest, state)
            took = time.monotonic() - started
            assert writes(sim) == [] and stops(sim, guest) == 0
            body = payload(refused)
            assert refused.is_error and body["code"] == "SHARED_STATE_UNAVAILABLE"
            assert f"VM {guest.vmid} '{guest.name}'" in body["message"] and "was not carried out" in body["message"]
            assert "could not be checked against the shared state store" in body["message"]
            assert "nothing was changed" in body["message"]
            assert "Try again" in body["hint"] and "MCP_SHARED_STATE_URL" in body["hint"]
            assert took < 2.0 and all(r.method == "GET" for r in sim.requests[before:])
            assert metrics.shared_state_errors == {"approval": 1}

            later.start()  # Redis is back: the approval was never spent, so it acts, once
            again = await answer(client.session, guest, state)
            assert not again.is_error, again.structured_content
            guest.status = "running"
            refused_as_used(await answer(client.session, guest, state), guest)
    finally:
        later.stop()
    assert stops(sim, guest) == 1
    warned = [r.getMessage() for r in caplog.records if r.name == "pvemcp.confirm"]
    assert len(warned) == 1 and f"127.0.0.1:{later.port} db 0" in warned[0] and PASSWORD not in warned[0]


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_rate_limit_falls_back_to_this_replicas_windows_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(tmp_path, PASSWORD)
    server.start()
    metrics, ticks = Metrics(), Ticks()
    caplog.set_level(logging.INFO, "pvemcp.http")
    try:
        async with shared_state(server.url, metrics) as shared:
            windows = SharedWindows(shared, limit=3, window=60.0, clock=ticks)
            assert (await windows.hit("addr:10.0.0.1")).remaining == 2  # counted in Redis
            server.stop()
            down = [await windows.hit("addr:10.0.0.1") for _ in range(4)]
            assert [d.allowed for d in down] == [True, True, True, False]  # this replica's own window: 3
            assert metrics.shared_state_errors == {"rate_limit": 1}  # Redis asked once, then left alone
            assert metrics.rate_limit_local == 4
            ticks.now += RETRY_AFTER
            assert (await windows.hit("addr:10.0.0.1")).allowed is False  # asked again, still down: local
            assert metrics.shared_state_errors == {"rate_limit": 2}

            server.start()  # an empty Redis on the same port
            ticks.now += RETRY_AFTER
            back = await windows.hit("addr:10.0.0.1")
            assert back.allowed and back.remaining == 2 and metrics.rate_limit_local == 5
    finally:
        server.stop()
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "pvemcp.http"]
    warnings = [text for level, text in said if level == logging.WARNING]
    assert len(warnings) == 1 and "counted by this replica alone" in warnings[0]
    assert any(level == logging.INFO and "answers again" in text for level, text in said)
    assert not any(PASSWORD in text for _, text in said)


# ---------------------------------------------------------------- the shared rate limit


async def test_two_replicas_count_in_one_window(store: RedisServer) -> None:
    async with shared_state(store.url) as on_a, shared_state(store.url) as on_b:
        a = SharedWindows(on_a, limit=5, window=1.0)
        b = SharedWindows(on_b, limit=5, window=1.0)
        hits: list[Decision] = []
        for limiter in (a, b, a, b, a, b):
            hits.append(await limiter.hit("grant:ci-bot"))
        other = await b.hit("grant:someone-else")
        await anyio.sleep(1.1)
        renewed = await b.hit("grant:ci-bot")
    assert [hit.allowed for hit in hits] == [True] * 5 + [False]
    assert [hit.remaining for hit in hits] == [4, 3, 2, 1, 0, 0]
    assert all(0 < hit.reset <= 1.0 for hit in hits)
    assert other.allowed and other.remaining == 4
    assert renewed.allowed and renewed.remaining == 4  # the window ended: a new one opened


def test_two_http_replicas_refuse_the_sixth_request_across_both(sim: Simulator, store: RedisServer) -> None:
    env = {"MCP_RATE_LIMIT_MAX": "5", "MCP_RATE_LIMIT_WINDOW_MS": "5000", "MCP_SHARED_STATE_URL": store.url}
    with http_service(env, sim) as a, http_service(env, sim) as b:
        answers = [parse(exchange(served.port, request("GET", "/ready"))) for served in (a, b, a, b, a, b)]
        assert b.service is not None
        page = b.service.metrics.render()
    assert [answer.status for answer in answers] == [200] * 5 + [429]
    assert [answer.headers["ratelimit-remaining"] for answer in answers] == ["4", "3", "2", "1", "0", "0"]
    assert answers[0].json()["shared_state"] == "ok"
    assert "pvemcp_rate_limit_local_total 0" in page


# ---------------------------------------------------------------- /ready, start-up, settings, the secret


def test_ready_stays_200_and_says_the_shared_state_is_unreachable(sim: Simulator, tmp_path: Path) -> None:
    env = {"MCP_SHARED_STATE_URL": RedisServer(tmp_path, PASSWORD).url}  # nothing listens there
    with http_service(env, sim) as served:
        ready = httpx2.get(f"{served.base}/ready", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["shared_state"] == "unreachable"


def test_pvemcp_run_shares_state_when_the_environment_says_so(store: RedisServer) -> None:
    with spawn_http({"MCP_SHARED_STATE_URL": store.url}) as served:
        ready = httpx2.get(f"{served.base}/ready", timeout=10)
        log = "".join(served.log)
    assert ready.status_code == 200 and ready.json()["shared_state"] == "ok"
    assert f"kept in Redis at 127.0.0.1:{store.port} db 0" in log and PASSWORD not in log


def test_the_setting_is_checked_and_never_quoted() -> None:
    cases = {
        "http://:hunter2-secret@cache:6379/0": "redis://, rediss:// (TLS) or unix://",
        "cache:6379": "redis://, rediss:// (TLS) or unix://",
        "redis://:hunter2-secret@cache:99999/0": "port must be a number",
        "redis://:hunter2-secret@cache:6379/zero": "database number",
        "redis://:hunter2-secret@/0": "names no host",
        "unix://": "socket's path",
        "redis://:hunter2-secret@cache:6379/0?socket_timeout=soon": "Invalid value for 'socket_timeout'",
    }
    for url, expected in cases.items():
        problems: list[str] = []
        load_http_settings({"MCP_SHARED_STATE_URL": url}, problems)
        assert any(expected in problem for problem in problems), (url, problems)
        assert not any("hunter2" in problem for problem in problems)
    problems = []
    settings = load_http_settings({"MCP_SHARED_STATE_URL": "rediss://app:p%40ss-w0rd@[fd00::5]:6380/2"}, problems)
    assert not problems and settings.shared_state is not None
    assert settings.shared_state.where == "[fd00::5]:6380 db 2 (TLS)"
    assert {"p%40ss-w0rd", "p@ss-w0rd"} <= set(settings.secrets)  # redacted from every log line
    unix = shared_state_settings("unix:///run/redis/redis.sock?db=3&password=s0ck-secret", problems)
    assert unix is not None and unix.where == "unix socket /run/redis/redis.sock db 3"
    assert unix.passwords == ("s0ck-secret",) and not problems
    assert load_http_settings({}, problems).shared_state is None


async def test_the_password_reaches_no_log_record_error_or_result(
    sim: Simulator, store: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    watch = LeakWatch((PASSWORD, "wr0ng-" + PASSWORD))
    guest = pick(sim, "qemu", "running")
    caplog.set_level(logging.DEBUG)
    wrong = store.url.replace(PASSWORD, "wr0ng-" + PASSWORD)
    down = RedisServer(tmp_path, PASSWORD).url
    with watching(watch):
        for url in (wrong, down):
            async with shared_state(url, Metrics()) as shared:
                await shared.announce()
                windows = SharedWindows(shared, limit=3, window=1.0)
                assert (await windows.hit("addr:127.0.0.1")).allowed
                async with replica(sim, shared.approvals) as client:
                    refused = await answer(client.session, guest, await ask(client.session, guest))
                assert payload(refused)["code"] == "SHARED_STATE_UNAVAILABLE"
    assert watch.seen["log record"] >= 4 and watch.seen["tool result"] >= 4
    assert not watch.leaks, watch.report()
    texts = [record.getMessage() for record in caplog.records]
    assert any("AuthenticationError" in text or "invalid" in text for text in texts)  # the wrong password, named
    assert not any(PASSWORD in text for text in texts) and stops(sim, guest) == 0


def test_redis_is_not_imported_unless_the_setting_is_set() -> None:
    code = (
        "import sys\n"
        "from pvemcp.http import app, serve, ratelimit, observe, settings\n"
        "from pvemcp.server import dispatch\n"
        "print('redis' in sys.modules, 'pvemcp.http.shared' in sys.modules)\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "False"]
