"""`pvemcp run` on stdio as its own process: both protocol eras, concurrent calls, input from a regular file
(served by the SDK's transport), and SIGTERM, which stops it with exit status 0 and a closed audit log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from pvemcp.audit import verify
from tests.conftest import BIN
from tests.test_stdio_wire import INITIALIZE, Stdio

pytestmark = pytest.mark.anyio

FULL = {"PVE_ACCESS_TIER": "full", "PVE_MODULE_MODE": "advanced", "PVE_LOG_LEVEL": "warning"}


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
async def test_both_eras_list_and_call_concurrently(served_sim: dict[str, str], era: str) -> None:
    params = StdioServerParameters(command=str(BIN), args=["run"], env={**served_sim, **FULL, "PVE_AUDIT_LOG": "off"})
    failures: list[str] = []
    with anyio.fail_after(60):
        async with Client(params, mode=era, cache=None) as mcp:
            listed = await mcp.list_tools()
            assert any(tool.name == "pve_inventory" for tool in listed.tools)  # the consolidated default

            async def one() -> None:
                result = await mcp.call_tool("pve_list_nodes", {})
                if result.is_error or not result.structured_content:
                    failures.append(repr(result))

            async with anyio.create_task_group() as tg:
                for _ in range(40):
                    tg.start_soon(one)
    assert failures == []


def test_input_from_a_regular_file_is_served(tmp_path: Path) -> None:
    """A file on stdin cannot be watched by the event loop: the SDK's transport serves it, unreadable lines too."""
    requests = tmp_path / "requests.jsonl"
    lines = [
        json.dumps(INITIALIZE),
        "not json",
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ]
    requests.write_text("\n".join(lines) + "\n")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PVE_AUDIT_LOG": "off", **FULL}
    with requests.open() as stdin:
        done = subprocess.run(
            [str(BIN), "run", "--sandbox"],
            stdin=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    answers = {json.dumps(a.get("id")): a for a in map(json.loads, done.stdout.splitlines())}
    assert "result" in answers["1"]
    assert answers["null"]["error"]["code"] == -32700
    assert any(tool["name"] == "pve_inventory" for tool in answers["2"]["result"]["tools"])


def test_sigterm_stops_the_server_with_status_0_and_the_audit_log_closed(tmp_path: Path) -> None:
    audit = tmp_path / "audit" / "audit.jsonl"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PVE_AUDIT_LOG": str(audit), **FULL}
    env["PVE_LOG_LEVEL"] = "info"
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [str(BIN), "run", "--sandbox"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        stdio = Stdio(proc)
        try:
            stdio.initialize()
            stdio.send(
                {
                    "jsonrpc": "2.0",
                    "id": 3,
                    "method": "tools/call",
                    "params": {"name": "pve_create_pool", "arguments": {"poolid": "stop-test"}},
                }
            )
            answer = stdio.receive()
            assert answer["id"] == 3 and not answer["result"].get("isError"), answer
            proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
    log = stderr_path.read_text()
    assert status == 0, log
    assert "stopped serving on stdio" in log
    verdict = verify(audit)
    assert verdict.ok and verdict.torn_line is None and verdict.entries >= 1, verdict
    assert "pve_create_pool" in audit.read_text()
