"""pve_preview through the SDK client: it reports what a call would send and leaves the cluster untouched.

Each case previews a call, checks that the simulator's state is byte-identical and that only GETs were
sent, then makes the real call and checks that Proxmox received exactly the writes the preview announced.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from enum import Enum
from typing import Any
from urllib.parse import unquote

import pytest
from mcp import Client

from pvemcp.catalog.spec import Tier
from pvemcp.pve import wire
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.confirm import ConfirmMode
from pvemcp.server.scope import Scope
from pvesim import Simulator
from tests.conftest import FULL, McpFactory, mcp_client, payload
from tests.helpers import pick

pytestmark = pytest.mark.anyio

CT_TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst"
SECRET = "correct horse battery"


def empty_record(value: Any) -> bool:
    """A per-guest record the simulator creates, empty, on a first read: no state of its own."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return False
    try:
        fresh = type(value)()
    except TypeError:  # a record with required fields is never created empty
        return False
    return bool(plain(value) == plain(fresh))


def plain(value: Any, path: frozenset[int] = frozenset()) -> Any:
    """The simulator's state as plain data, every mapping in key order (the same state, the same text)."""
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    if isinstance(value, Enum):
        return value.value
    if id(value) in path:
        return "<cycle>"
    path = path | {id(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), path) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        items = [(repr(plain(k, path)), plain(v, path)) for k, v in value.items() if not empty_record(v)]
        return sorted(items, key=lambda item: item[0])
    if isinstance(value, set | frozenset):
        return sorted(repr(plain(v, path)) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v, path) for v in value]
    slots = getattr(type(value), "__slots__", ())
    fields = vars(value) if hasattr(value, "__dict__") else {name: getattr(value, name) for name in slots}
    return {type(value).__name__: plain(fields, path)}


def frozen(sim: Simulator) -> str:
    return repr(plain(sim.state))


def received(params: Mapping[str, Any]) -> dict[str, str]:
    """Announced parameters as the simulator records them: strings, repeated keys joined with NUL."""
    return {key: "\0".join(v for _, v in wire.encode_params({key: value})) for key, value in params.items()}


