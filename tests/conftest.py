"""Shared fixtures: a simulated cluster, our real client wired to it, and the real MCP server.

The cluster's token secret is a canary: the session fails if it shows up in any log record or tool result.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.session import ElicitationFnT
from mcp_types import CallToolResult

from pvemcp.catalog.spec import Module, Tier
from pvemcp.pve.client import ApiToken, ProxmoxClient, RetryPolicy
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvesim import Simulator
from pvesim.builder import DEFAULT_SECRET
from tests.canary import LeakHandler, LeakWatch, watching

ERAS = ("legacy", "2026-07-28")
SCHEMA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "pve-api"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)

# The token secret of the suite's simulated cluster, and a wrong one tests send on purpose. Neither, nor the
# simulator's default secret (used by `Simulator()` elsewhere), may appear in a log record or a tool result.
CANARY = "ca11ab1e-5ec2-4e7a-9c0d-c4a4e7000001"
WRONG_CANARY = "ca11ab1e-5ec2-4e7a-9c0d-c4a4e7000002"
LEAK_WATCH = LeakWatch((CANARY, WRONG_CANARY, DEFAULT_SECRET))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def leak_watch() -> Iterator[LeakHandler]:
    with watching(LEAK_WATCH) as handler:
        yield handler


@pytest.fixture(autouse=True)
def _leak_watch_stays_installed(leak_watch: LeakHandler) -> None:
    """Code under test may reset the root logger's handlers (configure_logging does): put the watch back."""
    root = logging.getLogger()
    if leak_watch not in root.handlers:
        root.addHandler(leak_watch)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if LEAK_WATCH.leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LEAK_WATCH.leaks:
        terminalreporter.section("secret leak", red=True)
        terminalreporter.line(LEAK_WATCH.report(), red=True)


def sim_token(sim: Simulator) -> ApiToken:
    user_realm, token_name = sim.token_id.split("!", 1)
    user, realm = user_realm.rsplit("@", 1)
    return ApiToken(user=user, realm=realm, token_name=token_name, secret=sim.token_secret)


def client_for(sim: Simulator, *, timeout: float = 5.0, secret: str | None = None) -> ProxmoxClient:
    """Our client on the simulator in-process; `secret` overrides the token secret it sends."""
    token = sim_token(sim)
    if secret is not None:
        token = ApiToken(token.user, token.realm, token.token_name, secret)
    transport = httpx2.ASGITransport(app=sim.app)
    return ProxmoxClient("https://pve1.sim:8006", token, transport=transport, timeout=timeout, retry=FAST_RETRY)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(token_secret=CANARY)


@pytest.fixture
async def pve(sim: Simulator) -> AsyncIterator[ProxmoxClient]:
    client = client_for(sim)
    yield client
    await client.aclose()


FULL = Policy(tier=Tier.FULL, module=Module.ADVANCED, ssh=True)  # the whole catalog, SSH tools included

McpFactory = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def mcp_client(
    pve: ProxmoxClient,
    sim: Simulator,
    era: str = "legacy",
    policy: Policy = FULL,
    *,
    person: ElicitationFnT | None = None,
    **runtime: Any,
) -> AsyncIterator[Client]:
    """An SDK client, in `era`, on the real server over `pve`; `runtime` options go to Runtime.

    Task waits run on the simulator's clock, so a 30 s wait costs no real time; `person` answers
    elicitation (None: the client declares none).
    """
    server = build_server(Runtime(pve, Inventory(policy), clock=sim.wait_clock(), **runtime))
    async with Client(server, mode=era, elicitation_callback=person) as client:
        yield client


@pytest.fixture
def connect(sim: Simulator, pve: ProxmoxClient, era: str) -> McpFactory:
    """Open an SDK client, in the parametrised protocol era, to the real server over our client."""

    def factory(policy: Policy = FULL) -> AbstractAsyncContextManager[Client]:
        return mcp_client(pve, sim, era, policy)

    return factory


def payload(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None
    return dict(result.structured_content)


BIN = Path(sys.executable).parent / "pvemcp"


@pytest.fixture
def no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the environment a test gives counts: no user or project configuration file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    for name in ("PVEMCP_CONFIG", "PVEMCP_PROFILE", "PVE_ACCESS_TIER", "PVE_MODULE_MODE", "PVE_TOOL_BLACKLIST"):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def sim_served(*extra: str) -> Iterator[dict[str, str]]:
    """`pvemcp sim serve --port 0 [extra]`; yields the PROXMOX_* settings it prints."""
    proc = subprocess.Popen(
        [str(BIN), "sim", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        while len(env) < 7:
            line = proc.stdout.readline()
            assert line, "pvemcp sim serve exited before printing its settings"
            key, _, value = line.strip().removeprefix("export ").partition("=")
            env[key] = value
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def served_sim() -> Iterator[dict[str, str]]:
    """`pvemcp sim serve` on a free loopback port; yields the PROXMOX_* settings it prints."""
    with sim_served() as env:
        yield env
