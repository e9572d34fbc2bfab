"""The privilege table matches the official schema, and the privilege judgement follows Proxmox's ACL rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pvemcp.catalog import ALL_TOOLS, BY_NAME
from pvemcp.catalog.permissions import (
    RULES,
    USEFUL,
    AllOf,
    AnyOf,
    Perm,
    UserAll,
    UserIdGroup,
    UserIdParam,
    parse_rule,
    rule_for,
    schema_path,
)
from pvemcp.catalog.spec import Tier
from pvemcp.privileges import (
    check_tools,
    explain_privsep,
    grant_commands,
    held_at,
    minimal_privileges,
    needs,
    parse_token_id,
    role_for,
)
from tests.conftest import SCHEMA_DIR

ENDPOINTS = SCHEMA_DIR / "endpoints.json"
needs_schema = pytest.mark.skipif(not ENDPOINTS.is_file(), reason="the PVE API schema (../shared/pve-api) is absent")
# The raw API (raw=True) names no endpoint of its own: it needs what the path it is given needs.
CATALOG_ENDPOINTS = sorted({key for s in ALL_TOOLS if s.api and not s.raw for key in schema_path(s.method, s.path)})
TOKEN = "pvemcp@pve!assistant"


@pytest.fixture(scope="module")
def schema() -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["method"], e["path"]): e for e in json.loads(ENDPOINTS.read_text())}


@needs_schema
@pytest.mark.parametrize("key", CATALOG_ENDPOINTS, ids=" ".join)
def test_every_catalog_endpoint_states_the_rule_the_schema_states(
    key: tuple[str, str], schema: dict[tuple[str, str], dict[str, Any]]
) -> None:
    assert key in schema, key
    assert RULES[key] == schema[key]["permissions"]


@needs_schema
def test_every_open_endpoint_whose_description_names_a_privilege_records_what_makes_it_useful(
    schema: dict[tuple[str, str], dict[str, Any]],
) -> None:
    own_only = {("GET", "/access/permissions")}  # Sys.Audit there is about reading other users' permissions
    privileges = ("Audit", "Syslog", "Allocate", "Modify", "Backup")
    for key in CATALOG_ENDPOINTS:
        desc = schema[key].get("permissions_desc") or ""
        if RULES[key] == "user=all" and any(p in desc for p in privileges) and key not in own_only:
            assert key in USEFUL, key
    for key in USEFUL:
        assert RULES[key] == "user=all", key


def test_every_rule_in_the_table_parses() -> None:
    for method, path in RULES:
        rule_for(method, path)


def test_rules_parse_into_their_parts() -> None:
    assert parse_rule("perm(/vms/{vmid}, [VM.Snapshot, VM.Snapshot.Rollback], any)") == Perm(
        "/vms/{vmid}", ("VM.Snapshot", "VM.Snapshot.Rollback"), any=True
    )
    clone = parse_rule(RULES[("POST", "/nodes/{node}/qemu/{vmid}/clone")])
    assert isinstance(clone, AllOf) and isinstance(clone.rules[1], AnyOf)
    assert clone.rules[1].rules[1] == Perm("/pool/{pool}", ("VM.Allocate",), require_param="pool")
    assert parse_rule("perm(/, [Sys.Audit]) ; user=all") == Perm("/", ("Sys.Audit",))
    tokens = parse_rule(RULES[("GET", "/access/users/{userid}/token")])
    assert tokens == AnyOf((UserIdParam("self"), UserIdGroup(("User.Modify",))))
    assert rule_for("GET", "/nodes/{node}/qemu") == UserAll(Perm("/vms/{vmid}", ("VM.Audit",)))


def test_a_guest_tool_needs_its_privilege_and_vm_audit_to_find_the_guest() -> None:
    start = needs(BY_NAME["pve_start_qemu_vm"])
    assert [(n.path, n.privs) for n in start] == [("/vms/{vmid}", ("VM.Audit",)), ("/vms/{vmid}", ("VM.PowerMgmt",))]
    listing = needs(BY_NAME["pve_list_storage"])
    assert listing[0].filters and listing[0].any and listing[0].grant == ("Datastore.Audit",)
    firewall = needs(BY_NAME["pve_list_guest_firewall_rules"])  # a {guest_type} path: qemu and lxc agree
    assert [(n.path, n.privs) for n in firewall] == [("/vms/{vmid}", ("VM.Audit",))]
    assert needs(BY_NAME["pve_preview"]) == []


def test_a_privilege_on_a_parent_reaches_the_objects_below_only_when_it_propagates() -> None:
    perms = {"/": {"Sys.Audit": 1}, "/nodes": {"Sys.Audit": 1}, "/vms": {"VM.Audit": 1, "VM.PowerMgmt": 0}}
    tools = [BY_NAME[n] for n in ("pve_get_qemu_config", "pve_start_qemu_vm", "pve_get_node_status")]
    by_name = {a.name: a for a in check_tools(tools, perms, token_id=TOKEN)}
    assert by_name["pve_get_qemu_config"].usable
    assert by_name["pve_get_node_status"].usable
    start = by_name["pve_start_qemu_vm"]
    assert start.status == "missing"
    assert start.missing[0].privs == ("VM.PowerMgmt",)
    assert start.fixes == [
        "pveum acl modify /vms --tokens 'pvemcp@pve!assistant' --roles PVEVMUser",
        "pveum acl modify /vms --users 'pvemcp@pve' --roles PVEVMUser",
    ]


def test_a_top_path_missing_from_the_listing_holds_nothing_even_below_a_propagating_root() -> None:
    # Proxmox lists /vms whenever it holds anything; its absence means an ACL there (NoAccess) cut the root's.
    assert held_at({"/": {"VM.Audit": 1}}, "/vms/100") == {}
    assert held_at({"/": {"VM.Audit": 1}, "/vms": {"VM.Audit": 1}}, "/vms/100") == {"VM.Audit": 1}
    assert held_at({"/": {"Realm.AllocateUser": 1}}, "/access/realm/pve") == {}
    assert held_at({"/access": {"Realm.AllocateUser": 1}}, "/access/realm/pve") == {"Realm.AllocateUser": 1}


def test_a_need_met_only_on_some_guests_is_partial_and_an_open_endpoint_without_it_is_limited() -> None:
    perms = {"/vms": {"VM.Audit": 1}, "/vms/100": {"VM.Audit": 1, "VM.PowerMgmt": 1}, "/": {"Sys.Audit": 1}}
    start, storage = check_tools([BY_NAME["pve_start_lxc_container"], BY_NAME["pve_list_storage"]], perms)
    assert start.status == "partial" and start.missing[0].partial_on == ("/vms/100",)
    assert storage.status == "limited" and not storage.usable


def test_any_of_needs_one_of_the_privileges() -> None:
    rollback = BY_NAME["pve_qemu_rollback_snapshot"]
    perms = {"/vms": {"VM.Audit": 1, "VM.Snapshot.Rollback": 1}}
    assert check_tools([rollback], perms)[0].usable
    assert check_tools([rollback], {"/vms": {"VM.Audit": 1}})[0].missing[0].privs == (
        "VM.Snapshot",
        "VM.Snapshot.Rollback",
    )


def test_fixes_name_the_user_alone_without_privilege_separation_and_a_given_role_is_extended() -> None:
    assert grant_commands("/", ["Sys.Audit"], TOKEN, privsep=False) == [
        "pveum acl modify / --users 'pvemcp@pve' --roles PVEAuditor"
    ]
    assert grant_commands("/storage", ["Datastore.Audit"], TOKEN, role="pvemcp-read-only")[0] == (
        "pveum role modify pvemcp-read-only --append 1 --privs Datastore.Audit"
    )
    assert role_for(["Sys.Modify"]) == "Administrator"
    assert role_for(["VM.Audit"]) == "PVEAuditor"


def test_minimal_privileges_grow_with_the_tier_and_keep_write_privileges_out_of_reading_needs() -> None:
    def union(tier: Tier) -> set[str]:
        found = minimal_privileges([s for s in ALL_TOOLS if s.tier <= tier])
        return {p for privs in found.values() for p in privs}

    read, execute, full = union(Tier.READ_ONLY), union(Tier.READ_EXECUTE), union(Tier.FULL)
    assert read < execute < full
    assert {"VM.Audit", "Sys.Audit", "Datastore.Audit", "VM.GuestAgent.Audit"} <= read
    assert "Datastore.AllocateSpace" not in read  # any-of lists grant their read privilege
    assert {"VM.PowerMgmt", "VM.Migrate", "VM.Backup"} <= execute
    assert {"VM.Allocate", "VM.Config.Memory", "Sys.Modify"} <= full
    assert minimal_privileges([BY_NAME["pve_get_node_status"]]) == {"/nodes": {"Sys.Audit"}}


def test_token_ids_are_parsed_and_privilege_separation_is_explained() -> None:
    token = parse_token_id(TOKEN)
    assert (token.userid, token.name, token.api_path) == (
        "pvemcp@pve",
        "assistant",
        "/access/users/pvemcp@pve/token/assistant",
    )
    with pytest.raises(ValueError, match="user@realm!name"):
        parse_token_id("pvemcp@pve")
    assert "intersection" in explain_privsep(TOKEN, True)
    assert "--users 'pvemcp@pve'" in explain_privsep(TOKEN, False)
    assert "Could not read" in explain_privsep(TOKEN, None)


def test_the_server_reads_the_same_facts_the_simulator_enforces() -> None:
    """One place states Proxmox's rules and roles (pvesim.facts): pvemcp reads it, the simulator grants by it."""
    from pvemcp.pve.roles import BUILTIN_ROLES
    from pvesim import Simulator
    from pvesim.facts import roles, table

    assert RULES is table.RULES and USEFUL is table.USEFUL and BUILTIN_ROLES is roles.BUILTIN_ROLES
    assert Simulator(nodes=1, guests=0).state.roles == BUILTIN_ROLES
