"""Every request is checked as Proxmox checks it: the route's rule from the schema, on the cluster's ACLs.

A refusal is PVE's 403 "Permission check failed (<path>, <privilege>)" and changes nothing; open
listings show only what the caller may see; the default token stays an administrator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from pvesim import ManualClock, Simulator
from pvesim.facts.rules import UserAll, parse_rule
from pvesim.facts.table import RULES, USEFUL, rule_for
from pvesim.handlers import ALL_ROUTES
from pvesim.state.records import Acl, Token, User
from sim_support import API, BASE_URL, data, load_endpoints, schema_dir

pytestmark = pytest.mark.anyio
SECRET = "0badc0de-0000-4000-8000-000000000001"
START_103 = f"{API}/nodes/pve1/qemu/103/status/start"


def add_token(sim: Simulator, userid: str, acls: list[tuple[str, str, int]], *, privsep: int = 0) -> str:
    """A user (created if new) and a token; `acls` are (path, role, propagate) for the token if
    privilege-separated, else for the user. Returns the Authorization header value."""
    sim.state.users.setdefault(userid, User(userid))
    full_id = f"{userid}!t{len(sim.state.tokens)}"
    sim.state.tokens[full_id] = Token(full_id, SECRET, privsep=privsep)
    kind, ugid = ("token", full_id) if privsep else ("user", userid)
    sim.state.acls.extend(Acl(path, ugid, kind, role, propagate) for path, role, propagate in acls)
    return f"PVEAPIToken={full_id}={SECRET}"


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sim.app), base_url=BASE_URL) as c:
        yield c


def refused(response: httpx2.Response, what: str) -> None:
    assert response.status_code == 403, response.text
    body: dict[str, Any] = response.json()
    assert body == {"data": None, "message": f"Permission check failed ({what})\n"}


def test_every_route_the_simulator_serves_has_a_rule_that_parses() -> None:
    missing = sorted(f"{r.method} {r.path}" for r in ALL_ROUTES if (r.method, r.path) not in RULES)
    assert not missing, f"add these to facts/table.py from the schema's permissions: {missing}"
    for route in ALL_ROUTES:
        rule_for(route.method, route.path)
    for key, text in USEFUL.items():
        assert RULES[key] == "user=all", key
        parse_rule(text)


@pytest.mark.skipif(schema_dir() is None, reason="the PVE API schema (../shared/pve-api) is not present")
def test_the_table_states_each_rule_exactly_as_the_official_schema_does() -> None:
    folder = schema_dir()
    assert folder is not None
    schema = load_endpoints(folder)
    wrong = {key: (text, schema.get(key, {}).get("permissions")) for key, text in RULES.items()}
    assert {k: v for k, v in wrong.items() if v[0] != v[1]} == {}


async def test_a_read_only_token_is_refused_changes_and_the_state_stays_as_it_was(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    auditor = {"Authorization": add_token(sim, "ro@pve", [("/", "PVEAuditor", 1)])}
    roles, acls = dict(sim.state.roles), list(sim.state.acls)

    refused(await http.post(f"{API}/access/roles", data={"roleid": "x", "privs": "VM.Audit"}, headers=auditor),
            "/access, Sys.Modify")  # fmt: skip
    grant = {"path": "/", "roles": "Administrator", "users": "ro@pve"}
    refused(await http.put(f"{API}/access/acl", data=grant, headers=auditor), "/, Permissions.Modify")
    refused(await http.post(START_103, headers=auditor), "/vms/103, VM.PowerMgmt")
    assert isinstance(sim.clock, ManualClock)
    sim.clock.advance(60)
    assert sim.state.guests[103].status == "stopped"
    assert sim.state.roles == roles and sim.state.acls == acls
    # what it may do, it does: reading the guest it may not start
    assert data(await http.get(f"{API}/nodes/pve1/qemu/103/status/current", headers=auditor))["status"] == "stopped"


async def test_an_administrator_may_do_the_same(sim: Simulator, http: httpx2.AsyncClient) -> None:
    admin = {"Authorization": add_token(sim, "boss@pve", [("/", "Administrator", 1)])}
    data(await http.post(f"{API}/access/roles", data={"roleid": "x", "privs": "VM.Audit"}, headers=admin))
    data(
        await http.put(f"{API}/access/acl", data={"path": "/vms/103", "roles": "x", "users": "boss@pve"}, headers=admin)
    )
    data(await http.post(START_103, headers=admin))
    assert sim.state.roles["x"] == ("VM.Audit",)
    default = {"Authorization": sim.authorization}  # the sandbox's own token: root's, unseparated
    data(await http.post(f"{API}/nodes/pve2/qemu/107/status/start", headers=default))


async def test_a_separated_token_holds_only_what_both_it_and_its_user_hold(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    add_token(sim, "ops@pve", [("/vms", "PVEVMUser", 1)])  # the user may power guests on
    narrow = {"Authorization": add_token(sim, "ops@pve", [("/", "PVEAuditor", 1)], privsep=1)}
    refused(await http.post(START_103, headers=narrow), "/vms/103, VM.PowerMgmt")
    wide = {"Authorization": add_token(sim, "ops@pve", [("/", "Administrator", 1)], privsep=1)}
    refused(await http.post(f"{API}/access/roles", data={"roleid": "y", "privs": "VM.Audit"}, headers=wide),
            "/access, Sys.Modify")  # fmt: skip
    data(await http.post(START_103, headers=wide))  # the user has VM.PowerMgmt on /vms, the token on /


async def test_an_acl_that_does_not_propagate_holds_only_on_its_own_path(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    here_only = {"Authorization": add_token(sim, "lo@pve", [("/vms", "PVEVMUser", 0)])}
    refused(await http.post(START_103, headers=here_only), "/vms/103, VM.PowerMgmt")
    sim.state.acls.append(Acl("/vms/103", "lo@pve", "user", "PVEVMUser", 0))
    data(await http.post(START_103, headers=here_only))


async def test_a_pool_acl_lends_its_guests_vm_audit_and_listings_show_only_those(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    pooled = {"Authorization": add_token(sim, "pool@pve", [("/pool/production", "PVEAuditor", 1)])}
    assert sim.state.guests[100].pool == "production" and sim.state.guests[106].pool is None
    data(await http.get(f"{API}/nodes/pve1/qemu/100/status/current", headers=pooled))
    refused(await http.get(f"{API}/nodes/pve1/qemu/106/status/current", headers=pooled), "/vms/106, VM.Audit")
    listed = {g["vmid"] for g in data(await http.get(f"{API}/nodes/pve1/qemu", headers=pooled))}
    assert listed == {g.vmid for g in sim.state.guests.values() if g.node == "pve1" and g.type == "qemu" and g.pool}
    resources = data(await http.get(f"{API}/cluster/resources", params={"type": "vm"}, headers=pooled))
    assert {r["vmid"] for r in resources} == {g.vmid for g in sim.state.guests.values() if g.pool == "production"}
    everyone = data(await http.get(f"{API}/cluster/resources", params={"type": "vm"}, headers={
        "Authorization": sim.authorization}))  # fmt: skip
    assert len(everyone) == len(sim.state.guests)


async def test_user_rules_follow_the_caller_and_the_groups_it_may_manage(
    sim: Simulator, http: httpx2.AsyncClient
) -> None:
    operator = {"Authorization": add_token(sim, "op@pve", [("/vms", "PVEVMUser", 1)])}
    refused(await http.post(f"{API}/access/users", data={"userid": "eve@pve"}, headers=operator),
            "/access/realm/pve, Realm.AllocateUser")  # fmt: skip
    assert "eve@pve" not in sim.state.users
    assert isinstance(rule_for("GET", "/access/users"), UserAll)  # open, but filtered:
    users = data(await http.get(f"{API}/access/users", headers=operator))
    assert [u["userid"] for u in users] == ["op@pve"]  # without User.Modify or Sys.Audit on groups: itself
    auditor = {"Authorization": add_token(sim, "ro@pve", [("/", "PVEAuditor", 1)])}
    assert len(data(await http.get(f"{API}/access/users", headers=auditor))) == len(sim.state.users)
