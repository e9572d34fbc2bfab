"""Two `pvemcp run --transport http` processes behind one deployment finish one elicitation round together.

Both replicas talk to one simulator served over HTTPS. In the 2026-07-28 era a destructive call answers
with an input request whose requestState is sealed with MCP_STATE_KEY; the client sends the person's answer
and that state back, and a load balancer may route it to the other replica. With the same key the other
replica acts; with a different key it refuses the state and nothing happens.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.shared.exceptions import MCPError

from tests.conftest import payload
from tests.httpserver import Served, spawn_http

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
YES = types.ElicitResult(action="accept", content={"approve": True})


async def nobody(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
    """Declares elicitation; the test answers the form itself, on the other replica."""
    raise AssertionError("the input request is answered by the test, not by the client's loop")


@contextmanager
def replicas(sim_env: dict[str, str], key_a: str, key_b: str) -> Iterator[tuple[Served, Served]]:
    base = {**sim_env, "PVE_ACCESS_TIER": "full", "PVE_CONFIRM_MODE": "elicit"}
    with ExitStack() as stack:
        a = stack.enter_context(spawn_http({**base, "MCP_STATE_KEY": key_a}, sandbox=False))
        b = stack.enter_context(spawn_http({**base, "MCP_STATE_KEY": key_b}, sandbox=False))
        assert a.port != b.port
        yield a, b


async def running_vm(client: Client) -> dict[str, Any]:
    rows = payload(await client.call_tool("pve_list_cluster_resources", {"type": "vm"}))["items"]
    return next(row for row in rows if row["type"] == "qemu" and row["status"] == "running" and not row["template"])


async def status_of(client: Client, vmid: int) -> str:
    return str(payload(await client.call_tool("pve_get_qemu_status", {"vmid": vmid}))["status"])


async def ask_on(replica: Served, vmid: int) -> types.InputRequiredResult:
    async with Client(replica.url, mode=MODERN, elicitation_callback=nobody) as client:
        await client.list_tools()
        asked = await client.session.call_tool("pve_stop_qemu_vm", {"vmid": vmid}, allow_input_required=True)
    assert isinstance(asked, types.InputRequiredResult), asked
    assert asked.request_state and asked.input_requests and "confirm" in asked.input_requests
    return asked


async def test_one_replica_asks_and_the_other_acts_with_a_shared_key(served_sim: dict[str, str]) -> None:
    key = secrets.token_urlsafe(32)
    with replicas(served_sim, key, key) as (a, b):
        async with Client(b.url, mode=MODERN, elicitation_callback=nobody) as on_b:
            vm = await running_vm(on_b)
            asked = await ask_on(a, vm["vmid"])
            assert await status_of(on_b, vm["vmid"]) == "running"  # asking changed nothing

            done = await on_b.session.call_tool(
                "pve_stop_qemu_vm",
                {"vmid": vm["vmid"]},
                input_responses={"confirm": YES},
                request_state=asked.request_state,
            )
            assert isinstance(done, types.CallToolResult)
            assert not done.is_error, done.structured_content
            assert payload(done)["task"]["exitstatus"] == "OK"
            assert await status_of(on_b, vm["vmid"]) == "stopped"


async def test_a_replica_with_another_key_refuses_the_state(served_sim: dict[str, str]) -> None:
    with replicas(served_sim, secrets.token_urlsafe(32), secrets.token_urlsafe(32)) as (a, b):
        async with Client(b.url, mode=MODERN, elicitation_callback=nobody) as on_b:
            vm = await running_vm(on_b)
            asked = await ask_on(a, vm["vmid"])
            with pytest.raises(MCPError, match="Invalid or expired requestState"):
                await on_b.session.call_tool(
                    "pve_stop_qemu_vm",
                    {"vmid": vm["vmid"]},
                    input_responses={"confirm": YES},
                    request_state=asked.request_state,
                )
            assert await status_of(on_b, vm["vmid"]) == "running"
