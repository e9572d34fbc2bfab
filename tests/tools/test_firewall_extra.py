"""Node firewall, security groups, aliases and IP set entries through the SDK client."""

from __future__ import annotations

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio


async def test_a_nodes_own_rules_and_options_are_listed(connect: McpFactory, sim: Simulator) -> None:
    rules = (await call(connect, "pve_list_node_firewall_rules", {"node": "pve2"}))["items"]
    assert [r["pos"] for r in rules] == [0, 1] and rules[0]["dport"] == "5405:5412"
    assert len({r["digest"] for r in rules}) == 1 and rules[0]["source"] == "mgmt_net"
    options = await call(connect, "pve_get_node_firewall_options", {"node": "pve2"})
    assert options["enable"] == 1 and options["nf_conntrack_max"] == 262144 and options["digest"]


async def test_security_groups_and_their_rules_are_listed(connect: McpFactory, sim: Simulator) -> None:
    groups = (await call(connect, "pve_list_cluster_firewall_groups"))["items"]
    assert [(g["group"], g["comment"]) for g in groups] == [("webserver", "HTTP and HTTPS from anywhere")]
    rules = (await call(connect, "pve_list_cluster_firewall_group_rules", {"group": "webserver"}))["items"]
    assert [r["macro"] for r in rules] == ["HTTPS", "HTTP"]
    body = await failed(connect, "pve_list_cluster_firewall_group_rules", {"group": "nosuch"})
    assert "no such security group 'nosuch'" in body["message"]


async def test_an_alias_is_created_listed_and_deleted(connect: McpFactory, sim: Simulator) -> None:
    args = {"name": "NAS_01", "cidr": "192.0.2.0/28", "comment": "Storage box"}
    assert await call(connect, "pve_create_cluster_firewall_alias", args) == {"value": None}
    aliases = (await call(connect, "pve_list_cluster_firewall_aliases"))["items"]
    assert {"name": "NAS_01", "cidr": "192.0.2.0/28", "comment": "Storage box"}.items() <= next(
        a for a in aliases if a["name"] == "NAS_01"
    ).items()
    body = await failed(connect, "pve_create_cluster_firewall_alias", {"name": "nas_01", "cidr": "192.0.2.1"})
    assert "alias 'nas_01' already exists" in body["message"]
    body = await failed(connect, "pve_create_cluster_firewall_alias", {"name": "bad", "cidr": "300.1.1.1"})
    assert "valid IP address or CIDR" in body["message"]
    await call(connect, "pve_delete_cluster_firewall_alias", {"name": "NAS_01", "confirm": True})
    assert "nas_01" not in sim.state.firewall.aliases


async def test_deleting_an_alias_needs_confirmation(connect: McpFactory, sim: Simulator) -> None:
    async with connect() as client:
        result = await client.call_tool("pve_delete_cluster_firewall_alias", {"name": "monitoring"})
    assert result.is_error and "monitoring" in sim.state.firewall.aliases


async def test_ipset_entries_are_added_first_listed_and_removed(connect: McpFactory, sim: Simulator) -> None:
    add = {"name": "blocklist", "cidr": "198.51.100.0/24", "comment": "Scanner", "confirm": True}
    await call(connect, "pve_add_cluster_firewall_ipset_entry", add)
    await call(
        connect,
        "pve_add_cluster_firewall_ipset_entry",
        {"name": "blocklist", "cidr": "198.51.100.7", "nomatch": True, "confirm": True},
    )
    entries = (await call(connect, "pve_list_cluster_firewall_ipset_entries", {"name": "blocklist"}))["items"]
    assert [(e["cidr"], e.get("nomatch"), e.get("comment")) for e in entries] == [
        ("198.51.100.7", 1, None),
        ("198.51.100.0/24", None, "Scanner"),
        ("203.0.113.66", None, None),
        ("203.0.113.99", None, None),
    ]
    body = await failed(connect, "pve_add_cluster_firewall_ipset_entry", {**add, "cidr": "198.51.100.7"})
    assert "address '198.51.100.7' already exists" in body["message"]
    body = await failed(connect, "pve_add_cluster_firewall_ipset_entry", {**add, "cidr": "nosuch_alias"})
    assert "no such alias 'nosuch_alias'" in body["message"]
    remove = {"name": "blocklist", "cidr": "198.51.100.0/24", "digest": entries[0]["digest"], "confirm": True}
    await call(connect, "pve_delete_cluster_firewall_ipset_entry", remove)
    cidrs = [e.cidr for e in sim.state.firewall.ipsets["blocklist"].entries]
    assert cidrs == ["198.51.100.7", "203.0.113.66", "203.0.113.99"]
    body = await failed(connect, "pve_delete_cluster_firewall_ipset_entry", {**remove, "cidr": "198.51.100.7"})
    assert "detected modified configuration" in body["message"]


async def test_an_ipset_entry_can_name_an_alias(connect: McpFactory, sim: Simulator) -> None:
    add = {"name": "management", "cidr": "backup_server", "confirm": True}
    await call(connect, "pve_add_cluster_firewall_ipset_entry", add)
    assert sim.state.firewall.ipsets["management"].entries[0].cidr == "backup_server"


async def test_a_dot_segment_is_refused_as_an_ipset_entry(connect: McpFactory, sim: Simulator) -> None:
    body = await failed(
        connect, "pve_delete_cluster_firewall_ipset_entry", {"name": "blocklist", "cidr": "..", "confirm": True}
    )
    assert body["code"] == "TOOL_INPUT_REJECTED" and sim.state.firewall.ipsets["blocklist"].entries
