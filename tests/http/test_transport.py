"""The HTTP transport end to end: both protocol eras through the SDK's HTTP client, progress streamed over
SSE while a task runs, stateless mode, and the rule that refuses an unprotected bind.

Every server here is the real app under real uvicorn on a loopback port (tests/httpserver.py).
"""

from __future__ import annotations

import time

import httpx2
import pytest
from mcp import Client

from pvesim import RealClock, Simulator
from tests.conftest import CANARY, ERAS, payload
from tests.helpers import pick
from tests.httpserver import http_service, run_refused, spawn_http

pytestmark = pytest.mark.anyio

FULL_FLAG = {"PVE_ACCESS_TIER": "full", "PVE_CONFIRM_MODE": "flag"}


def mode(era: str) -> str:
    return "legacy" if era == "legacy" else era


@pytest.mark.parametrize("era", ERAS)
async def test_list_read_and_write_in_both_eras(sim: Simulator, era: str) -> None:
    guest = pick(sim, "qemu", "running")
    with http_service(FULL_FLAG, sim, clock=sim.wait_clock()) as served:
        async with Client(served.url, mode=mode(era)) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"pve_inventory", "pve_guest_power"} <= names  # the consolidated default

            nodes = await client.call_tool("pve_list_nodes", {})
            assert not nodes.is_error
            assert {row["node"] for row in payload(nodes)["items"]} == set(sim.state.nodes)

            refused = await client.call_tool("pve_stop_qemu_vm", {"vmid": guest.vmid})
            assert refused.is_error and payload(refused)["code"] == "CONFIRMATION_REQUIRED"
            assert sim.state.guests[guest.vmid].status == "running"  # a refusal changed nothing

            stopped = await client.call_tool("pve_stop_qemu_vm", {"vmid": guest.vmid, "confirm": True})
    assert not stopped.is_error, stopped.structured_content
    assert payload(stopped)["task"]["exitstatus"] == "OK"
    assert sim.state.guests[guest.vmid].status == "stopped"


@pytest.mark.parametrize("era", ERAS)
async def test_a_long_call_streams_progress_while_the_task_runs(era: str) -> None:
    """Real time here: the task lasts 1.5 s and the server polls it; notes must arrive before it ends."""
    sim = Simulator(clock=RealClock(), task_seconds=(1.5, 1.5), token_secret=CANARY)
    guest = pick(sim, "qemu", "stopped")
    received: list[tuple[float, float, str]] = []  # (when, progress, message)

    async def note(progress: float, total: float | None, message: str | None) -> None:
        received.append((time.time(), progress, message or ""))

    with http_service({"PVE_ACCESS_TIER": "full"}, sim) as served:
        async with Client(served.url, mode=mode(era)) as client:
            result = await client.call_tool(
                "pve_start_qemu_vm", {"vmid": guest.vmid, "wait_seconds": 20}, progress_callback=note
            )
    assert not result.is_error, result.structured_content
    task = payload(result)["task"]
    assert (task["status"], task["exitstatus"]) == ("stopped", "OK")
    assert sim.state.guests[guest.vmid].status == "running"

    ended = sim.state.tasks[task["upid"]].end_at
    while_running = [message for when, _, message in received if when < ended]
    assert len(while_running) >= 2, received  # streamed as the server polled, not buffered to the end
    assert all(": running, " in message for message in while_running)
    values = [value for _, value, _ in received]
    assert values == sorted(set(values))  # strictly increasing, as MCP requires
    assert received[-1][2].startswith(f"qmstart {guest.vmid} on {guest.node}: OK")


@pytest.mark.parametrize("era", ERAS)
async def test_stateless_mode_serves_both_eras(sim: Simulator, era: str) -> None:
    guest = pick(sim, "qemu", "stopped")
    env = {"MCP_STATELESS": "true", "PVE_ACCESS_TIER": "full"}
    with http_service(env, sim, clock=sim.wait_clock()) as served:
        async with Client(served.url, mode=mode(era)) as client:
            assert "pve_guest_power" in {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("pve_start_qemu_vm", {"vmid": guest.vmid})
            status = await client.call_tool("pve_get_qemu_status", {"vmid": guest.vmid})
    assert not result.is_error, result.structured_content
    assert sim.state.guests[guest.vmid].status == "running"
    assert payload(status)["status"] == "running"


async def test_health_answers_without_asking_proxmox(sim: Simulator) -> None:
    with http_service({}, sim) as served:
        before = len(sim.requests)
        async with httpx2.AsyncClient(base_url=served.base) as http:
            answers = [await http.get("/health") for _ in range(3)]
    assert all(answer.status_code == 200 for answer in answers)
    assert answers[0].json()["status"] == "ok"
    assert len(sim.requests) == before


# ---------------------------------------------------------------- the refuse-to-start rule


def test_a_non_loopback_bind_without_authentication_is_refused() -> None:
    refused = run_refused({"MCP_HOST": "192.0.2.10"})  # a documentation address: refused before binding
    assert refused.returncode == 2
    assert "MCP_ALLOW_UNAUTHENTICATED" in refused.stderr and "MCP_HOST=192.0.2.10" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_wildcard_bind_needs_allowed_hosts() -> None:
    refused = run_refused({"MCP_HOST": "0.0.0.0", "MCP_ALLOW_UNAUTHENTICATED": "true"})
    assert refused.returncode == 2
    assert "MCP_ALLOWED_HOSTS" in refused.stderr and "Traceback" not in refused.stderr


def test_a_wildcard_bind_without_authentication_is_refused_too() -> None:
    refused = run_refused({"MCP_HOST": "0.0.0.0", "MCP_ALLOWED_HOSTS": "localhost"})
    assert refused.returncode == 2
    assert "MCP_ALLOW_UNAUTHENTICATED" in refused.stderr and "MCP_ALLOWED_HOSTS" not in refused.stderr


def test_allow_unauthenticated_starts_and_warns() -> None:
    env = {"MCP_HOST": "0.0.0.0", "MCP_ALLOWED_HOSTS": "localhost", "MCP_ALLOW_UNAUTHENTICATED": "true"}
    with spawn_http(env) as served:
        assert served.url.startswith("http://127.0.0.1:")
        warning = [line for line in served.log if "MCP_ALLOW_UNAUTHENTICATED=true" in line]
        assert warning and "without authentication" in warning[0]
        answer = httpx2.get(f"{served.base}/health", headers={"Host": f"localhost:{served.port}"}, timeout=10)
    assert answer.status_code == 200


def test_the_cli_serves_the_sandbox_on_loopback_by_default() -> None:
    with spawn_http({}) as served:
        assert served.url.startswith("http://127.0.0.1:")
        assert not any("MCP_ALLOW_UNAUTHENTICATED" in line for line in served.log)
        assert httpx2.get(f"{served.base}/health", timeout=10).status_code == 200
