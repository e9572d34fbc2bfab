"""`pvemcp run --sandbox` over stdio, as raw lines: what a line that is no JSON-RPC message gets back, and
NaN or Infinity, which Python's JSON parser lets through to the tools."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


class Stdio:
    """A pvemcp subprocess spoken to line by line; every read has a deadline, so a silent server fails the test."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, line: str | dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 20.0) -> dict[str, Any]:
        answer = json.loads(self.lines.get(timeout=timeout))
        assert isinstance(answer, dict)
        return answer

    def initialize(self) -> None:
        self.send(INITIALIZE)
        assert "result" in self.receive()
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})


@pytest.fixture
def stdio(tmp_path: Path) -> Iterator[Stdio]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PVE_AUDIT_LOG": "off",
        "PVE_ACCESS_TIER": "full",
        "PVE_MODULE_MODE": "advanced",
    }
    proc = subprocess.Popen(
        [str(BIN), "run", "--sandbox"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield Stdio(proc)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_line_that_is_not_json_gets_a_parse_error_and_the_server_keeps_serving(stdio: Stdio) -> None:
    stdio.send("this is not json")
    assert stdio.receive() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error: the line is not JSON"},
    }
    stdio.send('{"jsonrpc": "2.0", "id": 7, "method": 5}')  # JSON, not a request: its id is answered
    assert stdio.receive() == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32600, "message": "Invalid Request: not a JSON-RPC 2.0 message"},
    }
    stdio.send("[1, 2]")
    invalid = stdio.receive()
    assert invalid["id"] is None and invalid["error"]["code"] == -32600
    stdio.send("")  # a blank line is no message: nothing to answer
    stdio.initialize()
    stdio.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    listed = stdio.receive()
    assert listed["id"] == 2 and any(tool["name"] == "pve_inventory" for tool in listed["result"]["tools"])


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_refused_as_tool_input(stdio: Stdio, literal: str) -> None:
    stdio.initialize()
    calls = [
        ("pve_update_replication_job", f'{{"id": "100-0", "rate": {literal}}}', "rate"),
        ("pve_get_qemu_status", f'{{"vmid": {literal}}}', "vmid"),
        ("pve_api_get", f'{{"path": "/cluster/resources", "params": {{"max": {literal}}}}}', "params.max"),
    ]
    for number, (tool, arguments, where) in enumerate(calls, start=10):
        stdio.send(
            f'{{"jsonrpc": "2.0", "id": {number}, "method": "tools/call",'
            f' "params": {{"name": "{tool}", "arguments": {arguments}}}}}'
        )
        answer = stdio.receive()
        assert answer["id"] == number and answer["result"]["isError"], answer
        body = answer["result"]["structuredContent"]
        assert body["code"] == "TOOL_INPUT_REJECTED", body
        assert f"{where} must be a finite number" in body["message"]
