"""A guest's firewall options, read and set, and its effective firewall in one answer."""

from __future__ import annotations

from typing import Any

import pytest

from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.scope import Scope
from pvesim import Fault, Simulator
from tests.conftest import McpFactory, mcp_client, payload
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio

WEB, DB, PLAIN_CT = 100, 102, 201  # web-01 and db-01 (firewall on, seeded), ct-proxy (nothing set)
FLAGS = {"enable", "dhcp", "ipfilter", "macfilter", "ndp", "radv"}
OPTION_KEYS = FLAGS | {"policy_in", "policy_out", "log_level_in", "log_level_out"}


def puts(sim: Simulator) -> list[Any]:
    return [r for r in sim.requests if r.method == "PUT"]


async def test_options_are_read_with_proxmoxs_defaults_filled_in(connect: McpFactory, sim: Simulator) -> None:
    web = await call(connect, "pve_get_guest_firewall_options", {"vmid": WEB})
    assert web["enable"] is True and web["type"] == "qemu" and web["node"] == sim.state.guests[WEB].node
    assert web["policy_in"] == "DROP" and web["policy_out"] == "ACCEPT"
    assert web["macfilter"] is True and web["ndp"] is True and web["dhcp"] is False
    assert set(web["defaulted"]) == OPTION_KEYS - {"enable"} and web["digest"]

    plain = await call(connect, "pve_get_guest_firewall_options", {"vmid": PLAIN_CT})
    assert plain["type"] == "lxc" and plain["enable"] is False and set(plain["defaulted"]) == OPTION_KEYS
    assert all(isinstance(plain[key], bool) for key in FLAGS)
    assert any(r.path.endswith(f"/lxc/{PLAIN_CT}/firewall/options") for r in sim.requests)


async def test_options_are_set_and_reset_on_the_guest(connect: McpFactory, sim: Simulator) -> None:
    args = {"vmid": PLAIN_CT, "enable": True, "policy_in": "REJECT", "macfilter": False, "confirm": True}
    body = await call(connect, "pve_update_guest_firewall_options", args)
    assert sim.state.firewall.guest_options[PLAIN_CT] == {"enable": 1, "macfilter": 0, "policy_in": "REJECT"}
    assert puts(sim)[0].params == {"enable": "1", "policy_in": "REJECT", "macfilter": "0"}  # booleans as 0/1
    assert body["enable"] is True and body["macfilter"] is False and body["policy_in"] == "REJECT"
    assert "policy_in" not in body["defaulted"]

    reset = {"vmid": PLAIN_CT, "delete": "policy_in,macfilter", "log_level_in": "info", "confirm": True}
    body = await call(connect, "pve_update_guest_firewall_options", reset)
    assert sim.state.firewall.guest_options[PLAIN_CT] == {"enable": 1, "log_level_in": "info"}
    assert body["policy_in"] == "DROP" and body["macfilter"] is True and body["log_level_in"] == "info"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        ({"policy_in": "ALLOW"}, "TOOL_INPUT_REJECTED", "policy_in"),
        ({"enable": "yes"}, "TOOL_INPUT_REJECTED", "enable"),
        ({}, "TOOL_INPUT_REJECTED", "at least one"),
        ({"delete": "policy_forward"}, "PROXMOX_REQUEST_REJECTED", "no such option 'policy_forward'"),
        ({"enable": False, "digest": "0" * 40}, "PROXMOX_SERVER_ERROR", "modified"),
    ],
    ids=["bad-policy", "bad-boolean", "nothing-to-set", "unknown-option", "stale-digest"],
)
async def test_bad_option_input_changes_nothing(
    connect: McpFactory, sim: Simulator, args: dict[str, Any], code: str, words: str
) -> None:
    before = dict(sim.state.firewall.guest_options[WEB])
    body = await failed(connect, "pve_update_guest_firewall_options", {"vmid": WEB, **args, "confirm": True})
    assert body["code"] == code and words in body["message"].lower()
    assert sim.state.firewall.guest_options[WEB] == before
    if code == "TOOL_INPUT_REJECTED":
        assert puts(sim) == []  # refused before anything was sent


