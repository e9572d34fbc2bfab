"""MCP_REPLICA_ID: session IDs that name their replica, and the answer a session this server does not hold gets.

A load balancer routes a 2025-11-25 session by the name at the front of its ID (deploy/nginx/); the replica
takes the name off on the way in, so the SDK sees its own IDs, and refuses another replica's sessions with
the same 404 an unknown session gets: start a new session.
"""

from __future__ import annotations

import httpx2
import pytest

from pvesim import Simulator
from tests.httpserver import http_service, run_refused

pytestmark = pytest.mark.anyio

LEGACY = "2025-11-25"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}


async def opened(http: httpx2.AsyncClient, url: str) -> str:
    answer = await http.post(url, json=INITIALIZE, headers=ACCEPT)
    assert answer.status_code == 200
    session = answer.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await http.post(url, json=note, headers=on(session))).status_code == 202
    return session


def on(session: str) -> dict[str, str]:
    return {**ACCEPT, "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}


async def test_session_ids_name_the_replica_and_another_replicas_are_refused() -> None:
    with http_service({"MCP_REPLICA_ID": "r7"}, Simulator()) as served:
        async with httpx2.AsyncClient(timeout=10) as http:
            session = await opened(http, served.url)
            name, _, own = session.partition(".")
            assert name == "r7" and len(own) == 32
            assert (await http.post(served.url, json=PING, headers=on(session))).status_code == 200
            for elsewhere in (f"r8.{own}", own):  # another replica's, or a bare ID
                refused = await http.post(served.url, json=PING, headers=on(elsewhere))
                assert refused.status_code == 404
                assert "send initialize again" in refused.json()["error"]["message"]


async def test_an_unknown_session_is_told_to_start_again() -> None:
    with http_service({}, Simulator()) as served:
        async with httpx2.AsyncClient(timeout=10) as http:
            lost = await http.post(served.url, json=PING, headers=on("0" * 32))
    assert lost.status_code == 404
    error = lost.json()["error"]
    assert error["code"] == -32600
    assert "Session not found" in error["message"] and "send initialize again" in error["message"]


def test_a_replica_id_that_could_not_lead_a_session_id_is_refused() -> None:
    refused = run_refused({"MCP_REPLICA_ID": "R 1"})
    assert refused.returncode != 0
    assert "MCP_REPLICA_ID" in refused.stderr and "lower-case" in refused.stderr