async def previewed(client: Client, sim: Simulator, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    before, mark = frozen(sim), len(sim.requests)
    result = await client.call_tool("pve_preview", {"tool": tool, "arguments": arguments})
    assert not result.is_error, result.structured_content
    assert frozen(sim) == before
    assert {r.method for r in sim.requests[mark:]} <= {"GET"}
    return payload(result)


async def carried_out(
    client: Client, sim: Simulator, tool: str, arguments: dict[str, Any], body: dict[str, Any], *, secret: str = ""
) -> None:
    """The real call sends exactly the announced writes (a redacted secret is compared as sent)."""
    mark = len(sim.requests)
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.structured_content
    writes = [(r.method, r.path, r.params) for r in sim.requests[mark:] if r.method != "GET"]
    announced = []
    for request in body["requests"]:
        params = received(request["params"])
        if secret:
            assert params.pop(secret) == "***"
            params[secret] = str(arguments[secret])
        announced.append((request["method"], unquote(request["path"]), params))
    assert writes == announced


async def test_a_config_update_shows_each_key_before_and_after(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    args = {"vmid": guest.vmid, "memory": 2048, "name": "db-02-big", "onboot": True, "confirm": True}
    async with connect() as client:
        body = await previewed(client, sim, "pve_qemu_update_config", args)
        path = f"/nodes/{guest.node}/qemu/{guest.vmid}/config"
        assert body["requests"] == [
            {"method": "PUT", "path": path, "params": {"memory": "2048", "name": "db-02-big", "onboot": 1}}
        ]
        assert body["diff"] == {
            "memory": {"before": guest.config["memory"], "after": "2048"},
            "name": {"before": guest.config["name"], "after": "db-02-big"},
            "onboot": {"before": guest.config.get("onboot"), "after": 1},
        }
        assert body["verdict"] == {
            "allowed": True,
            "tier": "full",
            "needs_confirmation": True,
            "confirmation": body["verdict"]["confirmation"],
        }
        assert "confirm=true" in body["verdict"]["confirmation"]
        assert body["target"] == f"VM {guest.vmid} 'db-02' on {guest.node}"
        await carried_out(client, sim, "pve_qemu_update_config", args, body)
    assert guest.config["memory"] == "2048" and guest.config["name"] == "db-02-big"


async def test_a_deleted_key_is_shown_with_no_value_after(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "stopped")
    args = {"vmid": guest.vmid, "cores": 2, "delete": "tags", "confirm": True}
    async with connect() as client:
        body = await previewed(client, sim, "pve_lxc_update_config", args)
        assert body["diff"] == {
            "cores": {"before": guest.config["cores"], "after": 2},
            "tags": {"before": guest.config["tags"], "after": None},
        }
        await carried_out(client, sim, "pve_lxc_update_config", args, body)
    assert "tags" not in guest.config


async def test_a_power_action_by_its_alias_names_the_task_wait(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    args = {"vmid": guest.vmid, "wait_seconds": 0, "confirm": True}
    async with connect() as client:
        body = await previewed(client, sim, "stopVM", args)
        assert (body["tool"], body["called_as"]) == ("pve_stop_qemu_vm", "stopVM")
        assert body["requests"] == [
            {"method": "POST", "path": f"/nodes/{guest.node}/qemu/{guest.vmid}/status/stop", "params": {}}
        ]
        assert body["waits_for_task_seconds"] == 0 and "diff" not in body
        assert guest.status == "running"
        await carried_out(client, sim, "stopVM", args, body)


async def test_a_delete_that_needs_confirmation_says_how_to_give_it(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    args = {"vmid": guest.vmid, "purge": True}
    async with connect() as client:
        body = await previewed(client, sim, "pve_qemu_delete", args)
        assert body["requests"] == [
            {"method": "DELETE", "path": f"/nodes/{guest.node}/qemu/{guest.vmid}", "params": {"purge": 1}}
        ]
        assert body["verdict"]["allowed"] and body["verdict"]["needs_confirmation"]
        assert body["waits_for_task_seconds"] == 30
        await carried_out(client, sim, "pve_qemu_delete", {**args, "confirm": True}, body)
    assert guest.vmid not in sim.state.guests


async def test_a_create_shows_the_built_request_with_the_password_redacted(connect: McpFactory, sim: Simulator) -> None:
    vmid = next(i for i in range(100, 10_000) if i not in sim.state.guests)
    args = {
        "node": "pve3",
        "ostemplate": CT_TEMPLATE,
        "hostname": "ct-web-03",
        "storage": "local-lvm",
        "disk_size": 4,
        "bridge": "vmbr0",
        "password": SECRET,
    }
    async with connect() as client:
        result = await client.call_tool("pve_preview", {"tool": "pve_lxc_create", "arguments": args})
        assert SECRET not in str(result.content) and SECRET not in json.dumps(result.structured_content)
        body = await previewed(client, sim, "pve_lxc_create", args)
        [request] = body["requests"]
        assert (request["method"], request["path"]) == ("POST", "/nodes/pve3/lxc")
        assert request["params"]["vmid"] == vmid and request["params"]["password"] == "***"
        assert request["params"]["rootfs"] == "local-lvm:4"
        assert vmid not in sim.state.guests
        await carried_out(client, sim, "pve_lxc_create", args, body, secret="password")
    assert vmid in sim.state.guests


async def test_a_firewall_rule_update_diffs_the_rule(connect: McpFactory, sim: Simulator) -> None:
    args = {"pos": 1, "dport": "8443", "comment": "GUI moved", "confirm": True}
    async with connect() as client:
        body = await previewed(client, sim, "pve_update_cluster_firewall_rule", args)
        assert body["requests"] == [
            {"method": "PUT", "path": "/cluster/firewall/rules/1", "params": {"dport": "8443", "comment": "GUI moved"}}
        ]
        assert body["diff"] == {
            "dport": {"before": "8006", "after": "8443"},
            "comment": {"before": "GUI and API", "after": "GUI moved"},
        }
        await carried_out(client, sim, "pve_update_cluster_firewall_rule", args, body)


async def test_a_placed_firewall_rule_lists_every_request_of_the_composite(connect: McpFactory, sim: Simulator) -> None:
    args = {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "9000", "pos": 1, "confirm": True}
    async with connect() as client:
        body = await previewed(client, sim, "pve_create_cluster_firewall_rule", args)
        assert [(r["method"], r["path"]) for r in body["requests"]] == [
            ("POST", "/cluster/firewall/rules"),
            ("PUT", "/cluster/firewall/rules/0"),
            ("PUT", "/cluster/firewall/rules/1"),
        ]
        assert body["requests"][0]["params"]["enable"] == 0 and "composite" in " ".join(body["notes"])
        await carried_out(client, sim, "pve_create_cluster_firewall_rule", args, body)


async def test_a_pool_update_shows_the_members_after(connect: McpFactory, sim: Simulator) -> None:
    pool = sim.state.pools["production"]
    args = {"poolid": "production", "vms": "107", "comment": "Customer services", "confirm": True}
    async with connect() as client:
        body = await previewed(client, sim, "pve_update_pool", args)
        members = sorted({g.vmid for g in sim.state.guests.values() if g.pool == "production"} | {107})
        assert sorted(int(v) for v in body["diff"]["vms"]["after"].split(",")) == members
        assert body["diff"]["comment"] == {"before": pool.comment, "after": "Customer services"}
        await carried_out(client, sim, "pve_update_pool", args, body)


async def test_a_tool_above_the_tier_is_previewed_but_not_allowed(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    async with connect(dataclasses.replace(FULL, tier=Tier.READ_ONLY)) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        assert "pve_preview" in listed and "pve_qemu_update_config" not in listed
        body = await previewed(client, sim, "pve_qemu_update_config", {"vmid": guest.vmid, "cores": 2})
    assert body["verdict"]["allowed"] is False and body["verdict"]["hidden_by"] == "tier"
    assert "full access tier" in body["verdict"]["reason"]
    assert body["requests"] == [
        {"method": "PUT", "path": f"/nodes/{guest.node}/qemu/{guest.vmid}/config", "params": {"cores": 2}}
    ]
    assert "diff" not in body  # nothing is read on behalf of a call this client may not make


async def test_bad_arguments_get_the_real_calls_error(connect: McpFactory, sim: Simulator) -> None:
    args = {"vmid": 42, "cores": "many"}
    async with connect() as client:
        preview = payload(await client.call_tool("pve_preview", {"tool": "pve_qemu_update_config", "arguments": args}))
        real = payload(await client.call_tool("pve_qemu_update_config", args))
        unknown = payload(await client.call_tool("pve_preview", {"tool": "pve_stop_qemu_mv", "arguments": {}}))
    assert preview["code"] == "TOOL_INPUT_REJECTED" and preview == real
    assert unknown["code"] == "TOOL_INPUT_REJECTED" and "pve_stop_qemu_vm" in unknown["message"]
    assert sim.requests == []


async def test_a_read_tool_is_described_and_not_run(connect: McpFactory, sim: Simulator) -> None:
    async with connect() as client:
        body = await previewed(client, sim, "pve_list_cluster_resources", {"type": "vm", "limit": 5})
    assert body["requests"] == [{"method": "GET", "path": "/cluster/resources", "params": {"type": "vm"}}]
    assert body["verdict"] == {"allowed": True, "tier": "read-only", "needs_confirmation": False}
    assert sim.requests == []


async def test_a_guest_outside_the_scope_or_protected_is_a_verdict(
    pve: ProxmoxClient, sim: Simulator, era: str
) -> None:
    running = [g for g in sim.state.guests.values() if g.type == "qemu" and g.status == "running" and not g.template]
    inside, outside = running[0], running[-1]
    inside.config["tags"] = "pvemcp-protected"
    scope = Scope(vmids=((inside.vmid, inside.vmid),))
    async with mcp_client(pve, sim, era, scope=scope, confirm_mode=ConfirmMode.ELICIT) as client:
        far = await previewed(client, sim, "pve_stop_qemu_vm", {"vmid": outside.vmid})
        kept = await previewed(client, sim, "pve_stop_qemu_vm", {"vmid": inside.vmid})
    assert far["verdict"]["allowed"] is False and far["verdict"]["out_of_scope"] is True
    assert "PVE_ALLOWED_VMIDS" in far["verdict"]["reason"]
    assert far["verdict"]["confirmation"].startswith("human:") and "cannot answer" in far["verdict"]["confirmation"]
    assert kept["verdict"]["allowed"] is False and kept["verdict"]["protected"] is True
    assert "pvemcp-protected" in kept["verdict"]["reason"]
    assert kept["requests"] == [
        {"method": "POST", "path": f"/nodes/{inside.node}/qemu/{inside.vmid}/status/stop", "params": {}}
    ]
