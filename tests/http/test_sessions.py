"""Session limits of the Streamable HTTP transport: 2025-11-25 sessions capped per caller and in all, idle
ones closed after MCP_SESSION_IDLE_TIMEOUT_MS, a DELETE freeing a slot at once, the 2026-07-28 era (no
sessions) untouched, and bad settings refused at start.

Servers are the real app under real uvicorn (tests/httpserver.py); requests are raw HTTP so that every
status and header is visible.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from pvemcp.catalog.spec import Tier
from pvemcp.http.sessions import SessionBook
from pvemcp.http.settings import load_http_settings
from pvemcp.http.tokens import entry_toml, new_token
from pvesim import Simulator
from tests.httpserver import http_service, run_refused

pytestmark = pytest.mark.anyio

LEGACY = "2025-11-25"
ALICE, BOB, CAROL = (new_token() for _ in range(3))
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def initialize(http: httpx2.AsyncClient, url: str, token: str | None = None) -> httpx2.Response:
    """POST initialize without a session id; on success, also the initialized notification."""
    answer = await http.post(url, json=INITIALIZE, headers={**HEADERS, **auth(token)})
    session = answer.headers.get("mcp-session-id")
    if answer.status_code == 200 and session:
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        sent = await http.post(url, json=note, headers=on_session(session, token))
        assert sent.status_code == 202, sent.text
    return answer


def on_session(session: str, token: str | None = None) -> dict[str, str]:
    return {**HEADERS, **auth(token), "mcp-session-id": session, "mcp-protocol-version": LEGACY}


async def open_session(http: httpx2.AsyncClient, url: str, token: str | None = None) -> str:
    answer = await initialize(http, url, token)
    assert answer.status_code == 200, answer.text
    return answer.headers["mcp-session-id"]


async def list_tools(http: httpx2.AsyncClient, url: str, session: str, token: str | None = None) -> httpx2.Response:
    request = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    return await http.post(url, json=request, headers=on_session(session, token))


def refusal(answer: httpx2.Response) -> str:
    """The message of a session-limit refusal, after checking its shape: JSON-RPC error, Retry-After."""
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["retry-after"]) >= 1
    body = answer.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None and body["error"]["code"] == -32000
    message: str = body["error"]["message"]
    return message


def samples(page: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in page.splitlines() if line[:1] != "#"}


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.toml"
    callers = (("alice", ALICE), ("bob", BOB), ("carol", CAROL))
    path.write_text("".join(entry_toml(name, token, Tier.FULL) for name, token in callers))
    return path


# ---------------------------------------------------------------- the caps over HTTP


def from_address(address: str) -> httpx2.AsyncClient:
    """An HTTP client whose connections come from `address` (any 127.x.y.z reaches a loopback server)."""
    return httpx2.AsyncClient(transport=httpx2.AsyncHTTPTransport(local_address=address), timeout=10)


async def test_at_the_total_cap_the_next_initialize_gets_503_and_open_sessions_still_work(sim: Simulator) -> None:
    """Unauthenticated callers are told apart by address: two of them fill the server between them."""
    env = {"MCP_MAX_SESSIONS": "3", "MCP_MAX_SESSIONS_PER_CALLER": "2"}
    with http_service(env, sim) as served:
        async with from_address("127.0.0.1") as one, from_address("127.0.0.2") as two:
            firsts = [await open_session(one, served.url) for _ in range(2)]
            await open_session(two, served.url)
            refused = await initialize(two, served.url)  # under its own cap, but the server is full
            still = await list_tools(one, served.url, firsts[0])
            page = await one.get(f"{served.base}/metrics")
    assert refused.status_code == 503 and "mcp-session-id" not in refused.headers
    message = refusal(refused)
    assert "MCP_MAX_SESSIONS=3" in message and "DELETE /mcp" in message and "Retry in" in message
    assert int(refused.headers["retry-after"]) <= 3600  # when the soonest idle session expires
    assert still.status_code == 200 and '"tools"' in still.text
    found = samples(page.text)
    assert found["pvemcp_sessions_open"] == 3
    assert found['pvemcp_sessions_refused_total{limit="server"}'] == 1
    assert found['pvemcp_sessions_refused_total{limit="caller"}'] == 0


async def test_one_caller_at_its_cap_does_not_stop_another(sim: Simulator, tokens_file: Path) -> None:
    env = {"MCP_AUTH_TOKENS_FILE": str(tokens_file), "MCP_MAX_SESSIONS": "4", "MCP_MAX_SESSIONS_PER_CALLER": "2"}
    with http_service(env, sim) as served:
        async with httpx2.AsyncClient(timeout=10) as http:
            alices = [await open_session(http, served.url, ALICE) for _ in range(2)]
            alice_again = await initialize(http, served.url, ALICE)
            bobs = [await open_session(http, served.url, BOB) for _ in range(2)]  # alice is full, bob is not
            carol = await initialize(http, served.url, CAROL)  # now the server is full
            alice_works = await list_tools(http, served.url, alices[1], ALICE)
            bob_works = await list_tools(http, served.url, bobs[0], BOB)
    assert alice_again.status_code == 429
    assert "MCP_MAX_SESSIONS_PER_CALLER=2" in refusal(alice_again)
    assert len(set(bobs)) == 2
    assert carol.status_code == 503 and "MCP_MAX_SESSIONS=4" in refusal(carol)
    assert alice_works.status_code == bob_works.status_code == 200


async def test_delete_frees_the_slot_at_once(sim: Simulator) -> None:
    with http_service({"MCP_MAX_SESSIONS": "1"}, sim) as served:
        async with httpx2.AsyncClient(timeout=10) as http:
            first = await open_session(http, served.url)
            full = await initialize(http, served.url)
            deleted = await http.delete(served.url, headers=on_session(first))
            second = await initialize(http, served.url)
            gone = await list_tools(http, served.url, first)
    assert full.status_code == 429  # one session in all: the caller's share is one too
    assert deleted.status_code == 200
    assert second.status_code == 200 and second.headers["mcp-session-id"] != first
    assert gone.status_code == 404


async def test_a_client_that_closes_its_session_frees_its_slot(sim: Simulator) -> None:
    with http_service({"MCP_MAX_SESSIONS": "1"}, sim) as served:
        for _ in range(3):
            async with Client(served.url, mode="legacy") as client:  # sends DELETE when it closes
                assert (await client.list_tools()).tools
                async with httpx2.AsyncClient(timeout=10) as http:
                    assert (await initialize(http, served.url)).status_code == 429


async def test_an_idle_session_expires_frees_its_slot_and_answers_404(sim: Simulator) -> None:
    env = {"MCP_MAX_SESSIONS": "1", "MCP_SESSION_IDLE_TIMEOUT_MS": "1000"}
    with http_service(env, sim) as served:
        async with httpx2.AsyncClient(timeout=10) as http:
            idle = await open_session(http, served.url)
            full = await initialize(http, served.url)
            started = time.monotonic()
            with anyio.fail_after(10):
                while (again := await initialize(http, served.url)).status_code != 200:  # never touches `idle`
                    assert again.status_code == 429
                    await anyio.sleep(0.1)
            waited = time.monotonic() - started
            expired = await list_tools(http, served.url, idle)
            fresh = await list_tools(http, served.url, again.headers["mcp-session-id"])
    assert full.status_code == 429 and full.headers["retry-after"] == "1"
    assert "MCP_SESSION_IDLE_TIMEOUT_MS" in refusal(full)
    assert waited >= 0.5  # freed by the timeout, not at once
    assert expired.status_code == 404  # the transport's "session not found": the client re-initializes
    assert fresh.status_code == 200


async def test_the_2026_era_is_not_counted_against_the_caps(sim: Simulator) -> None:
    with http_service({"MCP_MAX_SESSIONS": "1"}, sim) as served:
        async with httpx2.AsyncClient(timeout=10) as http:
            await open_session(http, served.url)
            assert (await initialize(http, served.url)).status_code == 429  # the legacy cap is reached
            async with Client(served.url, mode="2026-07-28") as first, Client(served.url, mode="2026-07-28") as second:
                assert (await first.list_tools()).tools and (await second.list_tools()).tools
                assert not (await first.call_tool("pve_list_nodes", {})).is_error
            page = await http.get(f"{served.base}/metrics")
    assert samples(page.text)["pvemcp_sessions_open"] == 1


async def test_stateless_mode_has_no_sessions_to_cap(sim: Simulator) -> None:
    with http_service({"MCP_STATELESS": "true", "MCP_MAX_SESSIONS": "1"}, sim) as served:
        async with Client(served.url, mode="legacy") as first, Client(served.url, mode="legacy") as second:
            assert (await first.list_tools()).tools and (await second.list_tools()).tools


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("name", ["MCP_MAX_SESSIONS", "MCP_MAX_SESSIONS_PER_CALLER", "MCP_SESSION_IDLE_TIMEOUT_MS"])
@pytest.mark.parametrize("value", ["0", "-5", "ten", "2.5"])
def test_invalid_session_settings_are_problems(name: str, value: str) -> None:
    problems: list[str] = []
    load_http_settings({name: value}, problems)
    assert len(problems) == 1 and problems[0].startswith(f"{name}={value!r} ")


def test_an_invalid_session_setting_stops_the_server_at_start() -> None:
    refused = run_refused({"MCP_MAX_SESSIONS": "0"})
    assert refused.returncode == 2
    assert "MCP_MAX_SESSIONS='0' must be a whole number" in refused.stderr and "Traceback" not in refused.stderr


def test_a_per_caller_cap_above_the_total_is_refused_only_when_both_are_set() -> None:
    problems: list[str] = []
    load_http_settings({"MCP_MAX_SESSIONS": "10", "MCP_MAX_SESSIONS_PER_CALLER": "20"}, problems)
    assert problems == [
        "MCP_MAX_SESSIONS_PER_CALLER=20 is above MCP_MAX_SESSIONS=10: one caller could then hold every session"
    ]
    problems = []
    settings = load_http_settings({"MCP_MAX_SESSIONS": "10"}, problems)
    assert not problems and settings.max_sessions_per_caller == 10  # the default share shrinks with the total


def test_session_defaults() -> None:
    problems: list[str] = []
    settings = load_http_settings({}, problems)
    assert not problems
    assert (settings.max_sessions, settings.max_sessions_per_caller, settings.session_idle_timeout) == (1000, 50, 3600)
    custom = load_http_settings({"MCP_SESSION_IDLE_TIMEOUT_MS": "2700000"}, problems)
    assert custom.session_idle_timeout == 2700


# ---------------------------------------------------------------- the book, on a clock of its own


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_openings_under_way_count_so_concurrent_initializes_cannot_overshoot() -> None:
    book = SessionBook(2, 2, 60, clock=Clock())
    assert book.reserve("addr:a") is None and book.reserve("addr:b") is None
    refused = book.reserve("addr:c")
    assert refused is not None and (refused.limit, refused.status) == ("server", 503)
    book.release("addr:a")  # that opening failed: its room is back
    assert book.reserve("addr:c") is None


def test_retry_after_names_the_soonest_expiry_of_the_callers_idle_sessions() -> None:
    clock = Clock()
    book = SessionBook(10, 2, 60, clock=clock)
    for key, session in (("addr:a", "s1"), ("addr:a", "s2"), ("addr:b", "s3")):
        assert book.reserve(key) is None
        book.opened(key, session)
        book.end(session)
        clock.now += 10
    assert book.begin("s1")  # s1 is busy (an open GET stream, say): it cannot expire now
    refused = book.reserve("addr:a")
    assert refused is not None and refused.status == 429 and refused.retry_after == 60 - 20  # s2, idle since 110
    assert book.retry_after(None) == 40  # s3 is younger than s2: the server's soonest is still s2
    clock.now += 40
    assert book.live() == 2  # s2 expired; s1 is busy, s3 has 10 s left
    assert book.reserve("addr:a") is None


def test_a_session_is_forgotten_once_deleted_and_unknown_ids_are_left_to_the_sdk() -> None:
    book = SessionBook(10, 10, 60, clock=Clock())
    assert book.reserve("addr:a") is None
    book.opened("addr:a", "s1")
    book.end("s1")
    book.closed("s1")
    assert book.live() == 0 and book.held == {} and book.opening == 0
    assert not book.begin("s1") and not book.begin("never-opened")
