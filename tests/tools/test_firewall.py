"""Firewall tools: datacenter options, aliases, IP sets, and ordered rules for the datacenter and guests."""

from __future__ import annotations

from typing import Any

import pytest

from pvesim import Simulator
from pvesim.state.firewall import Rule
from tests.conftest import McpFactory
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio


def guest_rules(sim: Simulator, vmid: int) -> list[Rule]:
    return sim.state.firewall.guest_rules[vmid]


async def test_datacenter_rules_are_listed_in_order(connect: McpFactory, sim: Simulator) -> None:
    items = (await call(connect, "pve_list_cluster_firewall_rules"))["items"]
    assert [i["pos"] for i in items] == list(range(len(sim.state.firewall.rules)))
    assert [i["comment"] for i in items] == [r["comment"] for r in sim.state.firewall.rules]
    assert len({i["digest"] for i in items}) == 1


async def test_datacenter_options_aliases_and_ipsets_are_read(connect: McpFactory, sim: Simulator) -> None:
    options = await call(connect, "pve_get_cluster_firewall_options")
    assert options["enable"] == 1 and options["policy_in"] == "DROP" and "digest" in options
    aliases = (await call(connect, "pve_list_cluster_firewall_aliases"))["items"]
    assert {a["name"]: a["cidr"] for a in aliases} == {a.name: a.cidr for a in sim.state.firewall.aliases.values()}
    ipsets = (await call(connect, "pve_list_cluster_firewall_ipsets"))["items"]
    assert {s["name"] for s in ipsets} == set(sim.state.firewall.ipsets)


@pytest.mark.parametrize("kind", ["qemu", "lxc"])
async def test_guest_rules_are_found_from_the_vmid_alone(connect: McpFactory, sim: Simulator, kind: str) -> None:
    guest = pick(sim, kind, "running")
    items = (await call(connect, "pve_list_guest_firewall_rules", {"vmid": guest.vmid}))["items"]
    assert [i["action"] for i in items] == [r["action"] for r in guest_rules(sim, guest.vmid)]
    assert any(r.path == f"/nodes/{guest.node}/{kind}/{guest.vmid}/firewall/rules" for r in sim.requests)


async def test_a_new_rule_is_enabled_at_the_top_by_default(connect: McpFactory, sim: Simulator) -> None:
    before = len(sim.state.firewall.rules)
    args = {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "443", "source": "10.0.0.0/8", "confirm": True}
    body = await call(connect, "pve_create_cluster_firewall_rule", args)
    assert body["pos"] == 0 and body["enable"] == 1 and body["dport"] == "443"
    rules = sim.state.firewall.rules
    assert len(rules) == before + 1
    assert rules[0]["source"] == "10.0.0.0/8" and rules[0]["enable"] == 1


async def test_a_rule_goes_to_its_position_and_is_enabled_only_there(connect: McpFactory, sim: Simulator) -> None:
    old = [r["comment"] for r in sim.state.firewall.rules]
    args = {"type": "in", "action": "DROP", "macro": "ssh", "log": "info", "comment": "no ssh", "pos": 2}
    body = await call(connect, "pve_create_cluster_firewall_rule", {**args, "confirm": True})
    assert body["pos"] == 2 and body["macro"] == "SSH"
    assert [r["comment"] for r in sim.state.firewall.rules] == [*old[:2], "no ssh", *old[2:]]
    posted = next(r for r in sim.requests if r.method == "POST")
    assert posted.params["enable"] == "0"  # never active at the top on its way down
    assert sim.state.firewall.rules[2]["enable"] == 1


async def test_a_position_past_the_end_appends(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "running")
    count = len(guest_rules(sim, guest.vmid))
    args = {"vmid": guest.vmid, "type": "out", "action": "REJECT", "dest": "203.0.113.0/24", "pos": 99}
    body = await call(connect, "pve_create_guest_firewall_rule", {**args, "enable": 0, "confirm": True})
    assert body["pos"] == count and body["enable"] == 0
    assert guest_rules(sim, guest.vmid)[-1]["dest"] == "203.0.113.0/24"
    assert all("/lxc/" in r.path for r in sim.requests if r.method != "GET" or "firewall" in r.path)


async def test_a_guest_rule_lands_on_the_guests_own_list(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    args = {"vmid": guest.vmid, "type": "in", "action": "ACCEPT", "macro": "HTTPS", "iface": "net0"}
    await call(connect, "pve_create_guest_firewall_rule", {**args, "confirm": True})
    assert guest_rules(sim, guest.vmid)[0] == {
        "type": "in",
        "action": "ACCEPT",
        "macro": "HTTPS",
        "iface": "net0",
        "enable": 1,
    }


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"type": "in", "action": "ACCEPT", "dport": "22"}, "proto"),
        ({"type": "in", "action": "ALLOW"}, "action"),
        ({"type": "in", "action": "ACCEPT", "source": "no_such_alias"}, "source"),
        ({"type": "group", "action": "nosuchgroup"}, "action"),
    ],
)
async def test_an_invalid_rule_is_refused_with_proxmoxs_reason(
    connect: McpFactory, sim: Simulator, args: dict[str, Any], field: str
) -> None:
    before = list(sim.state.firewall.rules)
    body = await failed(connect, "pve_create_cluster_firewall_rule", {**args, "confirm": True})
    assert field in body["message"]
    assert sim.state.firewall.rules == before


