"""The HTTP transport answers both protocol eras through the SDK's own HTTP client."""

from __future__ import annotations

import pytest
from mcp import Client

from pvemcp.sim import Simulator
from tests.conftest import ERAS, payload
from tests.httpserver import http_service, spawn_http

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("era", ERAS)
async def test_list_and_call_in_both_eras(sim: Simulator, era: str) -> None:
    with http_service({"PVE_ACCESS_TIER": "read-only"}, sim) as served:
        async with Client(served.url, mode="legacy" if era == "legacy" else era) as client:
            tools = await client.list_tools()
            assert "pve_list_nodes" in {t.name for t in tools.tools}
            result = await client.call_tool("pve_list_nodes", {})
            assert not result.is_error
            nodes = {row["node"] for row in payload(result)["items"]}
            assert nodes == set(sim.state.nodes)


def test_cli_serves_the_sandbox() -> None:
    with spawn_http({}) as served:
        assert served.url.startswith("http://127.0.0.1:")
