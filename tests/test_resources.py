"""MCP resources and completions in both protocol eras, within the caller's scope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, PromptReference, ResourceTemplateReference, TextResourceContents

from pvemcp.catalog.spec import Tier
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.access import Grant
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvemcp.server.scope import parse_scope
from pvesim import Simulator
from tests.conftest import FULL, mcp_client

pytestmark = pytest.mark.anyio

SCOPE, _ = parse_scope("pve1,pve2", "100-104,200-203", None)  # pve3 and 105-109, 204-205 lie outside
READ_ONLY = Policy(tier=Tier.READ_ONLY)


async def read(client: Client, uri: str) -> Any:
    result = await client.read_resource(uri)
    (content,) = result.contents
    assert isinstance(content, TextResourceContents) and content.uri == uri
    assert content.mime_type == "application/json"
    return json.loads(content.text)


async def refused(client: Client, uri: str) -> MCPError:
    with pytest.raises(MCPError) as caught:
        await client.read_resource(uri)
    return caught.value


def template(uri: str) -> ResourceTemplateReference:
    return ResourceTemplateReference(uri=uri)


async def test_resources_and_templates_are_listed_even_at_the_lowest_tier(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    async with mcp_client(pve, sim, era, READ_ONLY) as client:
        resources = {r.uri: r for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert set(resources) == {"pve://cluster/resources", *(f"pve://node/{n}/status" for n in sim.state.nodes)}
    assert all(r.mime_type == "application/json" and r.description for r in resources.values())
    assert templates == {"pve://node/{node}/status", "pve://guest/{vmid}/config", "pve://guest/{vmid}/status"}


async def test_each_resource_reads_what_proxmox_answers(sim: Simulator, pve: ProxmoxClient, era: str) -> None:
    qemu = next(g for g in sim.state.guests.values() if g.type == "qemu")
    lxc = next(g for g in sim.state.guests.values() if g.type == "lxc")
    async with mcp_client(pve, sim, era) as client:
        inventory = await read(client, "pve://cluster/resources")
        node = await read(client, "pve://node/pve2/status")
        config = await read(client, f"pve://guest/{qemu.vmid}/config")
        status = await read(client, f"pve://guest/{lxc.vmid}/status")
    assert {row["vmid"] for row in inventory if "vmid" in row} == set(sim.state.guests)
    assert {row["node"] for row in inventory if row["type"] == "node"} == set(sim.state.nodes)
    assert "pveversion" in node and "memory" in node
    assert config["name"] == qemu.config["name"]
    assert status["vmid"] == lxc.vmid and status["status"] == lxc.status


async def test_unknown_resources_and_failures_are_mcp_errors_in_proxmox_words(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    async with mcp_client(pve, sim, era) as client:
        nothing = await refused(client, "pve://guest/100/secrets")
        bad_vmid = await refused(client, "pve://guest/abc/config")
        bad_node = await refused(client, "pve://node/..%2F/status")
        missing = await refused(client, "pve://guest/999/config")
        node = await refused(client, "pve://node/pve9/status")
    assert nothing.code == INVALID_PARAMS and "Unknown resource" in nothing.message
    assert bad_vmid.code == INVALID_PARAMS and bad_node.code == INVALID_PARAMS
    assert (
        missing.code == INVALID_PARAMS and missing.message == "No VM or container with VMID 999 exists in the cluster."
    )
    assert missing.data["code"] == "GUEST_NOT_FOUND" and missing.data["hint"]
    assert node.message.startswith("hostname lookup 'pve9' failed")


async def test_completions_offer_guests_and_nodes(sim: Simulator, pve: ProxmoxClient, era: str) -> None:
    async with mcp_client(pve, sim, era) as client:
        vmids = await client.complete(template("pve://guest/{vmid}/config"), {"name": "vmid", "value": "10"})
        nodes = await client.complete(template("pve://node/{node}/status"), {"name": "node", "value": "pve"})
        prompt = await client.complete(PromptReference(name="troubleshoot-guest"), {"name": "vmid", "value": "2"})
        other = await client.complete(template("pve://guest/{vmid}/config"), {"name": "x", "value": ""})
    assert vmids.completion.values == sorted(str(v) for v in sim.state.guests if str(v).startswith("10"))
    assert nodes.completion.values == sorted(sim.state.nodes) and nodes.completion.has_more is False
    assert prompt.completion.values == sorted(str(v) for v in sim.state.guests if str(v).startswith("2"))
    assert other.completion.values == []


async def test_the_scope_hides_guests_and_nodes_outside_it(sim: Simulator, pve: ProxmoxClient, era: str) -> None:
    async with mcp_client(pve, sim, era, scope=SCOPE) as client:
        listed = {r.uri for r in (await client.list_resources()).resources}
        inventory = await read(client, "pve://cluster/resources")
        hidden = await refused(client, "pve://guest/106/status")
        unknown = await refused(client, "pve://guest/155/status")
        elsewhere = await refused(client, "pve://guest/102/config")  # in range, but on pve3
        node = await refused(client, "pve://node/pve3/status")
        absent = await refused(client, "pve://node/pve9/status")
        vmids = await client.complete(template("pve://guest/{vmid}/status"), {"name": "vmid", "value": ""})
        nodes = await client.complete(template("pve://node/{node}/status"), {"name": "node", "value": ""})
    inside = {v for v, g in sim.state.guests.items() if SCOPE.allows_vmid(v) and g.node != "pve3"}
    assert "pve://node/pve3/status" not in listed and "pve://node/pve1/status" in listed
    assert {row["vmid"] for row in inventory if "vmid" in row} == inside
    assert all(row.get("node") != "pve3" for row in inventory)
    assert hidden.message.replace("106", "155") == unknown.message and hidden.data == {
        **unknown.data,
        "message": hidden.message,
    }
    assert elsewhere.data["code"] == "GUEST_NOT_FOUND"
    assert node.message.replace("pve3", "pve9") == absent.message
    assert vmids.completion.values == sorted(map(str, inside)) and nodes.completion.values == ["pve1", "pve2"]
    assert not [r for r in sim.requests if "/106/" in r.path or r.path.startswith("/nodes/pve3")]


async def test_each_caller_reads_within_its_own_grant(sim: Simulator, pve: ProxmoxClient, era: str) -> None:
    callers = {"wide": Grant("wide", Tier.READ_ONLY), "narrow": Grant("narrow", Tier.FULL, vmids=((101, 101),))}
    who = {"name": "wide"}

    def identify(ctx: Any) -> Grant | None:
        return callers[who["name"]]

    server = build_server(Runtime(pve, Inventory(FULL), clock=sim.wait_clock()), identify=identify)
    async with Client(server, mode=era) as client:
        assert (await read(client, "pve://guest/100/config"))["name"] == sim.state.guests[100].config["name"]
        who["name"] = "narrow"
        with pytest.raises(MCPError, match="VMID 100"):
            await client.read_resource("pve://guest/100/config", cache_mode="refresh")
        assert (await read(client, "pve://guest/101/config"))["name"] == sim.state.guests[101].config["name"]
        inventory = await client.read_resource("pve://cluster/resources", cache_mode="refresh")
        text = inventory.contents[0]
        assert isinstance(text, TextResourceContents)
        assert {row["vmid"] for row in json.loads(text.text) if "vmid" in row} == {101}
        done = await client.complete(template("pve://guest/{vmid}/config"), {"name": "vmid", "value": ""})
        assert done.completion.values == ["101"]
