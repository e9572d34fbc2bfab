"""A caller without a credential (a server without authentication, on loopback) is named as such, never `stdio`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from pvemcp.http.app import ANONYMOUS_CALLER
from pvesim import Simulator
from tests.conftest import payload
from tests.httpserver import http_service

pytestmark = pytest.mark.anyio

STOPPED_QEMU = 103  # on pve1, stopped in the simulator's default cluster


async def test_an_unauthenticated_http_caller_is_http_anonymous_in_logs_and_audit(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pvemcp")
    audit = tmp_path / "audit.jsonl"
    env = {"PVE_ACCESS_TIER": "read-execute", "PVE_AUDIT_LOG": str(audit)}
    with http_service(env, sim, clock=sim.wait_clock()) as served:
        async with (
            httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=60)) as http,
            Client(streamable_http_client(served.url, http_client=http)) as client,
        ):
            started = await client.call_tool("pve_start_qemu_vm", {"vmid": STOPPED_QEMU})
            assert not started.is_error, payload(started)
    assert ANONYMOUS_CALLER == "http:anonymous"
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [e["caller"] for e in entries if e["tool"] == "pve_start_qemu_vm"] == [ANONYMOUS_CALLER]
    calls = [r.getMessage() for r in caplog.records if r.getMessage().startswith("call tool=pve_start_qemu_vm")]
    assert calls and all(f"caller={ANONYMOUS_CALLER} " in line for line in calls)
    assert not any("caller=stdio" in r.getMessage() for r in caplog.records)
