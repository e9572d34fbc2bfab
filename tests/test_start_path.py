"""What `pvemcp run` imports before its first tools/list, against the simulator served over HTTPS.

An MCP client spawns the server whenever a chat opens and waits for its tool list; every module imported
on that path delays it. The other transports, the simulator, the other commands and the argument
validator's JSON Schema machinery (needed at the first tools/call) stay out of it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pvemcp.server.fronts import Fronts
from pvemcp.server.inventory import Inventory, parse_policy
from tests.conftest import BIN

KEPT_OUT = (
    "pvesim",  # the simulator: only for the sandbox
    "rich",
    "asyncssh",  # the SSH channel connects at its first use
    "jwt",
    "jsonschema",  # the argument validators are built at a tool's first call
    "pvemcp.http",
    "pvemcp.setup",
    "pvemcp.doctor",
    "pvemcp.privileges",
    "pvemcp.cli.audit",
    "pvemcp.cli.bootstrap",
    "pvemcp.cli.doctor",
    "pvemcp.cli.setup",
    "pvemcp.cli.token",
    "pvemcp.ssh.client",
    "matplotlib",  # charts are drawn at the first call that asks for one (server/charts.py)
    "numpy",
    "PIL",
)
OPENING = (
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
)
FULL_CATALOG = {"PVE_ACCESS_TIER": "full", "PVE_MODULE_MODE": "advanced"}


def imported_until_listed(env: dict[str, str], stderr_path: Path) -> tuple[set[str], int]:
    """Spawn `pvemcp run`, list its tools, stop it: the modules it had imported, and how many tools it listed."""
    spawn_env = {"PATH": os.environ.get("PATH", ""), **env, "PYTHONPROFILEIMPORTTIME": "1"}
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [str(BIN), "run"], env=spawn_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            for message in OPENING:
                proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            assert "result" in json.loads(proc.stdout.readline())  # initialize
            listed = json.loads(proc.stdout.readline())
            with stderr_path.open() as so_far:  # read before the process ends: its exit imports nothing we count
                lines = so_far.read().splitlines()
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
            proc.stdout.close()
    modules = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    return modules, len(listed["result"]["tools"])


@pytest.mark.parametrize("mode", ["consolidated", "catalog"])
def test_the_stdio_path_imports_nothing_it_does_not_need(served_sim: dict[str, str], tmp_path: Path, mode: str) -> None:
    env = {**served_sim, **FULL_CATALOG, "PVE_AUDIT_LOG": "off", "PVE_LOG_LEVEL": "warning", "PVE_TOOL_MODE": mode}
    modules, listed = imported_until_listed(env, tmp_path / "stderr.txt")
    assert "pvemcp.stdio" in modules and "pvemcp.server.app" in modules  # the probe saw the real path
    present = sorted(name for name in modules if name.split(".")[0] in KEPT_OUT or name in KEPT_OUT)
    present += sorted(name for name in modules if any(name.startswith(kept + ".") for kept in KEPT_OUT))
    assert not present, f"imported on the way to the first tools/list: {sorted(set(present))}"
    policy, problems = parse_policy(
        tier="full", module="advanced", categories=None, whitelist=None, blacklist=None, mode=mode
    )
    assert not problems
    inventory = Inventory(policy)
    expected = len(Fronts(inventory).tools) if mode == "consolidated" else len(inventory.listed())
    assert listed == expected  # every tool this tier and module expose was listed
