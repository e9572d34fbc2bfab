"""Access tools: users, groups, roles, realms, ACL entries, API tokens and effective permissions."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio

SECRET_WORD = "Tr0ub4dor&3-horse"  # a password a test sends and then looks for in the logs


async def test_users_are_listed_with_groups_tokens_and_realm(connect: McpFactory, sim: Simulator) -> None:
    items = (await call(connect, "pve_list_users"))["items"]
    assert {u["userid"] for u in items} == set(sim.state.users)
    alice = next(u for u in items if u["userid"] == "alice@pve")
    assert alice["groups"] == "admins" and alice["realm-type"] == "pve"
    assert [t["tokenid"] for t in alice["tokens"]] == ["automation"]
    assert all("value" not in t and "secret" not in t for u in items for t in u["tokens"])
    disabled = (await call(connect, "pve_list_users", {"enabled": False}))["items"]
    assert [u["userid"] for u in disabled] == ["dave@pve"]


async def test_roles_carry_proxmox_builtin_privileges(connect: McpFactory) -> None:
    roles = {r["roleid"]: r for r in (await call(connect, "pve_list_roles"))["items"]}
    assert {"Administrator", "NoAccess", "PVEAdmin", "PVEAuditor", "PVEVMAdmin", "PVEVMUser"} <= set(roles)
    assert all(r["special"] == 1 for r in roles.values())
    admin = set(roles["PVEAdmin"]["privs"].split(","))
    assert "VM.Allocate" in admin and not {"Sys.Modify", "Permissions.Modify"} & admin
    assert set(roles["PVEAuditor"]["privs"].split(",")) == {
        "Datastore.Audit",
        "Mapping.Audit",
        "Pool.Audit",
        "SDN.Audit",
        "Sys.Audit",
        "VM.Audit",
        "VM.GuestAgent.Audit",
    }


@pytest.mark.parametrize(
    ("tool", "args", "key", "expected"),
    [
        ("pve_list_groups", {}, "groupid", {"admins", "operators", "auditors"}),
        ("pve_list_domains", {}, "realm", {"pam", "pve"}),
        ("pve_list_api_tokens", {"userid": "carol@pve"}, "tokenid", {"grafana"}),
    ],
)
async def test_simple_access_lists_name_what_exists(
    connect: McpFactory, tool: str, args: dict[str, Any], key: str, expected: set[str]
) -> None:
    items = (await call(connect, tool, args))["items"]
    assert {i[key] for i in items} == expected


async def test_acl_entries_show_users_groups_and_tokens(connect: McpFactory, sim: Simulator) -> None:
    items = (await call(connect, "pve_list_acls"))["items"]
    assert len(items) == len(sim.state.acls)
    assert {"path": "/vms", "type": "group", "ugid": "operators", "roleid": "PVEVMUser", "propagate": 1} in items
    assert {i["type"] for i in items} == {"user", "group", "token"}


async def test_permissions_default_to_pvemcps_own_token(connect: McpFactory, sim: Simulator) -> None:
    body = await call(connect, "pve_get_permissions")
    assert set(body["/"]) == set(sim.state.roles["Administrator"])


@pytest.mark.parametrize(
    ("subject", "path", "has", "lacks"),
    [
        ("carol@pve!grafana", "/vms/100", "VM.Audit", "VM.PowerMgmt"),  # privsep token: its own ACL only
        ("bob@pve", "/vms/107", "VM.PowerMgmt", "VM.Allocate"),  # group role on /vms, propagated
        ("bob@pve", "/nodes", None, "Sys.Audit"),
        ("dave@pve", "/storage/local", None, "Datastore.Audit"),
    ],
)
async def test_permissions_follow_acls_groups_and_privilege_separation(
    connect: McpFactory, subject: str, path: str, has: str | None, lacks: str
) -> None:
    body = await call(connect, "pve_get_permissions", {"userid": subject, "path": path})
    privs = body[path]
    assert lacks not in privs
    assert has is None or has in privs


async def test_a_pool_acl_reaches_the_pools_guests(connect: McpFactory, sim: Simulator) -> None:
    member = next(g for g in sim.state.guests.values() if g.pool == "production")
    body = await call(connect, "pve_get_permissions", {"userid": "bob@pve"})
    assert "VM.Allocate" in body[f"/vms/{member.vmid}"]


async def test_creating_a_user_sends_the_password_but_never_logs_it(
    connect: McpFactory, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    args = {
        "userid": "erin@pve",
        "password": SECRET_WORD,
        "email": "erin@example.com",
        "firstname": "Erin",
        "lastname": "Smith Jones",
        "groups": "operators,auditors",
        "expire": 0,
        "comment": "On call / week 12",
        "confirm": True,
    }
    await call(connect, "pve_create_user", args)
    user = sim.state.users["erin@pve"]
    assert (user.email, user.lastname, user.comment, user.enable) == (
        "erin@example.com",
        "Smith Jones",
        "On call / week 12",
        1,
    )
    assert sim.state.access.groups_of("erin@pve") == ["auditors", "operators"]
    post = next(r for r in sim.requests if r.method == "POST" and r.path == "/access/users")
    assert post.params["password"] == SECRET_WORD
    assert SECRET_WORD not in caplog.text


async def test_a_taken_userid_keeps_proxmox_words(connect: McpFactory) -> None:
    body = await failed(connect, "pve_create_user", {"userid": "alice@pve", "confirm": True})
    assert "already exists" in body["message"]


async def test_updating_a_user_changes_only_what_is_named(connect: McpFactory, sim: Simulator) -> None:
    before = sim.state.users["bob@pve"]
    await call(
        connect,
        "pve_update_user",
        {"userid": "bob@pve", "email": "robert@example.com", "groups": "admins", "append": True, "confirm": True},
    )
    assert before.email == "robert@example.com" and before.firstname == "Bob"
    assert sim.state.access.groups_of("bob@pve") == ["admins", "operators"]
    await call(connect, "pve_update_user", {"userid": "bob@pve", "groups": "auditors", "confirm": True})
    assert sim.state.access.groups_of("bob@pve") == ["auditors"]
    await call(connect, "pve_update_user", {"userid": "bob@pve", "enable": False, "confirm": True})
    assert sim.state.users["bob@pve"].enable == 0


async def test_an_update_that_changes_nothing_is_refused(connect: McpFactory, sim: Simulator) -> None:
    body = await failed(connect, "pve_update_user", {"userid": "bob@pve", "confirm": True})
    assert body["code"] == "TOOL_INPUT_REJECTED"
    assert all(r.method == "GET" for r in sim.requests)


async def test_deleting_a_user_removes_its_tokens_groups_and_acls(connect: McpFactory, sim: Simulator) -> None:
    await call(connect, "pve_delete_user", {"userid": "alice@pve", "confirm": True})
    state = sim.state
    assert "alice@pve" not in state.users and "alice@pve!automation" not in state.tokens
    assert "alice@pve" not in state.access.groups["admins"].members
    assert not [a for a in state.acls if a.ugid.startswith("alice@pve")]


async def test_a_new_api_token_returns_its_secret_once_and_works(
    connect: McpFactory, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = await call(
        connect,
        "pve_create_api_token",
        {"userid": "bob@pve", "tokenid": "deploy", "comment": "Release job", "confirm": True},
    )
    assert body["full-tokenid"] == "bob@pve!deploy"
    assert body["info"]["privsep"] == 1
    secret = body["value"]
    assert sim.check_authorization(f"PVEAPIToken=bob@pve!deploy={secret}")
    assert secret not in caplog.text
    listed = (await call(connect, "pve_list_api_tokens", {"userid": "bob@pve"}))["items"]
    assert listed == [{"tokenid": "deploy", "expire": 0, "privsep": 1, "comment": "Release job"}]


async def test_tokens_of_one_name_get_different_secrets(connect: McpFactory, sim: Simulator) -> None:
    args = {"userid": "bob@pve", "tokenid": "ci", "privsep": False, "confirm": True}
    first = (await call(connect, "pve_create_api_token", args))["value"]
    await call(connect, "pve_delete_api_token", {"userid": "bob@pve", "tokenid": "ci", "confirm": True})
    second = (await call(connect, "pve_create_api_token", args))["value"]
    assert first != second and sim.state.tokens["bob@pve!ci"].privsep == 0


async def test_deleting_a_token_revokes_it_and_its_acls(connect: McpFactory, sim: Simulator) -> None:
    secret = sim.state.tokens["carol@pve!grafana"].secret
    await call(connect, "pve_delete_api_token", {"userid": "carol@pve", "tokenid": "grafana", "confirm": True})
    assert not sim.check_authorization(f"PVEAPIToken=carol@pve!grafana={secret}")
    assert not [a for a in sim.state.acls if a.ugid == "carol@pve!grafana"]


async def test_acls_are_granted_to_tokens_and_revoked(connect: McpFactory, sim: Simulator) -> None:
    grant = {"path": "/vms/101", "roles": "PVEVMUser", "tokens": "alice@pve!automation", "confirm": True}
    await call(connect, "pve_update_acl", {**grant, "propagate": False})
    entry = next(a for a in sim.state.acls if a.path == "/vms/101")
    assert (entry.ugid, entry.type, entry.roleid, entry.propagate) == ("alice@pve!automation", "token", "PVEVMUser", 0)
    await call(connect, "pve_update_acl", {**grant, "delete": True})
    assert not [a for a in sim.state.acls if a.path == "/vms/101"]


async def test_acls_for_users_and_groups_change_effective_permissions(connect: McpFactory, sim: Simulator) -> None:
    args = {"path": "/storage/nfs-backup", "roles": "PVEDatastoreAdmin", "users": "dave@pve", "confirm": True}
    await call(connect, "pve_update_acl", args)
    body = await call(connect, "pve_get_permissions", {"userid": "dave@pve", "path": "/storage/nfs-backup"})
    assert "Datastore.Allocate" in body["/storage/nfs-backup"]
    await call(connect, "pve_update_acl", {"path": "/", "roles": "NoAccess", "groups": "auditors", "confirm": True})
    body = await call(connect, "pve_get_permissions", {"userid": "carol@pve"})
    assert "/" not in body


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"path": "/vms/101", "roles": "PVEVMUser", "users": "nobody@pve"}, "does not exist"),
        ({"path": "/vms/101", "roles": "NoSuchRole", "groups": "admins"}, "role 'NoSuchRole' does not exist"),
        ({"path": "/not/a/path", "roles": "PVEVMUser", "groups": "admins"}, "invalid ACL path"),
    ],
)
async def test_bad_acl_changes_are_refused_in_proxmox_words(
    connect: McpFactory, sim: Simulator, args: dict[str, Any], words: str
) -> None:
    before = list(sim.state.acls)
    body = await failed(connect, "pve_update_acl", {**args, "confirm": True})
    assert words in body["message"]
    assert sim.state.acls == before


async def test_an_acl_change_names_a_subject(connect: McpFactory, sim: Simulator) -> None:
    body = await failed(connect, "pve_update_acl", {"path": "/", "roles": "PVEAuditor", "confirm": True})
    assert body["code"] == "TOOL_INPUT_REJECTED" and "tokens" in body["message"]


WRITES = [
    ("pve_create_user", {"userid": "frank@pve"}),
    ("pve_update_user", {"userid": "bob@pve", "enable": False}),
    ("pve_delete_user", {"userid": "bob@pve"}),
    ("pve_update_acl", {"path": "/", "roles": "Administrator", "users": "bob@pve"}),
    ("pve_create_api_token", {"userid": "bob@pve", "tokenid": "x"}),
    ("pve_delete_api_token", {"userid": "alice@pve", "tokenid": "automation"}),
]


@pytest.mark.parametrize(("tool", "args"), WRITES, ids=[w[0] for w in WRITES])
async def test_access_writes_without_confirm_change_nothing(
    connect: McpFactory, sim: Simulator, tool: str, args: dict[str, Any]
) -> None:
    users, tokens, acls = dict(sim.state.users), dict(sim.state.tokens), list(sim.state.acls)
    body = await failed(connect, tool, args)
    assert body["code"] == "CONFIRMATION_REQUIRED"
    assert not sim.requests
    assert (sim.state.users, sim.state.tokens, sim.state.acls) == (users, tokens, acls)
    assert sim.state.users["bob@pve"].enable == 1
