"""The exposure policy: the tier is a ceiling, filters only narrow, unknown names stop start-up."""

from __future__ import annotations

import itertools

import pytest

from pvemcp.catalog import ALL_TOOLS, CATEGORIES
from pvemcp.catalog.spec import Module, Tier
from pvemcp.config import ConfigError, load_config
from pvemcp.server.inventory import Inventory, Policy, parse_policy

SANDBOX = {"PVE_SANDBOX": "1"}


def exposed(**env: str) -> set[str]:
    return set(Inventory(load_config({**SANDBOX, **env}).policy).by_name)


def canonical_count(tier: Tier, module: Module) -> int:
    return sum(1 for s in ALL_TOOLS if s.tier <= tier and (module is Module.ADVANCED or s.module is Module.CORE))


def test_the_default_policy_is_read_only_core() -> None:
    policy = load_config(SANDBOX).policy
    assert policy.tier is Tier.READ_ONLY and policy.module is Module.CORE
    names = exposed()
    assert "pve_list_nodes" in names and "listNodes" in names
    assert "pve_start_qemu_vm" not in names and "startVM" not in names


@pytest.mark.parametrize(("tier", "module"), list(itertools.product(Tier, Module)))
def test_every_tier_and_module_exposes_exactly_the_tools_at_or_below_it(tier: Tier, module: Module) -> None:
    inventory = Inventory(Policy(tier=tier, module=module, ssh=True))
    canonical = {e.spec.name for e in inventory.by_name.values()}
    assert len(canonical) == canonical_count(tier, module)
    assert all(e.spec.tier <= tier for e in inventory.by_name.values())
    aliases = {name for name, e in inventory.by_name.items() if e.alias_of}
    assert aliases == {a for s in ALL_TOOLS if s.name in canonical for a in s.aliases}


def test_a_whitelist_never_raises_the_tier() -> None:
    names = exposed(PVE_TOOL_WHITELIST="pve_stop_qemu_vm,pve_list_nodes")
    assert names == {"pve_list_nodes", "listNodes"}


def test_a_whitelist_narrows_within_the_tier_and_carries_aliases() -> None:
    names = exposed(PVE_ACCESS_TIER="read-execute", PVE_TOOL_WHITELIST="stopVM")
    assert names == {"pve_stop_qemu_vm", "stopVM"}


def test_blacklisting_an_alias_removes_its_tool_and_every_alias() -> None:
    names = exposed(PVE_ACCESS_TIER="full", PVE_TOOL_BLACKLIST="getVMStatus")
    assert "pve_get_qemu_status" not in names and "getVMStatus" not in names
    assert "pve_get_lxc_status" in names


@pytest.mark.parametrize("category", CATEGORIES)
def test_categories_keep_only_their_tools(category: str) -> None:
    env = {**SANDBOX, "PVE_ACCESS_TIER": "full", "PVE_MODULE_MODE": "advanced", "PVE_CATEGORIES": category}
    env |= {"PROXMOX_SSH_HOST": "pve1", "PROXMOX_SSH_USER": "root", "PROXMOX_SSH_KEY_PATH": "/k"}  # the remote tools
    inventory = Inventory(load_config(env).policy)
    assert len(inventory) > 0
    assert {e.spec.category for e in inventory.by_name.values()} == {category}


def test_filters_combine_as_an_intersection() -> None:
    names = exposed(
        PVE_ACCESS_TIER="read-execute",
        PVE_CATEGORIES="qemu,nodes",
        PVE_TOOL_WHITELIST="pve_start_qemu_vm,pve_list_nodes,pve_list_storage,pve_stop_qemu_vm",
        PVE_TOOL_BLACKLIST="stopVM",
    )
    assert names == {"pve_start_qemu_vm", "startVM", "pve_list_nodes", "listNodes"}


def test_unknown_values_stop_start_up_naming_each_one_and_the_closest_valid_name() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(
            {
                **SANDBOX,
                "PVE_ACCESS_TIER": "readonly",
                "PVE_MODULE_MODE": "adv",
                "PVE_CATEGORIES": "qemu,vms",
                "PVE_TOOL_WHITELIST": "pve_list_node",
                "PVE_TOOL_BLACKLIST": "stopVm",
            }
        )
    text = caught.value.render()
    assert len(caught.value.problems) == 5
    for expected in (
        "'readonly'",
        "read-only",
        "'adv'",
        "advanced",
        "'vms'",
        "'pve_list_node'",
        "pve_list_nodes",
        "'stopVm'",
        "stopVM",
    ):
        assert expected in text


def test_tier_and_module_values_are_case_insensitive() -> None:
    policy, problems = parse_policy(
        tier="Read-Execute", module="ADVANCED", categories="QEMU", whitelist="", blacklist=""
    )
    assert problems == []
    assert policy.tier is Tier.READ_EXECUTE and policy.module is Module.ADVANCED
    assert policy.categories == frozenset({"qemu"})


def test_the_listing_order_is_the_catalog_order_with_aliases_after_their_tool() -> None:
    names = list(Inventory(Policy(tier=Tier.FULL, module=Module.ADVANCED, ssh=True)).by_name)
    expected: list[str] = []
    for spec in ALL_TOOLS:
        expected += [spec.name, *spec.aliases]
    assert names == expected


@pytest.mark.parametrize(
    ("mode", "callable_", "listed"), [("listed", True, True), ("hidden", True, False), ("off", False, False)]
)
def test_alias_modes_decide_whether_aliases_are_listed_and_callable(mode: str, callable_: bool, listed: bool) -> None:
    from pvemcp.server.listing import build_listing

    inventory = Inventory(load_config({**SANDBOX, "PVE_ALIASES": mode}).policy)
    assert (inventory.get("listNodes") is not None) is callable_
    assert ("listNodes" in {t.name for t in build_listing(inventory)}) is listed
    assert inventory.get("pve_list_nodes") is not None


def test_an_unknown_alias_mode_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="PVE_ALIASES='hide'"):
        load_config({**SANDBOX, "PVE_ALIASES": "hide"})
