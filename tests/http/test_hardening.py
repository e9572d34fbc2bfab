"""Every hardening rule of the HTTP transport, on real uvicorn and real sockets.

Malformed or hostile requests go over raw sockets (tests/http/wire.py); the rest through httpx2.
"""

from __future__ import annotations

import json
import logging

import anyio
import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from pvemcp.http.guards import SecurityHeaders
from pvemcp.http.settings import HttpSettings
from pvesim import Simulator
from tests.http.wire import Answer, connect, exchange, parse, read_all, request, serve_asgi, trickle
from tests.httpserver import http_service

SSE_ACCEPT = ("Accept", "application/json, text/event-stream")
JSON_BODY = ("Content-Type", "application/json")
LEGACY = ("MCP-Protocol-Version", "2025-06-18")


def assert_secured(headers: httpx2.Headers | dict[str, str]) -> None:
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("cache-control") == "no-store"
    assert "server" not in headers


def assert_sanitized(answer: Answer | httpx2.Response, status: int, message: str) -> None:
    status_seen = answer.status_code if isinstance(answer, httpx2.Response) else answer.status
    assert status_seen == status
    assert answer.headers.get("content-type") == "application/json"
    assert_secured(answer.headers)
    body = answer.json()
    assert body == {"jsonrpc": "2.0", "error": {"code": body["error"]["code"], "message": message}, "id": None}


def start_call(vmid: int) -> bytes:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "pve_start_qemu_vm", "arguments": {"vmid": vmid}},
        }
    ).encode()


def stopped_vm(sim: Simulator) -> int:
    return next(vmid for vmid, guest in sim.state.guests.items() if guest.status == "stopped" and vmid < 200)


# Host and Origin


def test_wrong_host_is_refused_on_a_loopback_bind(sim: Simulator) -> None:
    with http_service({}, sim) as served, httpx2.Client(base_url=served.base) as http:
        refused = http.get("/health", headers={"Host": "attacker.example"})
        rebinding = http.post("/mcp", content=b"{}", headers={"Host": f"attacker.example:{served.port}"})
        allowed = [http.get("/health", headers={"Host": host}) for host in ("localhost", f"127.0.0.1:{served.port}")]
        missing = parse(exchange(served.port, b"GET /health HTTP/1.0\r\n\r\n"))
    assert_sanitized(refused, 403, "Host header is not allowed")
    assert_sanitized(rebinding, 403, "Host header is not allowed")
    assert all(answer.status_code == 200 for answer in allowed)
    assert_sanitized(missing, 400, "Host header is missing")


def test_wildcard_bind_admits_only_the_allowed_hosts(sim: Simulator) -> None:
    env = {"MCP_HOST": "0.0.0.0", "MCP_ALLOWED_HOSTS": "mcp.example.com", "MCP_ALLOW_UNAUTHENTICATED": "true"}
    with http_service(env, sim) as served, httpx2.Client(base_url=served.base) as http:
        named = http.get("/health", headers={"Host": "MCP.example.com:443"})
        local = http.get("/health")
        wrong = http.get("/health", headers={"Host": "other.example.com"})
        by_address = http.get("/health", headers={"Host": "10.1.2.3"})
    assert named.status_code == 200 and local.status_code == 200
    assert_sanitized(wrong, 403, "Host header is not allowed")
    assert_sanitized(by_address, 403, "Host header is not allowed")


def test_origin_must_be_allowed(sim: Simulator) -> None:
    with (
        http_service({"MCP_ALLOWED_ORIGINS": "https://app.example.com"}, sim) as served,
        httpx2.Client(base_url=served.base) as http,
    ):

        def with_origin(origin: str) -> httpx2.Response:
            return http.get("/health", headers={"Origin": origin})

        listed, local = with_origin("https://app.example.com"), with_origin("http://localhost:5173")
        foreign, null, lookalike = (
            with_origin("https://evil.example"),
            with_origin("null"),
            with_origin("https://app.example.com.evil.example"),
        )
    assert listed.status_code == 200 and local.status_code == 200
    for refused in (foreign, null, lookalike):
        assert_sanitized(refused, 403, "Origin is not allowed")


# Request size, header count and timing


def test_oversized_bodies_are_refused_and_change_nothing(sim: Simulator) -> None:
    vmid = stopped_vm(sim)
    env = {"MCP_STATELESS": "true", "PVE_ACCESS_TIER": "full", "MCP_MAX_BODY_SIZE_BYTES": "4096"}
    padded = start_call(vmid) + b" " * 5000  # still a valid call, once over the limit
    mcp_headers = [SSE_ACCEPT, JSON_BODY, LEGACY]
    with http_service(env, sim, clock=sim.wait_clock()) as served:
        declared = parse(exchange(served.port, request("POST", "/mcp", headers=mcp_headers, body=padded)[:600]))
        head = request("POST", "/mcp", headers=[*mcp_headers, ("Transfer-Encoding", "chunked")])
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (padded[:2500], padded[2500:]))
        streamed = parse(exchange(served.port, head, chunks))
        assert sim.state.guests[vmid].status == "stopped"
        control = parse(exchange(served.port, request("POST", "/mcp", headers=mcp_headers, body=start_call(vmid))))
    for refused in (declared, streamed):
        assert_sanitized(refused, 413, "Request body is too large")
        assert refused.headers["connection"] == "close"
    assert control.status == 200 and b'"isError":false' in control.body
    assert sim.state.guests[vmid].status == "running"  # the same call, unpadded, is served