async def test_updating_a_rule_changes_and_clears_fields(connect: McpFactory, sim: Simulator) -> None:
    await call(connect, "pve_update_cluster_firewall_rule", {"pos": 1, "dport": "8006,8007", "confirm": True})
    assert sim.state.firewall.rules[1]["dport"] == "8006,8007"
    args = {"pos": 0, "delete": "log", "enable": 0, "confirm": True}
    await call(connect, "pve_update_cluster_firewall_rule", args)
    assert "log" not in sim.state.firewall.rules[0] and sim.state.firewall.rules[0]["enable"] == 0


async def test_moving_a_rule_puts_it_before_the_rule_at_moveto(connect: McpFactory, sim: Simulator) -> None:
    names = [r["comment"] for r in sim.state.firewall.rules]
    await call(connect, "pve_update_cluster_firewall_rule", {"pos": 0, "moveto": 3, "confirm": True})
    assert [r["comment"] for r in sim.state.firewall.rules] == [names[1], names[2], names[0], *names[3:]]
    await call(connect, "pve_update_cluster_firewall_rule", {"pos": 2, "moveto": 0, "confirm": True})
    assert [r["comment"] for r in sim.state.firewall.rules] == names


async def test_a_stale_digest_protects_a_rule_that_moved(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    stamp = (await call(connect, "pve_list_guest_firewall_rules", {"vmid": guest.vmid}))["items"][0]["digest"]
    args = {"vmid": guest.vmid, "type": "in", "action": "DROP", "confirm": True}
    await call(connect, "pve_create_guest_firewall_rule", args)
    before = list(guest_rules(sim, guest.vmid))
    body = await failed(
        connect, "pve_delete_guest_firewall_rule", {"vmid": guest.vmid, "pos": 1, "digest": stamp, "confirm": True}
    )
    assert "modified" in body["message"] and guest_rules(sim, guest.vmid) == before
    body = await failed(
        connect,
        "pve_update_guest_firewall_rule",
        {"vmid": guest.vmid, "pos": 0, "comment": "x", "digest": stamp, "confirm": True},
    )
    assert "modified" in body["message"]


async def test_updating_a_guest_rule_uses_the_guests_type(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "stopped")
    await call(
        connect, "pve_update_guest_firewall_rule", {"vmid": guest.vmid, "pos": 0, "comment": "admins", "confirm": True}
    )
    assert guest_rules(sim, guest.vmid)[0]["comment"] == "admins"
    assert any(r.method == "PUT" and f"/lxc/{guest.vmid}/" in r.path for r in sim.requests)


@pytest.mark.parametrize("scope", ["cluster", "guest"])
async def test_deleting_a_rule_renumbers_the_rest(connect: McpFactory, sim: Simulator, scope: str) -> None:
    guest = pick(sim, "qemu", "running")
    rules = sim.state.firewall.rules if scope == "cluster" else guest_rules(sim, guest.vmid)
    expected = rules[1:]
    where = {"vmid": guest.vmid} if scope == "guest" else {}
    await call(connect, f"pve_delete_{scope}_firewall_rule", {**where, "pos": 0, "confirm": True})
    assert rules == expected
    body = await failed(connect, f"pve_delete_{scope}_firewall_rule", {**where, "pos": 50, "confirm": True})
    assert "no rule at position 50" in body["message"]


async def test_datacenter_options_change_and_reset(connect: McpFactory, sim: Simulator) -> None:
    args = {"policy_in": "REJECT", "policy_forward": "DROP", "delete": "log_ratelimit", "confirm": True}
    await call(connect, "pve_update_cluster_firewall_options", args)
    options = sim.state.firewall.options
    assert options["policy_in"] == "REJECT" and options["policy_forward"] == "DROP"
    assert "log_ratelimit" not in options
    await call(connect, "pve_update_cluster_firewall_options", {"enable": 0, "confirm": True})
    assert (await call(connect, "pve_get_cluster_firewall_options"))["enable"] == 0


WRITES = [
    ("pve_update_cluster_firewall_options", {"enable": 0}),
    ("pve_create_cluster_firewall_rule", {"type": "in", "action": "DROP"}),
    ("pve_update_cluster_firewall_rule", {"pos": 0, "action": "ACCEPT"}),
    ("pve_delete_cluster_firewall_rule", {"pos": 0}),
    ("pve_create_guest_firewall_rule", {"vmid": 100, "type": "in", "action": "DROP"}),
    ("pve_update_guest_firewall_rule", {"vmid": 100, "pos": 0, "enable": 0}),
    ("pve_delete_guest_firewall_rule", {"vmid": 100, "pos": 0}),
]


@pytest.mark.parametrize(("tool", "args"), WRITES, ids=[w[0] for w in WRITES])
async def test_firewall_writes_without_confirm_change_nothing(
    connect: McpFactory, sim: Simulator, tool: str, args: dict[str, Any]
) -> None:
    fw = sim.state.firewall
    before = (dict(fw.options), [dict(r) for r in fw.rules], [dict(r) for r in fw.guest_rules[100]])
    body = await failed(connect, tool, args)
    assert body["code"] == "CONFIRMATION_REQUIRED"
    assert all(r.method == "GET" for r in sim.requests)
    assert (dict(fw.options), [dict(r) for r in fw.rules], [dict(r) for r in fw.guest_rules[100]]) == before
