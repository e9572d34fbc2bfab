"""Rate limiting per credential, else per client address: 429 with Retry-After and RateLimit-* headers."""

from __future__ import annotations

import time

import pytest

from pvemcp.catalog.spec import Tier
from pvemcp.http.auth import GRANT_KEY
from pvemcp.http.ratelimit import FixedWindow, caller_key
from pvemcp.http.tokens import new_token
from pvemcp.server.access import Grant
from pvesim import Simulator
from tests.http.wire import Answer, exchange, parse, request
from tests.httpserver import http_service

LIMITED = {"MCP_RATE_LIMIT_MAX": "3", "MCP_RATE_LIMIT_WINDOW_MS": "1000"}


def get(port: int, path: str, *, source: str = "127.0.0.1") -> Answer:
    return parse(exchange(port, request("GET", path), source=source))


def test_a_burst_over_the_limit_gets_429_and_a_new_window_admits_again(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with http_service(LIMITED, sim) as served:
        assert served.service is not None
        rejections: list[str] = []
        monkeypatch.setattr(served.service.metrics, "rate_limited", lambda: rejections.append("429"))
        burst = [get(served.port, "/ready") for _ in range(4)]
        health = get(served.port, "/health")
        time.sleep(float(burst[-1].headers["retry-after"]))
        again = get(served.port, "/ready")
    assert [answer.status for answer in burst] == [200, 200, 200, 429]
    assert [answer.headers["ratelimit-remaining"] for answer in burst] == ["2", "1", "0", "0"]
    for answer in burst:
        assert answer.headers["ratelimit-policy"] == "3;w=1"
        assert answer.headers["ratelimit-limit"] == "3"
        assert answer.headers["ratelimit-reset"] == "1"
    refused = burst[-1]
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["x-content-type-options"] == "nosniff" and refused.headers["cache-control"] == "no-store"
    assert refused.json() == {"jsonrpc": "2.0", "error": {"code": -32000, "message": "Too many requests"}, "id": None}
    assert rejections == ["429"]
    assert health.status == 200 and "ratelimit-limit" not in health.headers  # exempt, and not counted
    assert again.status == 200 and again.headers["ratelimit-remaining"] == "2"


def test_each_client_address_has_its_own_bucket(sim: Simulator) -> None:
    with http_service(LIMITED, sim) as served:
        first = [get(served.port, "/ready", source="127.0.0.1").status for _ in range(4)]
        second = [get(served.port, "/ready", source="127.0.0.2").status for _ in range(4)]
    assert first == [200, 200, 200, 429]
    assert second == [200, 200, 200, 429]


def test_a_credential_has_its_own_bucket_whatever_its_address(sim: Simulator) -> None:
    token = new_token()
    bearer = [("Authorization", f"Bearer {token}")]
    with http_service({**LIMITED, "MCP_AUTH_TOKEN": token}, sim) as served:

        def ready(source: str, headers: list[tuple[str, str]]) -> int:
            return parse(exchange(served.port, request("GET", "/ready", headers=headers), source=source)).status

        with_token = [ready(source, bearer) for source in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")]
        anonymous = [ready("127.0.0.1", []) for _ in range(4)]
    assert with_token == [200, 200, 200, 429]  # one bucket for the credential, from any address
    assert anonymous == [200, 200, 200, 429]  # the address's own bucket was untouched by the token's requests


def test_the_key_is_the_credential_when_there_is_one() -> None:
    scope = {"type": "http", "client": ("127.0.0.1", 5000)}
    assert caller_key({**scope, GRANT_KEY: Grant("ci-bot", Tier.READ_ONLY)}) == "grant:ci-bot"
    assert caller_key(scope) == "addr:127.0.0.1"
    assert caller_key({"type": "http", "client": None}) == "addr:unknown"


def test_buckets_expire_and_are_capped() -> None:
    now = [0.0]
    windows = FixedWindow(limit=2, window=10.0, max_buckets=3, clock=lambda: now[0])
    assert [windows.hit("a").allowed for _ in range(3)] == [True, True, False]
    for key in ("b", "c", "d"):  # a fourth live key pushes out the oldest window
        windows.hit(key)
    assert list(windows.buckets) == ["b", "c", "d"]
    now[0] = 10.0  # every window has ended: all dropped, a returning key starts afresh
    decision = windows.hit("b")
    assert list(windows.buckets) == ["b"]
    assert decision.allowed and decision.remaining == 1 and decision.reset == 10.0
