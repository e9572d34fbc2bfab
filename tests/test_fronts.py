"""The consolidated surface: every catalog operation is reachable from it and answers exactly as when called
by its own name; listings keep to their budgets; actions follow the policy; routing refuses what it cannot map."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from mcp import Client
from mcp_types import TextContent

from pvemcp.catalog import ALL_TOOLS, BY_NAME
from pvemcp.catalog.fronts import APP_ONLY, BY_FRONT, CANONICAL, FRONTS, STANDALONE
from pvemcp.catalog.spec import Module, Tier, ToolSpec
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.fronts import Fronts
from pvemcp.server.inventory import Inventory, Policy
from pvemcp.server.prompts import Prompts
from pvesim import Simulator
from tests.conftest import FULL, client_for, mcp_client, payload
from tests.test_scope import valid_args

pytestmark = pytest.mark.anyio

CONSOLIDATED = replace(FULL, mode="consolidated")
# With these arguments 108 of 228 operations succeed on the default seed; the others (SSH without a channel, a
# placeholder "x" that names nothing) must fail with the same error both ways.
ANSWERED = 100


def listing_bytes(policy: Policy) -> tuple[int, int]:
    tools = Fronts(Inventory(policy)).tools
    dumped = [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in tools]
    return len(tools), len(json.dumps(dumped, separators=(",", ":")))


def test_every_catalog_operation_has_one_place_on_the_consolidated_surface() -> None:
    names = {spec.name for spec in ALL_TOOLS}
    assert sorted(names - set(CANONICAL) - set(STANDALONE) - APP_ONLY) == []
    assert not APP_ONLY & set(CANONICAL), "an app-only operation sits on no front"
    assert sorted(set(CANONICAL) - names) == [], "a front names an operation the catalog does not have"
    for front in FRONTS:
        assert len({a.name for a in front.actions}) == len(front.actions), front.name
        assert front.default is None or front.action(front.default) is not None, front.name


def test_listing_budgets() -> None:
    read_only = Policy(mode="consolidated")
    assert listing_bytes(read_only)[1] <= 12_000
    count, size = listing_bytes(replace(CONSOLIDATED, tier=Tier.FULL, module=Module.ADVANCED))
    assert count <= 25 and size <= 32_000


@pytest.mark.parametrize("tier", list(Tier))
@pytest.mark.parametrize("module", list(Module))
def test_actions_follow_the_policy(tier: Tier, module: Module) -> None:
    """A front is listed only with an allowed operation, and its action enum lists only allowed ones."""
    policy = Policy(tier=tier, module=module, ssh=True, mode="consolidated")
    inventory = Inventory(policy)
    fronts = Fronts(inventory)
    listed = {t.name: t for t in fronts.tools}
    for front in FRONTS:
        allowed = [a.name for a in front.actions if any(inventory.get(op) is not None for op in a.ops.values())]
        if not allowed:
            assert front.name not in listed
            continue
        schema = listed[front.name].input_schema
        if len(front.actions) == 1:  # one question, no action to choose
            assert "action" not in schema["properties"]
        else:
            assert schema["properties"]["action"]["enum"] == allowed


def test_a_blacklisted_operation_leaves_its_action_and_an_emptied_front_leaves_the_listing() -> None:
    policy = replace(CONSOLIDATED, blacklist=frozenset({"pve_stop_qemu_vm", "pve_stop_lxc_container"}))
    tools = {t.name: t for t in Fronts(Inventory(policy)).tools}
    assert "stop" not in tools["pve_guest_power"].input_schema["properties"]["action"]["enum"]
    only = replace(CONSOLIDATED, whitelist=frozenset({"pve_list_nodes"}))
    assert [t.name for t in Fronts(Inventory(only)).tools] == ["pve_inventory"]


def arguments(spec: ToolSpec) -> dict[str, Any]:
    """What the operation needs, as the scope tests fill it (test_scope.valid_args); a task is waited for briefly."""
    return valid_args(spec, **({"wait_seconds": 5} if spec.returns_task else {}))


def through_front(spec: ToolSpec, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    front, action, picks = CANONICAL[spec.name]
    renamed = {("rule_action" if key == "action" else key): value for key, value in args.items()}
    routed = {"action": action, **renamed, "response_format": "detailed"}
    if "timeframe" in picks:
        routed["timeframe"] = picks["timeframe"]
    if "type" in picks and spec.guest_type is None:  # creating: the type cannot come from the vmid
        routed["type"] = picks["type"]
    return front, routed


async def test_each_operation_answers_the_same_by_name_and_through_its_front() -> None:
    """Two identical clusters take the same calls in the same order: one by the operations' own names, one
    through the fronts (response_format=detailed). Results and the clusters' states must stay equal."""
    sims = Simulator(), Simulator()
    pve_a, pve_b = client_for(sims[0]), client_for(sims[1])
    compared = answered = 0
    async with (
        mcp_client(pve_a, sims[0], policy=CONSOLIDATED) as by_name,
        mcp_client(pve_b, sims[1], policy=CONSOLIDATED) as by_front,
    ):
        for spec in ALL_TOOLS:
            if spec.name in STANDALONE or spec.name in APP_ONLY:
                continue
            args = arguments(spec)
            front, routed = through_front(spec, args)
            a = await by_name.call_tool(spec.name, args)
            b = await by_front.call_tool(front, routed)
            assert bool(a.is_error) == bool(b.is_error), (spec.name, payload(a), payload(b))
            if a.is_error:  # the same failure; through a front its hint names the front's actions
                assert (payload(a)["code"], payload(a).get("status")) == (
                    payload(b)["code"],
                    payload(b).get("status"),
                ), spec.name
            else:
                assert payload(a) == payload(b), spec.name
            compared += 1
            answered += not a.is_error
    await pve_a.aclose()
    await pve_b.aclose()
    assert compared == len(ALL_TOOLS) - len(STANDALONE) - len(APP_ONLY)
    assert answered >= ANSWERED, "most operations must succeed with these arguments, not only fail alike"
    assert sims[0].state.guests.keys() == sims[1].state.guests.keys()
    for vmid, guest in sims[0].state.guests.items():
        other = sims[1].state.guests[vmid]
        assert (guest.node, guest.status, guest.config.as_dict()) == (other.node, other.status, other.config.as_dict())