async def test_an_unconfirmed_option_change_is_not_sent(connect: McpFactory, sim: Simulator) -> None:
    body = await failed(connect, "pve_update_guest_firewall_options", {"vmid": WEB, "enable": False})
    assert body["code"] == "CONFIRMATION_REQUIRED"
    assert puts(sim) == [] and sim.state.firewall.guest_options[WEB]["enable"] == 1


async def test_the_new_tools_are_callable_but_not_in_the_classic_listing(connect: McpFactory) -> None:
    async with connect() as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
    assert "pve_list_guest_firewall_rules" in listed
    assert not listed & {"pve_guest_firewall", "pve_get_guest_firewall_options", "pve_update_guest_firewall_options"}


async def test_the_effective_firewall_of_a_firewalled_web_vm(connect: McpFactory, sim: Simulator) -> None:
    guest = sim.state.guests[WEB]
    body = await call(connect, "pve_guest_firewall", {"vmid": WEB})

    assert (body["vmid"], body["type"], body["node"], body["name"]) == (WEB, "qemu", guest.node, "web-01")
    assert body["enabled"] is True and "why_not_enforced" not in body and "skipped" not in body
    assert body["datacenter_enabled"] is body["guest_enabled"] is body["nic_enabled"] is True
    assert (body["policy_in"], body["policy_out"]) == ("DROP", "ACCEPT")
    assert body["options"]["macfilter"] is True and "enable" not in body["options"]
    [nic] = body["nics"]
    assert nic == {"id": "net0", "firewall": True, "bridge": "vmbr0", "model": "virtio", "mac": nic["mac"]}
    assert nic["mac"] in str(guest.config["net0"])

    rules = body["rules"]
    reference, https, http, ssh = rules
    assert reference == {
        "pos": 0,
        "type": "group",
        "action": "webserver",
        "comment": "Public web",
        "enable": True,
        "group_rules": 2,
    }
    assert [https["group"], https["group_pos"], https["macro"], https["active"]] == ["webserver", 0, "HTTPS", True]
    assert [http["group"], http["group_pos"], http["macro"]] == ["webserver", 1, "HTTP"]
    assert "pos" not in https and https["enable"] is True
    assert ssh["pos"] == 1 and ssh["source"] == "+management" and ssh["enable"] is True and "digest" not in ssh
    [management] = body["ipsets"]
    assert management["name"] == "management" and management["comment"]
    assert [e["cidr"] for e in management["entries"]] == [
        e.cidr for e in sim.state.firewall.ipsets["management"].entries
    ]
    assert management["entries"][0]["nomatch"] is False
    assert body["aliases"] == [] and "unresolved" not in body

    hosts = body["host_rules"]
    assert [r["comment"] for r in hosts["datacenter"]] == [r["comment"] for r in sim.state.firewall.rules]
    assert [r["dport"] for r in hosts["node"]] == [r["dport"] for r in sim.state.firewall.node_rules[guest.node]]
    assert "hosts" in hosts["note"] and "not the guest" in hosts["note"]
    assert all(r.method == "GET" for r in sim.requests)


async def test_aliases_the_rules_name_are_resolved(connect: McpFactory, sim: Simulator) -> None:
    body = await call(connect, "pve_guest_firewall", {"vmid": DB})
    mgmt = sim.state.firewall.aliases["mgmt_net"]
    assert {"name": "mgmt_net", "cidr": mgmt.cidr, "comment": mgmt.comment} in body["aliases"]
    assert body["options"]["log_level_in"] == "info"
    assert [r.get("group") for r in body["rules"]] == [None, None]  # no security group on the db tier


async def test_a_guest_whose_firewall_is_off_says_why(connect: McpFactory, sim: Simulator) -> None:
    body = await call(connect, "pve_guest_firewall", {"vmid": PLAIN_CT})

    assert body["enabled"] is False and body["guest_enabled"] is False
    assert body["datacenter_enabled"] is True and body["nic_enabled"] is True
    assert body["why_not_enforced"] == ["the guest's firewall option enable is off"]
    assert body["next"] == {"tool": "pve_get_guest_firewall_options", "arguments": {"vmid": PLAIN_CT}}
    assert body["nics"][0]["name"] == "eth0" and body["nics"][0]["firewall"] is True
    assert [r["macro"] for r in body["rules"]] == ["SSH"]  # listed, though not enforced


