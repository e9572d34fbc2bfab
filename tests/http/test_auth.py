"""Bearer tokens over HTTP: who may call, what each caller sees and runs, and what the audit log names."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from pvemcp.catalog.spec import Tier
from pvemcp.http.tokens import entry_toml, new_token
from pvesim import Simulator
from tests.conftest import payload
from tests.helpers import actions
from tests.httpserver import http_service, spawn_http

pytestmark = pytest.mark.anyio

READER, OPERATOR, ADMIN, SCOPED = (new_token() for _ in range(4))
STOPPED_QEMU = 103  # on pve1, stopped in the simulator's default cluster
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@asynccontextmanager
async def mcp_over_http(url: str, token: str | None, mode: str = "legacy", **options: Any) -> AsyncIterator[Client]:
    """The SDK's client over Streamable HTTP, sending `Authorization: Bearer <token>`; `options` go to Client."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, **options) as client,
    ):
        yield client


@pytest.fixture
def log_text(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record of the test, at every level, to search for secrets afterwards."""
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_not_logged(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    """The server's records (the test's own HTTP client, which sends the tokens, aside) name no secret."""
    server = [r for r in caplog.records if not r.name.startswith(("httpx2", "httpcore2"))]
    assert server, "the server logged nothing: the check would prove nothing"
    text = "\n".join(record.getMessage() + str(record.exc_info or "") for record in server)
    for secret in secrets:
        assert secret not in text


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(
        entry_toml("reader", READER, Tier.READ_ONLY)
        + entry_toml("operator", OPERATOR, Tier.READ_EXECUTE)
        + entry_toml("admin", ADMIN, Tier.FULL)
        + entry_toml("scoped", SCOPED, Tier.READ_EXECUTE, ["pve2"], "100-102")
    )
    return path


def auth_env(tokens_file: Path, **extra: str) -> dict[str, str]:
    return {"PVE_ACCESS_TIER": "full", "MCP_AUTH_TOKENS_FILE": str(tokens_file), **extra}


async def test_without_a_valid_token_protected_routes_answer_401(
    sim: Simulator, tokens_file: Path, log_text: Any
) -> None:
    wrong = new_token()
    with http_service(auth_env(tokens_file), sim) as served:
        async with httpx2.AsyncClient(base_url=served.base, timeout=10) as http:
            missing = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert missing.status_code == 401
            assert missing.headers["www-authenticate"] == 'Bearer realm="pvemcp"'
            assert missing.json()["error"]["message"].startswith("unauthorized")
            refused = await http.post(
                "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {wrong}"}
            )
            assert refused.status_code == 401
            challenge = refused.headers["www-authenticate"]
            assert challenge.startswith('Bearer realm="pvemcp", error="invalid_token", error_description="')
            assert wrong not in refused.text and wrong not in challenge
            basic = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Basic eDp5"})
            assert basic.status_code == 401
            empty = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer"})
            assert empty.status_code == 401 and 'error="invalid_token"' in empty.headers["www-authenticate"]
            assert (await http.get("/health")).status_code == 200
            assert (await http.get("/metrics")).status_code == 401
            metrics = await http.get("/metrics", headers={"Authorization": f"Bearer {READER}"})
            assert metrics.status_code == 200
    assert_not_logged(log_text, wrong, READER)


async def test_metrics_can_be_made_public(sim: Simulator, tokens_file: Path) -> None:
    with http_service(auth_env(tokens_file, MCP_METRICS_PUBLIC="true"), sim) as served:
        async with httpx2.AsyncClient(base_url=served.base, timeout=10) as http:
            assert (await http.get("/metrics")).status_code == 200
            assert (await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)).status_code == 401


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
async def test_a_read_only_token_can_neither_see_nor_call_a_write_tool(
    sim: Simulator, tokens_file: Path, era: str
) -> None:
    guest = sim.state.guests[STOPPED_QEMU]
    assert guest.status == "stopped"
    with http_service(auth_env(tokens_file), sim) as served:
        async with mcp_over_http(served.url, READER, era) as client:
            tools = (await client.list_tools()).tools
            assert "pve_inventory" in {t.name for t in tools}
            assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools)
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("pve_start_qemu_vm", {"vmid": STOPPED_QEMU})
            listed = await client.call_tool("pve_list_nodes", {})
            assert not listed.is_error
    assert guest.status == "stopped"


async def test_a_read_execute_token_starts_a_vm_and_the_audit_log_names_it(
    sim: Simulator, tokens_file: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    guest = sim.state.guests[STOPPED_QEMU]
    with http_service(auth_env(tokens_file, PVE_AUDIT_LOG=str(audit)), sim, clock=sim.wait_clock()) as served:
        async with mcp_over_http(served.url, OPERATOR) as client:
            tools = (await client.list_tools()).tools
            assert "start" in actions(tools, "pve_guest_power")
            assert "delete" not in actions(tools, "pve_guest_lifecycle")  # read-execute, not full
            started = await client.call_tool("pve_start_qemu_vm", {"vmid": STOPPED_QEMU})
            assert not started.is_error, payload(started)
    assert guest.status == "running"
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    started_entries = [e for e in entries if e["tool"] == "pve_start_qemu_vm"]
    assert [e["caller"] for e in started_entries] == ["operator"]
    assert OPERATOR not in audit.read_text()


async def test_a_token_limited_to_nodes_and_vmids_is_refused_outside_them(sim: Simulator, tokens_file: Path) -> None:
    outside_vmid, outside_node = sim.state.guests[STOPPED_QEMU], sim.state.guests[101]
    outside_node.status = "stopped"  # 101 is within the token's VMIDs, on pve2: allowed
    inside = sim.state.guests[102]
    inside.status = "stopped"  # 102 is on pve3: outside the token's nodes
    with http_service(auth_env(tokens_file), sim, clock=sim.wait_clock()) as served:
        async with mcp_over_http(served.url, SCOPED) as client:
            refused = await client.call_tool("pve_start_qemu_vm", {"vmid": STOPPED_QEMU, "wait_seconds": 0})
            assert refused.is_error and payload(refused)["code"] == "OUT_OF_SCOPE"
            other_node = await client.call_tool("pve_start_qemu_vm", {"vmid": 102, "wait_seconds": 0})
            assert other_node.is_error and payload(other_node)["code"] == "OUT_OF_SCOPE"
            allowed = await client.call_tool("pve_start_qemu_vm", {"vmid": 101})
            assert not allowed.is_error
            nodes = {row["node"] for row in payload(await client.call_tool("pve_list_nodes", {}))["items"]}
            assert nodes == {"pve2"}
    assert outside_vmid.status == "stopped" and inside.status == "stopped"
    assert outside_node.status == "running"


async def test_a_full_token_is_capped_by_the_servers_tier(sim: Simulator, tokens_file: Path) -> None:
    with http_service(auth_env(tokens_file, PVE_ACCESS_TIER="read-only"), sim) as served:
        async with mcp_over_http(served.url, ADMIN) as client:
            tools = (await client.list_tools()).tools
            assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools)


async def test_a_session_belongs_to_the_token_that_opened_it(sim: Simulator, tokens_file: Path) -> None:
    with http_service(auth_env(tokens_file), sim) as served:
        async with httpx2.AsyncClient(base_url=served.base, timeout=10) as http:
            opened = await http.post(
                "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {READER}"}
            )
            assert opened.status_code == 200
            session = opened.headers["mcp-session-id"]
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            same = {**MCP_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
            other = await http.post("/mcp", json=ping, headers={**same, "Authorization": f"Bearer {ADMIN}"})
            assert other.status_code == 404
            own = await http.post("/mcp", json=ping, headers={**same, "Authorization": f"Bearer {READER}"})
            assert own.status_code == 200


def test_the_single_mcp_auth_token_works_and_is_never_logged(tmp_path: Path) -> None:
    token, wrong = new_token(), new_token()
    audit = tmp_path / "audit.jsonl"
    env = {"MCP_AUTH_TOKEN": token, "PVE_ACCESS_TIER": "read-execute", "PVE_AUDIT_LOG": str(audit)}
    with spawn_http({**env, "PVE_LOG_LEVEL": "debug"}) as served:
        denied = httpx2.post(served.url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {wrong}"})
        assert denied.status_code == 401

        async def call() -> None:
            async with mcp_over_http(served.url, token) as client:
                assert "start" in actions((await client.list_tools()).tools, "pve_guest_power")
                started = await client.call_tool("pve_start_qemu_vm", {"vmid": STOPPED_QEMU})
                assert not started.is_error

        import anyio

        anyio.run(call)
        log = "".join(served.log)
    assert "refused a credential" in log  # the wrong token was logged about, not logged
    assert token not in log and wrong not in log
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [e["caller"] for e in entries if e["tool"] == "pve_start_qemu_vm"] == ["token"]


async def test_a_confirmation_round_is_bound_to_the_token_that_started_it(sim: Simulator, tokens_file: Path) -> None:
    """The SDK seals requestState for the authenticated principal: another token cannot finish the round."""

    async def nobody(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        raise AssertionError("the test answers the input request itself")

    yes = types.ElicitResult(action="accept", content={"approve": True})
    guest = sim.state.guests[100]
    env = auth_env(tokens_file, PVE_CONFIRM_MODE="elicit", MCP_STATE_KEY=new_token())
    with http_service(env, sim, clock=sim.wait_clock()) as served:
        async with mcp_over_http(served.url, OPERATOR, "2026-07-28", elicitation_callback=nobody) as client:
            asked = await client.session.call_tool("pve_stop_qemu_vm", {"vmid": 100}, allow_input_required=True)
            assert isinstance(asked, types.InputRequiredResult) and asked.request_state
        state = asked.request_state
        async with mcp_over_http(served.url, ADMIN, "2026-07-28", elicitation_callback=nobody) as intruder:
            with pytest.raises(MCPError, match="requestState"):
                await intruder.session.call_tool(
                    "pve_stop_qemu_vm", {"vmid": 100}, input_responses={"confirm": yes}, request_state=state
                )
        assert guest.status == "running"
        async with mcp_over_http(served.url, OPERATOR, "2026-07-28", elicitation_callback=nobody) as client:
            done = await client.session.call_tool(
                "pve_stop_qemu_vm", {"vmid": 100}, input_responses={"confirm": yes}, request_state=state
            )
            assert isinstance(done, types.CallToolResult) and not done.is_error, done
    assert guest.status == "stopped"
