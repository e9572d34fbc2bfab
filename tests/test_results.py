"""Results that fit an assistant's context: pages, projection and a byte budget, on a large cluster."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory
from pvesim import Simulator
from tests.conftest import FULL, McpFactory, client_for, payload
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio
BUDGET = 40_000


@pytest.fixture(scope="module")
def big_sim() -> Simulator:
    return Simulator(nodes=50, guests=5000)


async def walk(client: Client, args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        result = await client.call_tool(
            "pve_list_cluster_resources", {**args, **({"cursor": cursor} if cursor else {})}
        )
        assert not result.is_error, result.structured_content
        body = payload(result)
        assert len(result.content[0].text.encode()) <= BUDGET  # type: ignore[union-attr]
        yield body
        cursor = body.get("next_cursor")
        if cursor is None:
            return


async def test_the_5000_guest_inventory_pages_within_budget_and_returns_each_guest_once(big_sim: Simulator) -> None:
    pve = client_for(big_sim)
    server = build_server(Runtime(pve, Inventory(FULL), max_result_bytes=BUDGET))
    seen: list[int] = []
    pages = 0
    async with Client(server, mode="2026-07-28") as client:
        before = len(big_sim.requests)
        async for body in walk(client, {"type": "vm"}):
            pages += 1
            assert body["total"] == 5000
            seen += [item["vmid"] for item in body["items"]]
        upstream = [r for r in big_sim.requests[before:] if r.path == "/cluster/resources"]
    await pve.aclose()
    assert pages > 1
    assert len(upstream) == pages, "one upstream request per page"
    assert sorted(seen) == sorted(big_sim.state.guests)
    assert len(seen) == len(set(seen))


async def test_fields_and_limit_shrink_each_page(big_sim: Simulator) -> None:
    pve = client_for(big_sim)
    server = build_server(Runtime(pve, Inventory(FULL), max_result_bytes=BUDGET))
    async with Client(server, mode="legacy") as client:
        body = payload(
            await client.call_tool(
                "pve_list_cluster_resources", {"type": "vm", "fields": ["vmid", "status"], "limit": 100}
            )
        )
    await pve.aclose()
    assert body["count"] == 100
    assert all(set(item) <= {"vmid", "status"} for item in body["items"])
    assert "note" not in body and body["next_cursor"]


async def test_a_cursor_from_another_query_is_rejected(connect: McpFactory) -> None:
    async with connect() as client:
        first = payload(await client.call_tool("pve_list_cluster_resources", {"type": "vm", "limit": 2}))
    body = await failed(connect, "pve_list_cluster_resources", {"type": "node", "cursor": first["next_cursor"]})
    assert body["code"] == "TOOL_INPUT_REJECTED" and "cursor" in body["message"]


async def test_a_small_budget_cuts_a_list_and_says_how_to_get_the_rest(pve: Any, sim: Simulator) -> None:
    server = build_server(Runtime(pve, Inventory(FULL), max_result_bytes=2_000))
    async with Client(server, mode="legacy") as client:
        result = await client.call_tool("pve_list_cluster_resources", {})
    body = payload(result)
    assert len(result.content[0].text.encode()) <= 2_000  # type: ignore[union-attr]
    assert body["count"] < body["total"] and body["next_cursor"] and "cursor" in body["note"]


async def test_results_are_compact_json(connect: McpFactory) -> None:
    async with connect() as client:
        result = await client.call_tool("pve_list_nodes", {})
    text = result.content[0].text  # type: ignore[union-attr]
    assert text == json.dumps(payload(result), separators=(",", ":"), ensure_ascii=False)
    assert "\n" not in text


async def test_unpaged_results_report_count(connect: McpFactory, sim: Simulator) -> None:
    body = await call(connect, "pve_list_nodes")
    assert body["count"] == len(sim.state.nodes)
