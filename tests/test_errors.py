"""docs/errors.md stays complete and current; every injected failure reaches the client as its code; no secret leaks.

The faults are armed in the simulator and the calls go MCP client → server → our client → simulator, so
the codes checked here are the ones an assistant really sees.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult

import pvemcp
from pvemcp.cli.docs import render_errors_markdown
from pvemcp.pve.client import ProxmoxClient, RetryPolicy
from pvemcp.pve.error_table import SOURCES, error_rows
from pvemcp.pve.errors import ErrorCode
from pvemcp.server.app import build_server
from pvemcp.server.call import Call
from pvemcp.server.dispatch import Runtime
from pvemcp.server.handlers import HANDLERS
from pvemcp.server.inventory import Inventory
from pvesim import Fault, Simulator
from pvesim.faults import KINDS
from pvesim.serve import serving
from tests.canary import LeakWatch
from tests.conftest import CANARY, FULL, LEAK_WATCH, WRONG_CANARY, McpFactory, client_for, payload, sim_token
from tests.helpers import pick

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = str(Path(pvemcp.__file__).resolve().parent)
NOT_EXIST = "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist"


@asynccontextmanager
async def mcp_on(sim: Simulator, client: ProxmoxClient) -> AsyncIterator[Client]:
    """The real server over `client`; the client is closed on the way out."""
    try:
        async with Client(build_server(Runtime(client, Inventory(FULL), clock=sim.wait_clock()))) as mcp:
            yield mcp
    finally:
        await client.aclose()


def error_of(result: CallToolResult) -> dict[str, object]:
    """The error payload, after checking it carries no trace of pvemcp's insides."""
    assert result.is_error
    text = result.model_dump_json()
    assert "Traceback" not in text and PACKAGE_DIR not in text and 'File "' not in text, text
    body = payload(result)
    assert body["hint"] and body["message"]
    return body


def test_every_code_has_exactly_one_row_in_the_doc() -> None:
    grouped = [row.code for _, codes in SOURCES for row in error_rows(codes)]
    assert sorted(grouped) == sorted(ErrorCode)
    doc = render_errors_markdown()
    for code in ErrorCode:
        assert doc.count(f"| `{code}` |") == 1, code


def test_docs_errors_md_is_current() -> None:
    path = ROOT / "docs" / "errors.md"
    assert path.read_text() == render_errors_markdown(), "docs/errors.md is stale: run `make docs`"


E = ErrorCode
FAULTS: dict[str, tuple[Fault, ErrorCode]] = {
    "401": (Fault("status", status=401, message="authentication failure"), E.PROXMOX_AUTH_FAILED),
    "403": (Fault("status", status=403, message="Permission check failed (/, Sys.Audit)"), E.PROXMOX_ACL_FORBIDDEN),
    "404": (Fault("status", status=404, message="no such resource"), E.PROXMOX_NOT_FOUND),
    "400": (Fault("status", status=400, message="Parameter verification failed."), E.PROXMOX_REQUEST_REJECTED),
    "500": (Fault("status", status=500, message="got timeout"), E.PROXMOX_SERVER_ERROR),
    "500-does-not-exist": (Fault("status", status=500, message=NOT_EXIST), E.PROXMOX_NOT_FOUND),
    "501": (Fault("status", status=501, message="Method 'GET /nodes' not implemented"), E.PROXMOX_REQUEST_REJECTED),
    "502": (Fault("status", status=502), E.PROXMOX_SERVER_ERROR),
    "503": (Fault("status", status=503), E.PROXMOX_SERVER_ERROR),
    "504": (Fault("status", status=504), E.PROXMOX_SERVER_ERROR),
    "596": (Fault("status", status=596), E.PROXMOX_SERVER_ERROR),
    "html-502": (Fault("html"), E.PROXMOX_SERVER_ERROR),
    "bad-json": (Fault("bad-json"), E.PROXMOX_INVALID_RESPONSE),
}


@pytest.mark.parametrize(("fault", "code"), FAULTS.values(), ids=FAULTS.keys())
async def test_each_injected_fault_reaches_the_client_as_its_code(
    connect: McpFactory, sim: Simulator, fault: Fault, code: ErrorCode
) -> None:
    # count=0: the fault outlasts the retries a read gets on 502, 503, 504 and 596.
    sim.arm(Fault(fault.kind, status=fault.status, message=fault.message, count=0, path_prefix="/nodes"))
    async with connect() as client:
        body = error_of(await client.call_tool("pve_list_nodes", {}))
    assert body["code"] == code
    assert body["status"] == fault.status_code
    if fault.message:
        assert fault.message in str(body["message"])


def test_every_fault_kind_is_checked() -> None:
    assert {fault.kind for fault, _ in FAULTS.values()} | {"hang"} == set(KINDS)  # hang: the timeout test below


