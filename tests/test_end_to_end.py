"""End to end, as a user runs it: `pvemcp sim serve` over real HTTPS, `pvemcp run` on stdio, the SDK client."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp_types import ElicitRequestParams, ElicitResult

from pvemcp.pve.tls import TlsConfig
from tests.conftest import BIN, payload

pytestmark = pytest.mark.anyio


def control(env: dict[str, str], path: str) -> dict[str, object]:
    token_id = f"{env['PROXMOX_USER']}@{env['PROXMOX_REALM']}!{env['PROXMOX_TOKEN_NAME']}"
    auth = f"PVEAPIToken={token_id}={env['PROXMOX_TOKEN_SECRET']}"
    ctx = TlsConfig(fingerprint=env["PROXMOX_TLS_FINGERPRINT"]).ssl_context()
    url = f"https://{env['PROXMOX_HOST']}:{env['PROXMOX_PORT']}{path}"
    response = httpx2.get(url, headers={"Authorization": auth}, verify=ctx)
    response.raise_for_status()
    data = response.json()["data"]
    assert isinstance(data, dict)
    return data


async def test_pvemcp_run_on_stdio_operates_the_simulator_served_over_https(
    served_sim: dict[str, str], tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    env = {**served_sim, "PVE_ACCESS_TIER": "read-execute", "PVE_LOG_LEVEL": "warning", "PVE_AUDIT_LOG": str(audit)}
    params = StdioServerParameters(command=str(BIN), args=["run"], env=env)
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            listed = {t.name for t in (await client.list_tools()).tools}
            # The consolidated default lists pve_guest_power; every catalog name and alias stays callable.
            assert "pve_guest_power" in listed and "pve_stop_qemu_vm" not in listed
            nodes = payload(await client.call_tool("pve_list_nodes", {}))
            assert nodes["count"] == 3
            guests = payload(await client.call_tool("pve_list_cluster_resources", {"type": "vm"}))["items"]
            running = next(
                g for g in guests if g["type"] == "qemu" and g["status"] == "running" and not g.get("template")
            )
            refused = await client.call_tool("pve_guest_power", {"action": "stop", "vmid": running["vmid"]})
            assert refused.is_error and payload(refused)["code"] == "CONFIRMATION_REQUIRED"
            assert control(served_sim, f"/_sim/guests/{running['vmid']}")["status"] == "running"
            stopped = payload(await client.call_tool("stopVM", {"vmid": running["vmid"], "confirm": True}))
            task = stopped["task"]  # the server waited for the task, in real time
            assert task["upid"].startswith(f"UPID:{running['node']}:")
            assert (task["status"], task["exitstatus"]) == ("stopped", "OK")
            assert control(served_sim, f"/_sim/guests/{running['vmid']}")["status"] == "stopped"
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(e["tool"], e["outcome"]) for e in entries] == [("pve_stop_qemu_vm", "refused"), ("stopVM", "ok")]
    assert entries[0]["via"] == "pve_guest_power action=stop"
    assert entries[1]["upid"] == task["upid"] and entries[1]["caller"] == "stdio"


def test_pvemcp_tools_lists_the_whole_catalog_with_endpoints() -> None:
    out = subprocess.run([str(BIN), "tools", "--json", "--all"], capture_output=True, text=True, check=True)
    rows = json.loads(out.stdout)
    assert len(rows) >= 30
    by_name = {row["name"]: row for row in rows}
    stop = {"kind": "rest", "method": "POST", "path": "/nodes/{node}/qemu/{vmid}/status/stop"}
    assert by_name["pve_stop_qemu_vm"]["target"] == stop
    assert by_name["pve_stop_qemu_vm"]["aliases"] == ["stopVM"]
    assert by_name["pve_stop_qemu_vm"]["exposed"] is False and by_name["pve_stop_qemu_vm"]["hidden_by"] == "tier"
    for key in ("category", "tier", "module", "destructive", "confirm", "idempotent", "target"):
        assert key in by_name["pve_list_nodes"]
    # A tool without an endpoint of its own says what it is instead of naming a placeholder.
    assert by_name["pve_exec_in_container"]["target"] == {"kind": "ssh", "writes": True}
    assert by_name["pve_preview"]["target"] == {"kind": "local"}
    assert by_name["pve_api_get"]["target"] == {"kind": "raw", "methods": ["GET"]}


def test_pvemcp_tools_prints_its_table() -> None:
    out = subprocess.run([str(BIN), "tools"], capture_output=True, text=True, check=True)
    assert "pve_inventory" in out.stdout  # the consolidated default
    for args in (["tools", "--operations"], ["tools", "--all"]):
        out = subprocess.run([str(BIN), *args], capture_output=True, text=True, check=True)
        assert "pve_list_nodes" in out.stdout and "GET /nodes" in out.stdout
    out = subprocess.run([str(BIN), "tools", "--all"], capture_output=True, text=True, check=True)
    assert "ssh (writes)" in out.stdout and "GET (any path)" in out.stdout


def test_pvemcp_version_prints_the_version() -> None:
    from pvemcp import __version__

    env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    out = subprocess.run([str(BIN), "--version"], capture_output=True, text=True, check=True, env=env)
    assert __version__ in out.stdout


async def test_pvemcp_run_sandbox_serves_the_embedded_cluster_with_no_settings(tmp_path: Path) -> None:
    env = {"PVE_LOG_LEVEL": "warning", "HOME": str(tmp_path)}  # the sandbox's audit log goes under HOME
    params = StdioServerParameters(command=str(BIN), args=["run", "--sandbox"], env=env)
    with anyio.fail_after(60):
        async with Client(params, mode="2026-07-28") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert "pve_inventory" in names
            assert "pve_guest_power" not in names  # the default tier is read-only, sandbox or not
            resources = payload(await client.call_tool("pve_list_cluster_resources", {"type": "vm"}))
            assert resources["count"] >= 16
    assert (tmp_path / ".local" / "state" / "pvemcp" / "sandbox-audit.jsonl").is_file()


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
async def test_a_person_approves_a_stop_over_stdio_in_both_eras(tmp_path: Path, era: str) -> None:
    asked: list[str] = []

    async def person(context: object, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    audit = tmp_path / "audit.jsonl"
    env = {"PVE_LOG_LEVEL": "warning", "PVE_ACCESS_TIER": "full", "PVE_AUDIT_LOG": str(audit)}
    params = StdioServerParameters(command=str(BIN), args=["run", "--sandbox"], env=env)
    with anyio.fail_after(60):
        async with Client(params, mode=era, elicitation_callback=person) as client:
            guests = payload(await client.call_tool("pve_list_cluster_resources", {"type": "vm"}))["items"]
            running = next(g for g in guests if g["type"] == "qemu" and g["status"] == "running")
            stopped = payload(await client.call_tool("pve_stop_qemu_vm", {"vmid": running["vmid"]}))
    assert stopped["task"]["status"] == "stopped" and stopped["task"]["exitstatus"] == "OK"
    assert len(asked) == 1 and f"VM {running['vmid']} '{running['name']}' on {running['node']}" in asked[0]
    entry = json.loads(audit.read_text().splitlines()[-1])
    assert (entry["tool"], entry["outcome"], entry["approval"]) == ("pve_stop_qemu_vm", "ok", "human")