def test_too_many_headers_are_refused(sim: Simulator) -> None:
    with http_service({"MCP_MAX_HEADERS_COUNT": "10"}, sim) as served:
        crowded = request("GET", "/health", headers=[(f"X-Pad-{n}", "1") for n in range(12)])
        refused = parse(exchange(served.port, crowded))
        fine = parse(exchange(served.port, request("GET", "/health", headers=[("X-Pad", "1")])))
    assert_sanitized(refused, 431, "Too many request headers")
    assert fine.status == 200


def test_slow_headers_close_the_connection(sim: Simulator) -> None:
    env = {"MCP_HEADERS_TIMEOUT_MS": "300", "MCP_KEEPALIVE_TIMEOUT_MS": "60000"}
    with http_service(env, sim) as served:
        silent = exchange(served.port)  # connected, sent nothing: closed without a word
        trickled = trickle(served.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: yes", pause=0.05)
        with connect(served.port) as sock:  # a kept-alive connection gets the same deadline for its next request
            sock.sendall(request("GET", "/health", close=False))
            first = sock.recv(65536)
            sock.sendall(b"GET /health HTTP/1.1\r\n")
            rest = read_all(sock)
    assert silent == b""
    assert_sanitized(parse(trickled), 408, "Request headers were not received in time")
    assert parse(first).status == 200
    assert_sanitized(parse(rest), 408, "Request headers were not received in time")


def test_slow_body_gets_408(sim: Simulator) -> None:
    with http_service({"MCP_REQUEST_TIMEOUT_MS": "300", "PVE_ACCESS_TIER": "full"}, sim) as served:
        head = request("POST", "/mcp", headers=[SSE_ACCEPT, JSON_BODY, ("Content-Length", "200")], close=False)
        answer = parse(exchange(served.port, head, b'{"jsonrpc": "2.0",'))
    assert_sanitized(answer, 408, "Request was not received in time")


def test_idle_keep_alive_connection_is_closed(sim: Simulator) -> None:
    env = {"MCP_KEEPALIVE_TIMEOUT_MS": "300", "MCP_HEADERS_TIMEOUT_MS": "60000"}
    with http_service(env, sim) as served, connect(served.port, timeout=5) as sock:
        sock.sendall(request("GET", "/health", close=False))
        answer = read_all(sock)  # returns only because the server closes the idle connection
    assert parse(answer).status == 200


# Headers on every response, sanitized errors


def test_security_headers_on_success_errors_and_sse(sim: Simulator) -> None:
    with (
        http_service({"MCP_MAX_HEADERS_COUNT": "10"}, sim) as served,
        httpx2.Client(base_url=served.base) as http,
    ):
        ok = http.get("/health")
        not_found = http.get("/no/such/page")
        wrong_method = http.put("/health")
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        with http.stream("POST", "/mcp", json=initialize, headers=dict([SSE_ACCEPT])) as sse:
            sse_headers = sse.headers
            sse.read()
        crowded = parse(exchange(served.port, request("GET", "/", headers=[(f"X-{n}", "1") for n in range(12)])))
        malformed = parse(exchange(served.port, b"GET /health HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n"))
    assert ok.status_code == 200
    assert_secured(ok.headers)
    assert sse_headers["content-type"].startswith("text/event-stream")
    assert_secured(sse_headers)  # the SDK's own no-cache is replaced
    assert_sanitized(not_found, 404, "Not Found")
    assert_sanitized(wrong_method, 405, "Method Not Allowed")
    assert "GET" in wrong_method.headers["allow"]
    assert_sanitized(crowded, 431, "Too many request headers")
    assert_sanitized(malformed, 400, "Invalid HTTP request")


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"] == "/late":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise RuntimeError("internal detail /etc/pve/priv/secret")


def test_an_unhandled_error_is_a_sanitized_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="pvemcp.http")
    with serve_asgi(SecurityHeaders(failing_app)) as port, httpx2.Client(base_url=f"http://127.0.0.1:{port}") as http:
        answer = http.get("/boom")
        with pytest.raises(httpx2.RemoteProtocolError):  # already streaming: the connection is dropped
            http.get("/late")
    assert_sanitized(answer, 500, "Internal server error")
    assert answer.json()["error"]["code"] == -32603
    assert b"internal detail" not in answer.content and b"Traceback" not in answer.content
    logged = [record for record in caplog.records if record.name == "pvemcp.http"]
    assert len(logged) == 2 and logged[0].exc_info is not None


def test_guarded_protocol_serves_keep_alive_requests_back_to_back() -> None:
    """The headers deadline is disarmed while a request is served, and re-armed for the next one."""

    async def slower(scope: Scope, receive: Receive, send: Send) -> None:
        await anyio.sleep(0.4)  # longer than the headers deadline: the request is still answered
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    with serve_asgi(slower, HttpSettings(headers_timeout=0.2)) as port, connect(port) as sock:
        sock.sendall(request("GET", "/a", close=False))
        first = sock.recv(65536)
        sock.sendall(request("GET", "/b"))
        second = read_all(sock)
    assert parse(first).status == 200 and parse(second).status == 200
