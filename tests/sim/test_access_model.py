"""The simulator's access model: custom roles, ACL propagation, privilege separation, per-token identity."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx2
import pytest

from pvemcp.pve.client import ApiToken, ProxmoxClient
from pvemcp.pve.errors import PveMcpError
from pvesim import Simulator
from tests.conftest import FAST_RETRY, client_for

pytestmark = pytest.mark.anyio
As = Callable[[str, str], AbstractAsyncContextManager[ProxmoxClient]]


@pytest.fixture
async def admin(sim: Simulator) -> AsyncIterator[ProxmoxClient]:
    client = client_for(sim)
    yield client
    await client.aclose()


@pytest.fixture
def as_token(sim: Simulator) -> As:
    """A client acting as another token of the same simulated cluster."""

    @asynccontextmanager
    async def connect(token_id: str, secret: str) -> AsyncIterator[ProxmoxClient]:
        user_realm, name = token_id.split("!", 1)
        user, realm = user_realm.rsplit("@", 1)
        token = ApiToken(user, realm, name, secret)
        transport = httpx2.ASGITransport(app=sim.app)
        client = ProxmoxClient("https://pve1.sim:8006", token, transport=transport, retry=FAST_RETRY)
        try:
            yield client
        finally:
            await client.aclose()

    return connect


async def new_token(admin: ProxmoxClient, userid: str, name: str, privsep: int = 1) -> str:
    users = await admin.get("/access/users")
    if not any(u["userid"] == userid for u in users):
        await admin.post("/access/users", {"userid": userid})
    created: dict[str, Any] = await admin.post(f"/access/users/{userid}/token/{name}", {"privsep": privsep})
    return str(created["value"])


async def test_custom_roles_are_created_read_extended_and_deleted_with_their_acls(
    sim: Simulator, admin: ProxmoxClient
) -> None:
    await admin.post("/access/roles", {"roleid": "watcher", "privs": "VM.Audit,Sys.Audit"})
    assert await admin.get("/access/roles/watcher") == {"Sys.Audit": 1, "VM.Audit": 1}
    listed = {r["roleid"]: r for r in await admin.get("/access/roles")}
    assert listed["watcher"] == {"roleid": "watcher", "privs": "Sys.Audit,VM.Audit", "special": 0}

    await admin.request("PUT", "/access/roles/watcher", {"privs": "Datastore.Audit", "append": 1})
    assert list(sim.state.roles["watcher"]) == ["Datastore.Audit", "Sys.Audit", "VM.Audit"]
    await admin.request("PUT", "/access/roles/watcher", {"privs": "Pool.Audit"})
    assert list(sim.state.roles["watcher"]) == ["Pool.Audit"]

    await admin.request("PUT", "/access/acl", {"path": "/", "roles": "watcher", "users": "carol@pve"})
    await admin.request("DELETE", "/access/roles/watcher")
    assert "watcher" not in sim.state.roles
    assert not [a for a in sim.state.acls if a.roleid == "watcher"]


async def test_role_mistakes_answer_as_proxmox_does(admin: ProxmoxClient) -> None:
    with pytest.raises(PveMcpError, match="already exists"):
        await admin.post("/access/roles", {"roleid": "PVEAuditor"})
    with pytest.raises(PveMcpError, match=r"invalid privilege name 'VM\.Fly'"):
        await admin.post("/access/roles", {"roleid": "odd", "privs": "VM.Fly"})
    with pytest.raises(PveMcpError, match="built-in role"):
        await admin.request("PUT", "/access/roles/PVEAuditor", {"privs": "Sys.Modify"})
    with pytest.raises(PveMcpError, match="does not exist"):
        await admin.get("/access/roles/nobody")


async def test_each_request_acts_as_the_token_that_sent_it(admin: ProxmoxClient, as_token: As) -> None:
    secret = await new_token(admin, "mcp@pve", "assistant")
    async with as_token("mcp@pve!assistant", secret) as client:
        assert await client.get("/access/permissions") == {}  # no ACL yet: nothing at all
        # The request acts as mcp@pve!assistant, not as mcp@pve: `userid-param(self)` does not let a token read
        # its own user's token record (Proxmox compares the token ID with the userid).
        with pytest.raises(PveMcpError) as raised:
            await client.get("/access/users/mcp@pve/token/assistant")
        assert raised.value.status == 403 and "Permission check failed" in raised.value.message
    assert await admin.get("/access/users/mcp@pve/token/assistant") == {"privsep": 1, "expire": 0}


async def test_a_separated_token_holds_the_intersection_of_its_acls_and_its_users(
    admin: ProxmoxClient, as_token: As
) -> None:
    secret = await new_token(admin, "mcp@pve", "assistant")
    acl = {"path": "/vms", "roles": "PVEVMUser"}
    await admin.request("PUT", "/access/acl", {**acl, "tokens": "mcp@pve!assistant"})
    async with as_token("mcp@pve!assistant", secret) as client:
        assert await client.get("/access/permissions") == {}  # the user holds nothing: neither does the token
        await admin.request("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "mcp@pve"})
        perms = await client.get("/access/permissions")
    assert perms["/vms"] == {"VM.Audit": 1, "VM.GuestAgent.Audit": 1}  # PVEVMUser ∩ PVEAuditor
    assert "/" not in perms  # the token has no ACL of its own on /


async def test_a_token_without_separation_holds_what_its_user_holds(admin: ProxmoxClient, as_token: As) -> None:
    secret = await new_token(admin, "mcp@pve", "shared", privsep=0)
    await admin.request("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "mcp@pve"})
    async with as_token("mcp@pve!shared", secret) as client:
        perms = await client.get("/access/permissions")
    assert perms["/"]["Sys.Audit"] == 1 and perms["/vms"]["VM.Audit"] == 1


async def test_an_acl_that_does_not_propagate_holds_only_on_its_own_path(admin: ProxmoxClient, as_token: As) -> None:
    secret = await new_token(admin, "mcp@pve", "assistant", privsep=0)
    await admin.request(
        "PUT", "/access/acl", {"path": "/vms", "roles": "PVEVMUser", "users": "mcp@pve", "propagate": 0}
    )
    async with as_token("mcp@pve!assistant", secret) as client:
        assert (await client.get("/access/permissions"))["/vms"]["VM.PowerMgmt"] == 0
        assert await client.get("/access/permissions", {"path": "/vms/100"}) == {"/vms/100": {}}


async def test_reading_another_users_permissions_needs_sys_audit_on_access(admin: ProxmoxClient, as_token: As) -> None:
    secret = await new_token(admin, "mcp@pve", "assistant", privsep=0)
    async with as_token("mcp@pve!assistant", secret) as client:
        with pytest.raises(PveMcpError) as raised:
            await client.get("/access/permissions", {"userid": "alice@pve"})
        assert raised.value.status == 403
        assert "Permission check failed (/access, Sys.Audit)" in raised.value.message
        assert await client.get("/access/permissions", {"userid": "mcp@pve!assistant"}) == {}
    assert (await admin.get("/access/permissions", {"userid": "alice@pve"}))["/"]["Sys.Modify"] == 1


async def test_tokens_are_read_and_updated_and_a_regenerated_secret_replaces_the_old(
    sim: Simulator, admin: ProxmoxClient, as_token: As
) -> None:
    old = await new_token(admin, "mcp@pve", "assistant")
    changed = await admin.request(
        "PUT", "/access/users/mcp@pve/token/assistant", {"comment": "rotated", "regenerate": 1}
    )
    assert changed["full-tokenid"] == "mcp@pve!assistant" and changed["comment"] == "rotated"
    assert not sim.check_authorization(f"PVEAPIToken=mcp@pve!assistant={old}")
    async with as_token("mcp@pve!assistant", changed["value"]) as client:  # the new secret authenticates
        assert await client.get("/access/permissions") == {}
    user = await admin.get("/access/users/mcp@pve")
    assert user["tokens"] == {"assistant": {"privsep": 1, "expire": 0, "comment": "rotated"}}