async def test_a_hanging_proxmox_is_a_timeout(sim: Simulator) -> None:
    sim.arm(Fault("hang", path_prefix="/nodes"))
    with anyio.fail_after(10):
        async with mcp_on(sim, client_for(sim, timeout=0.2)) as client:
            body = error_of(await client.call_tool("pve_list_nodes", {}))
    assert body["code"] == ErrorCode.TIMEOUT and "status" not in body


async def test_a_596_read_is_retried_and_answers(connect: McpFactory, sim: Simulator) -> None:
    sim.arm(Fault("status", status=596, count=2, path_prefix="/nodes"))
    async with connect() as client:
        result = await client.call_tool("pve_list_nodes", {})
    assert not result.is_error and payload(result)["count"] == 3
    assert [r.path for r in sim.requests] == ["/nodes"] * 3


async def test_a_596_write_is_sent_once_and_reported(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    sim.arm(Fault("status", status=596, count=0, method="POST"))
    async with connect() as client:
        body = error_of(await client.call_tool("pve_start_qemu_vm", {"vmid": guest.vmid}))
    assert (body["code"], body["status"]) == (ErrorCode.PROXMOX_SERVER_ERROR, 596)
    assert "Connection timed out" in str(body["message"])
    assert [r.method for r in sim.requests].count("POST") == 1
    assert sim.state.guests[guest.vmid].status == "stopped"


async def test_proxmox_own_does_not_exist_500_is_a_not_found(connect: McpFactory, sim: Simulator) -> None:
    guest = next(g for g in sim.state.guests.values() if g.type == "qemu" and g.node != "pve1")
    async with connect() as client:
        result = await client.call_tool("pve_get_qemu_status", {"node": "pve1", "vmid": guest.vmid})
    body = error_of(result)
    assert (body["code"], body["status"]) == (ErrorCode.PROXMOX_NOT_FOUND, 500)
    assert "does not exist" in str(body["message"])


def test_the_watch_flags_a_secret_and_masks_it_in_its_report() -> None:
    watch = LeakWatch(("s3cr3t-value",))
    watch.inspect("log record", "nothing to see")
    watch.inspect("tool result", '{"header": "PVEAPIToken=a@pve!b=s3cr3t-value"}')
    assert watch.seen == {"log record": 1, "tool result": 1}
    assert len(watch.leaks) == 1 and "<SECRET>" in watch.leaks[0] and "s3cr3t-value" not in watch.report()


async def test_no_error_path_leaks_the_token_secret(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Wrong secret, a 500, an untrusted certificate, a timeout and a bug in a handler, all logged at DEBUG."""
    caplog.set_level(logging.DEBUG)
    leaks, seen = len(LEAK_WATCH.leaks), LEAK_WATCH.seen.copy()
    codes: list[object] = []
    with anyio.fail_after(30):
        async with mcp_on(sim, client_for(sim)) as client:
            assert not (await client.call_tool("pve_list_nodes", {})).is_error  # the canary is the live secret
            sim.arm(Fault("status", status=500, message="got timeout", path_prefix="/nodes"))
            codes.append(error_of(await client.call_tool("pve_list_nodes", {}))["code"])
        async with mcp_on(sim, client_for(sim, secret=WRONG_CANARY)) as client:
            codes.append(error_of(await client.call_tool("pve_list_nodes", {}))["code"])
        async with serving(sim) as (url, _):
            untrusted = ProxmoxClient(url, sim_token(sim), retry=RetryPolicy(attempts=1), timeout=5)
            async with mcp_on(sim, untrusted) as client:
                codes.append(error_of(await client.call_tool("pve_list_nodes", {}))["code"])
        sim.arm(Fault("hang", path_prefix="/nodes"))
        async with mcp_on(sim, client_for(sim, timeout=0.2)) as client:
            codes.append(error_of(await client.call_tool("pve_list_nodes", {}))["code"])

        async def broken(call: Call) -> object:
            raise RuntimeError(f"unexpected state in {call.client!r}: {vars(call.client)}")

        monkeypatch.setitem(HANDLERS, "rest", broken)
        async with mcp_on(sim, client_for(sim)) as client:
            codes.append(error_of(await client.call_tool("pve_list_nodes", {}))["code"])
    assert codes == ["PROXMOX_SERVER_ERROR", "PROXMOX_AUTH_FAILED", "TLS_ERROR", "TIMEOUT", "INTERNAL_ERROR"]
    assert "Traceback" in caplog.text and "unexpected state in" in caplog.text  # the trace goes to the log only
    assert CANARY not in caplog.text and WRONG_CANARY not in caplog.text
    assert LEAK_WATCH.leaks[leaks:] == []
    assert LEAK_WATCH.seen["tool result"] >= seen["tool result"] + 6
    assert LEAK_WATCH.seen["log record"] >= seen["log record"] + 20