async def call(client: Client, name: str, args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool(name, args)
    return bool(result.is_error), payload(result)


async def test_routing_refuses_what_it_cannot_map(sim: Simulator, pve: ProxmoxClient) -> None:
    async with mcp_client(pve, sim, policy=CONSOLIDATED) as client:
        failed, body = await call(client, "pve_guest_power", {"vmid": 100})
        assert failed and body["code"] == "TOOL_INPUT_REJECTED" and "start" in body["message"]
        failed, body = await call(client, "pve_guest_power", {"action": "explode", "vmid": 100})
        assert failed and "has no action 'explode'" in body["message"]
        failed, body = await call(client, "pve_guest_power", {"action": "reset", "vmid": 200})
        assert failed and body["code"] == "GUEST_NOT_FOUND", body
        failed, body = await call(client, "pve_guest_lifecycle", {"action": "create", "node": "pve1"})
        assert failed and "needs type" in body["message"]
        failed, body = await call(client, "pve_guest", {"action": "status", "vmid": 100, "colour": "red"})
        assert failed and body["code"] == "TOOL_INPUT_REJECTED" and "colour" in body["message"]
    assert sim.state.guests[200].status == "running"


async def test_a_container_action_reaches_the_container_operation(sim: Simulator, pve: ProxmoxClient) -> None:
    assert sim.state.guests[200].status == "running"
    async with mcp_client(pve, sim, policy=CONSOLIDATED) as client:
        failed, body = await call(client, "pve_guest_power", {"action": "stop", "vmid": 200, "confirm": True})
        assert not failed and body["task"]["task_state"] == "stopped" and body["task"]["exitstatus"] == "OK"
    assert sim.state.guests[200].status == "stopped"


async def test_concise_results_say_their_units(sim: Simulator, pve: ProxmoxClient) -> None:
    async with mcp_client(pve, sim, policy=CONSOLIDATED) as client:
        _, concise = await call(client, "pve_inventory", {"action": "nodes"})
        _, detailed = await call(client, "pve_inventory", {"action": "nodes", "response_format": "detailed"})
    node, raw = concise["items"][0], detailed["items"][0]
    assert node["cpu_percent"] == round(raw["cpu"] * 100, 1) and node["cpus"] == raw["maxcpu"]
    share = round(raw["mem"] / raw["maxmem"] * 100, 1)
    assert node["mem"].endswith(f"iB ({share}%)") and " of " in node["mem"] and "maxmem" not in node
    assert "cpu" not in node and "ssl_fingerprint" not in node


def test_every_front_names_existing_operations_and_tools() -> None:
    for front in FRONTS:
        for action in front.actions:
            for op in action.ops.values():
                assert op in BY_NAME, (front.name, action.name, op)


def test_consolidated_prompts_name_the_consolidated_tools() -> None:
    prompts = Prompts(Inventory(CONSOLIDATED))
    assert set(prompts.recipes) == {"cluster-health", "guest-inventory", "backup-audit", "troubleshoot-guest"}
    for name in prompts.recipes:
        message = prompts.get(name, {"vmid": "100"}).messages[0].content
        assert isinstance(message, TextContent)
        named = set(re.findall(r"\bpve_[a-z_]+\b", message.text))
        assert named and named <= set(BY_FRONT), name


async def test_a_blocked_migration_is_refused_before_anyone_is_asked(sim: Simulator, pve: ProxmoxClient) -> None:
    """An HA-managed VM migrates through HA: the refusal comes first, naming the call that works on this surface."""
    async with mcp_client(pve, sim, policy=CONSOLIDATED) as client:
        failed, body = await call(client, "pve_guest_lifecycle", {"action": "migrate", "vmid": 104, "target": "pve3"})
    assert failed and body["code"] == "TOOL_INPUT_REJECTED", body  # not CONFIRMATION_REQUIRED
    assert body["details"]["use"]["tool"] == "pve_ha" and body["details"]["use"]["arguments"]["action"] == "migrate"
    assert "pve_ha action migrate" in body["hint"] and "pve_migrate_ha_resource" not in body["hint"]
    assert sim.state.guests[104].node == "pve2"


async def test_the_health_answer_keeps_to_its_output_schema(sim: Simulator, pve: ProxmoxClient) -> None:
    """The SDK client checks a result against the listed outputSchema; both forms must pass it."""
    async with mcp_client(pve, sim, policy=CONSOLIDATED) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert listed["pve_health"].output_schema is not None
        for response_format in ("concise", "detailed"):
            failed, body = await call(client, "pve_health", {"response_format": response_format})
            assert not failed and body["status"] in ("warning", "critical") and body["findings"]


async def test_answers_say_what_settles_the_question(sim: Simulator, pve: ProxmoxClient) -> None:
    """A stopped guest with onboot off names its node's last boot; a failed start followed by one that worked is a
    note in the health check, no longer a warning."""
    async with mcp_client(pve, sim, policy=CONSOLIDATED) as client:
        _, diagnosed = await call(client, "pve_guest", {"action": "diagnose", "vmid": 202})
        onboot = next(f for f in diagnosed["findings"] if f["message"].startswith("onboot is off"))
        assert "Node pve1 last booted at " in onboot["message"]
        _, before = await call(client, "pve_health", {})
        assert any(f.get("type") == "qmstart" and f["severity"] == "warning" for f in before["findings"])
        failed, _ = await call(client, "pve_guest_power", {"action": "start", "vmid": 103})
        assert not failed and sim.state.guests[103].status == "running"
        _, after = await call(client, "pve_health", {})
    settled = next(f for f in after["findings"] if f.get("type") == "qmstart" and f.get("id") == "103")
    assert settled["severity"] == "info" and "it runs now" in settled["message"]