async def test_with_the_datacenter_firewall_off_nothing_is_enforced(connect: McpFactory, sim: Simulator) -> None:
    await call(connect, "pve_update_cluster_firewall_options", {"enable": 0, "confirm": True})
    assert sim.state.firewall.options["enable"] == 0

    body = await call(connect, "pve_guest_firewall", {"vmid": WEB})

    assert body["enabled"] is False and body["datacenter_enabled"] is False and body["guest_enabled"] is True
    assert body["why_not_enforced"] == ["the datacenter firewall is off"]
    assert body["next"] == {"tool": "pve_get_cluster_firewall_options", "arguments": {}}


async def test_without_a_nic_flagged_for_the_firewall_nothing_is_enforced(connect: McpFactory, sim: Simulator) -> None:
    guest = sim.state.guests[WEB]
    guest.config["net0"] = str(guest.config["net0"]).replace("firewall=1", "firewall=0")

    body = await call(connect, "pve_guest_firewall", {"vmid": WEB})

    assert body["enabled"] is False and body["nic_enabled"] is False and body["nics"][0]["firewall"] is False
    assert body["why_not_enforced"] == ["no NIC of the guest has firewall=1"]
    assert body["next"] == {"tool": "pve_get_qemu_config", "arguments": {"vmid": WEB}}


async def test_parts_that_cannot_be_read_are_skipped_and_the_rest_answered(connect: McpFactory, sim: Simulator) -> None:
    denied = "Permission check failed (/, Sys.Audit)"
    sim.arm(Fault("status", status=403, message=denied, path_prefix="/cluster/firewall/rules"))
    sim.arm(Fault("status", status=403, message=denied, path_prefix="/cluster/firewall/groups/webserver"))

    body = await call(connect, "pve_guest_firewall", {"vmid": WEB})

    assert body["enabled"] is True and body["host_rules"]["datacenter"] is None and body["host_rules"]["node"]
    assert body["rules"][0]["expanded"] is False and "group" not in body["rules"][1]
    assert body["skipped"] == [
        {
            "section": "security group webserver",
            "path": "/cluster/firewall/groups/webserver",
            "code": "PROXMOX_ACL_FORBIDDEN",
            "reason": denied,
        },
        {
            "section": "datacenter rules",
            "path": "/cluster/firewall/rules",
            "code": "PROXMOX_ACL_FORBIDDEN",
            "reason": denied,
        },
    ]


async def test_an_unread_switch_leaves_enforcement_unknown(connect: McpFactory, sim: Simulator) -> None:
    sim.arm(Fault("status", status=403, message="Permission check failed", path_prefix="/cluster/firewall/options"))

    body = await call(connect, "pve_guest_firewall", {"vmid": WEB})

    assert body["enabled"] is None and body["datacenter_enabled"] is None
    assert body["why_not_enforced"] == ["whether the datacenter firewall is on could not be read"]
    assert body["next"]["tool"] == "pve_get_cluster_firewall_options"
    assert [s["section"] for s in body["skipped"]] == ["datacenter options"]


async def test_under_a_scope_the_guest_is_answered_whole_and_others_not_at_all(
    pve: ProxmoxClient, sim: Simulator, era: str
) -> None:
    async with mcp_client(pve, sim, era, scope=Scope(nodes=frozenset({sim.state.guests[WEB].node}))) as client:
        inside = payload(await client.call_tool("pve_guest_firewall", {"vmid": WEB}))
        outside = await client.call_tool("pve_guest_firewall", {"vmid": PLAIN_CT})  # on another node
        refused_write = await client.call_tool(
            "pve_update_guest_firewall_options", {"vmid": PLAIN_CT, "enable": True, "confirm": True}
        )

    assert inside["enabled"] is True and "skipped" not in inside and inside["host_rules"]["node"]
    assert outside.is_error and payload(outside)["code"] == "GUEST_NOT_FOUND"
    assert refused_write.is_error and payload(refused_write)["code"] == "OUT_OF_SCOPE"
    assert PLAIN_CT not in sim.state.firewall.guest_options and puts(sim) == []
