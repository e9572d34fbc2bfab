"""The raw API through the SDK client: any path, checked for shape and scope, confirmed, audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pvemcp.audit import AuditLog
from pvemcp.catalog import BY_NAME
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.rawpath import path_problem
from pvemcp.server.reach import Reach, path_reach
from pvemcp.server.scope import parse_scope
from pvesim import Simulator
from tests.conftest import McpFactory, mcp_client, payload
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio

# Each refused before any request: not a path, a walk, a query or fragment, an escape, a URL, the prefix.
MALFORMED = [
    "nodes/pve1/status",
    "",
    "/",
    "/nodes/../access/users",
    "/nodes/pve1/..",
    "/nodes/./pve1",
    "/nodes//pve1",
    "/nodes/pve1/",
    "/cluster/resources?type=vm",
    "/cluster/resources#x",
    "/nodes/pve1%2Fstatus",
    "/nodes/pve1 /status",
    "/nodes/pve1\t/status",
    "/nodes/pve1\n/status",
    "/nodes/pve1\x00/status",
    "/nodes/pve1\x7f/status",
    "//evil.example/api2/json/nodes",
    "/https://evil.example/",
    "/api2/json/nodes",
    "/api2",
    "/nodes/pve1\\status",
    "/nodes/pve\u00e91/status",
    "/" + "a" * 1100,
]


def test_the_raw_tools_name_no_endpoint_of_their_own_and_keep_the_safety_flags() -> None:
    get, post = BY_NAME["pve_api_get"], BY_NAME["pve_api_call"]
    assert get.raw and post.raw and get.category == post.category == "raw"
    assert get.read_only and get.tier.label == "read-only"
    assert not post.read_only and post.tier.label == "full" and post.confirm and post.destructive
    assert post.param("method") is not None and post.param("method").enum == ("POST", "PUT", "DELETE")  # type: ignore[union-attr]


@pytest.mark.parametrize("path", MALFORMED, ids=repr)
def test_malformed_paths_are_named(path: str) -> None:
    assert path_problem(path) is not None


def test_well_formed_paths_pass_and_name_their_node_guest_or_task() -> None:
    upid = "UPID:pve1:00001234:00ABCDEF:69248100:qmstart:106:root@pam!pvemcp:"
    for path in ("/cluster/resources", "/access/users/root@pam", f"/nodes/pve1/tasks/{upid}/log", "/pools"):
        assert path_problem(path) is None, path
    assert named(["nodes", "pve2", "qemu", "104", "config"]) == ([104], ["pve2"], [])
    assert named(["nodes", "pve2", "tasks", upid]) == ([], ["pve2"], [upid])
    assert named(["nodes", "pve1", "storage", "local-lvm", "content", "local-lvm:vm-105-disk-0"])[0] == [105]
    assert named(["cluster", "ha", "resources", "ct:203"]) == ([203], [], [])
    assert named(["cluster", "replication", "101-0"]) == ([101], [], [])
    assert named(["nodes", "pve1", "replication", "102-0", "log"])[0] == [102]
    assert named(["cluster", "resources"]) == ([], [], [])


def named(segments: list[str]) -> tuple[list[int], list[str], list[str]]:
    """(guests, nodes, tasks) a path names, as server/reach.py reads it."""
    reach = Reach()
    path_reach(segments, reach)
    guests = [int(n.value) for n in (reach.own, *reach.guests) if n is not None]
    return guests, [str(n.value) for n in reach.nodes], [str(t.value) for t in reach.tasks]


@pytest.mark.parametrize("path", MALFORMED, ids=repr)
async def test_malformed_paths_are_rejected_before_any_request(connect: McpFactory, sim: Simulator, path: str) -> None:
    body = await failed(connect, "pve_api_get", {"path": path})
    assert body["code"] == "TOOL_INPUT_REJECTED" and "path" in body["message"] and body["hint"]
    body = await failed(connect, "pve_api_call", {"method": "POST", "path": path, "confirm": True})
    assert body["code"] == "TOOL_INPUT_REJECTED"
    assert sim.requests == []


@pytest.mark.parametrize(
    "params",
    [{"a b": 1}, {"-x": 1}, {"x": {"nested": 1}}, {"x": [{"a": 1}]}, {"x": "a\x00b"}, {"x": None}],
    ids=repr,
)
async def test_malformed_params_are_rejected_before_any_request(
    connect: McpFactory, sim: Simulator, params: dict[str, Any]
) -> None:
    body = await failed(
        connect, "pve_api_call", {"method": "POST", "path": "/pools", "params": params, "confirm": True}
    )
    assert body["code"] == "TOOL_INPUT_REJECTED" and "params" in body["message"]
    assert sim.requests == []


async def test_any_get_path_answers_as_proxmox_does(connect: McpFactory, sim: Simulator) -> None:
    version = await call(connect, "pve_api_get", {"path": "/version"})
    assert version["version"].startswith(("8.", "9."))
    guests = await call(connect, "pve_api_get", {"path": "/cluster/resources", "params": {"type": "vm"}})
    assert {g["vmid"] for g in guests["items"]} == set(sim.state.guests)
    config = await call(connect, "pve_api_get", {"path": "/nodes/pve1/qemu/100/config"})
    assert config["name"] == sim.state.guests[100].config["name"]
    task = next(t for t in sim.state.tasks.values() if t.node == "pve1")
    status = await call(connect, "pve_api_get", {"path": f"/nodes/pve1/tasks/{task.upid}/status"})
    assert status["upid"] == task.upid
    user = await call(connect, "pve_api_get", {"path": "/access/users/root@pam"})
    assert "email" in user or "enable" in user
    unknown = await failed(connect, "pve_api_get", {"path": "/nodes/pve1/no-such-thing"})
    assert "not implemented" in unknown["message"]


async def test_a_change_needs_confirmation_and_then_happens(connect: McpFactory, sim: Simulator) -> None:
    args: dict[str, Any] = {"method": "POST", "path": "/pools", "params": {"poolid": "raw-lab", "comment": "via raw"}}
    refused = await failed(connect, "pve_api_call", args)
    assert refused["code"] == "CONFIRMATION_REQUIRED" and "raw-lab" not in sim.state.pools
    await call(connect, "pve_api_call", {**args, "confirm": True})
    assert sim.state.pools["raw-lab"].comment == "via raw"
    update = {"method": "PUT", "path": "/pools", "params": {"poolid": "raw-lab", "comment": "changed"}}
    await call(connect, "pve_api_call", {**update, "confirm": True})
    assert sim.state.pools["raw-lab"].comment == "changed"
    gone = {"method": "DELETE", "path": "/pools", "params": {"poolid": "raw-lab"}, "confirm": True}
    await call(connect, "pve_api_call", gone)
    assert "raw-lab" not in sim.state.pools
    again = await failed(connect, "pve_api_call", gone)
    assert "pool 'raw-lab' does not exist" in again["message"]


async def test_a_task_it_starts_is_waited_for(connect: McpFactory, sim: Simulator) -> None:
    guest = next(g for g in sim.state.guests.values() if g.type == "qemu" and g.status == "stopped" and not g.template)
    path = f"/nodes/{guest.node}/qemu/{guest.vmid}/status/start"
    task = (await call(connect, "pve_api_call", {"method": "POST", "path": path, "confirm": True}))["task"]
    assert task["upid"].startswith(f"UPID:{guest.node}:") and task["status"] == "stopped"
    assert task["exitstatus"] == "OK" and guest.status == "running"


async def test_preview_shows_the_request_and_sends_nothing(connect: McpFactory, sim: Simulator) -> None:
    args = {"method": "DELETE", "path": "/pools", "params": {"poolid": "production"}}
    shown = await call(connect, "pve_preview", {"tool": "pve_api_call", "arguments": args})
    assert shown["requests"] == [{"method": "DELETE", "path": "/pools", "params": {"poolid": "production"}}]
    assert shown["verdict"]["allowed"] and shown["verdict"]["needs_confirmation"]
    read = await call(connect, "pve_preview", {"tool": "pve_api_get", "arguments": {"path": "/nodes/pve1/status"}})
    assert read["requests"] == [{"method": "GET", "path": "/nodes/pve1/status", "params": {}}]
    assert "production" in sim.state.pools and [r for r in sim.requests if r.method != "GET"] == []


SECRET = "raw-api-Secret-42"
SCOPE, _ = parse_scope("pve1,pve2", "100-104,150-159,200-203", None)


async def test_out_of_scope_guests_read_as_unknown_and_writes_are_refused(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    tag = "pvemcp-protected"
    sim.state.guests[104].config["tags"] = tag
    async with mcp_client(pve, sim, era, scope=SCOPE) as client:

        async def answer(name: str, args: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(name, args)
            assert result.is_error
            return payload(result)

        hidden = await answer("pve_api_get", {"path": "/nodes/pve1/qemu/106/config"})
        unknown = await answer("pve_api_get", {"path": "/nodes/pve1/qemu/155/config"})
        assert hidden["code"] == "GUEST_NOT_FOUND" and json.dumps(hidden).replace("106", "155") == json.dumps(unknown)
        elsewhere = await answer("pve_api_get", {"path": "/nodes/pve1/qemu/102/status/current"})  # lives on pve3
        assert elsewhere["code"] == "GUEST_NOT_FOUND"
        node = await answer("pve_api_get", {"path": "/nodes/pve3/status"})
        assert node["code"] == "PROXMOX_NOT_FOUND" and "pve3" in node["message"]
        listing = await client.call_tool("pve_api_get", {"path": "/cluster/resources", "params": {"type": "vm"}})
        vmids = {row["vmid"] for row in payload(listing)["items"]}
        assert vmids and all(SCOPE.allows_vmid(v) and sim.state.guests[v].node != "pve3" for v in vmids)
        stop = {"method": "POST", "path": "/nodes/pve1/qemu/106/status/stop", "confirm": True}
        assert (await answer("pve_api_call", stop))["code"] == "OUT_OF_SCOPE"
        protected = {"method": "PUT", "path": "/nodes/pve2/qemu/104/config", "params": {"memory": 512}, "confirm": True}
        assert (await answer("pve_api_call", protected))["code"] == "PROTECTED_GUEST"
        migrate = {"method": "POST", "path": "/nodes/pve1/qemu/100/migrate", "params": {"target": "pve3"}}
        assert (await answer("pve_api_call", {**migrate, "confirm": True}))["code"] == "OUT_OF_SCOPE"
    assert [r for r in sim.requests if r.method != "GET"] == []
    assert sim.state.guests[104].config.get("memory") != 512


async def test_a_raw_write_is_audited_with_its_target(
    sim: Simulator, pve: ProxmoxClient, era: str, tmp_path: Path
) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    try:
        async with mcp_client(pve, sim, era, audit=log) as client:
            assert not (await client.call_tool("pve_api_get", {"path": "/version"})).is_error
            change = {"method": "PUT", "path": "/nodes/pve1/qemu/100/config", "params": {"description": "raw"}}
            assert payload(await client.call_tool("pve_api_call", change))["code"] == "CONFIRMATION_REQUIRED"
            assert not (await client.call_tool("pve_api_call", {**change, "confirm": True})).is_error
            user = {"method": "POST", "path": "/access/users", "params": {"userid": "raw@pve", "password": SECRET}}
            assert not (await client.call_tool("pve_api_call", {**user, "confirm": True})).is_error
    finally:
        log.close()
    text = (tmp_path / "audit.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    assert [(r["tool"], r["outcome"]) for r in rows] == [("pve_api_call", "refused")] + [("pve_api_call", "ok")] * 2
    assert rows[1]["arguments"]["path"] == "/nodes/pve1/qemu/100/config" and rows[1]["approval"] == "flag"
    assert rows[1]["target"]["vmid"] == 100 and sim.state.guests[100].config["description"] == "raw"
    assert rows[2]["arguments"]["params"] == {"userid": "raw@pve", "password": "***"} and SECRET not in text
    assert "raw@pve" in sim.state.users
