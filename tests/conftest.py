"""Shared fixtures: a simulated cluster, our real client wired to it, and the real MCP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp_types import CallToolResult

from pvemcp.catalog.spec import Module, Tier
from pvemcp.pve.client import ApiToken, ProxmoxClient, RetryPolicy
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvemcp.sim import Simulator

ERAS = ("legacy", "2026-07-28")
SCHEMA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "pve-api"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def sim_token(sim: Simulator) -> ApiToken:
    user_realm, token_name = sim.token_id.split("!", 1)
    user, realm = user_realm.rsplit("@", 1)
    return ApiToken(user=user, realm=realm, token_name=token_name, secret=sim.token_secret)


def client_for(sim: Simulator, *, timeout: float = 5.0) -> ProxmoxClient:
    transport = httpx2.ASGITransport(app=sim.app)
    return ProxmoxClient(
        "https://pve1.sim:8006", sim_token(sim), transport=transport, timeout=timeout, retry=FAST_RETRY
    )


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
async def pve(sim: Simulator) -> AsyncIterator[ProxmoxClient]:
    client = client_for(sim)
    yield client
    await client.aclose()


FULL = Policy(tier=Tier.FULL, module=Module.ADVANCED)

McpFactory = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(sim: Simulator, pve: ProxmoxClient, era: str) -> McpFactory:
    """Open an SDK client, in the parametrised protocol era, to the real server over our client.

    Task waits run on the simulator's clock, so a 30 s wait costs no real time.
    """

    @asynccontextmanager
    async def factory(policy: Policy = FULL) -> AsyncIterator[Client]:
        server = build_server(Runtime(pve, Inventory(policy), clock=sim.wait_clock()))
        async with Client(server, mode=era) as client:
            yield client

    return factory


def payload(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None
    return dict(result.structured_content)
