"""The sandbox says no as Proxmox does, and pvemcp passes the refusal on: end to end, with a read-only token.

An MCP client → our server → our Proxmox client → the simulator, which checks each request against its
ACLs; `pvemcp bootstrap --apply` against the simulator served over HTTPS, run with a read-only token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import anyio
import httpx2
import pytest
from click.testing import CliRunner

from pvemcp.catalog.spec import Module, Tier
from pvemcp.cli.main import cli
from pvemcp.compose import make_client
from pvemcp.config import load_config
from pvemcp.pve.client import ApiToken, ProxmoxClient
from pvemcp.pve.errors import API_HINTS, ErrorCode
from pvemcp.server.inventory import Policy
from pvesim import Simulator
from pvesim.state.records import Acl, Token, User
from tests.conftest import FAST_RETRY, mcp_client, payload
from tests.helpers import pick

READ_ONLY_SECRET = "0badc0de-0000-4000-8000-00000000a0d1"
READ_EXECUTE = Policy(tier=Tier.READ_EXECUTE, module=Module.ADVANCED)


@pytest.fixture
async def read_only(sim: Simulator) -> AsyncIterator[ProxmoxClient]:
    """Our client with a token whose user holds PVEAuditor on / (created in the simulator's state)."""
    sim.state.users["auditor@pve"] = User("auditor@pve")
    sim.state.tokens["auditor@pve!ro"] = Token("auditor@pve!ro", READ_ONLY_SECRET, privsep=0)
    sim.state.acls.append(Acl("/", "auditor@pve", "user", "PVEAuditor"))
    token = ApiToken("auditor", "pve", "ro", READ_ONLY_SECRET)
    transport = httpx2.ASGITransport(app=sim.app)
    client = ProxmoxClient("https://pve1.sim:8006", token, transport=transport, timeout=5.0, retry=FAST_RETRY)
    yield client
    await client.aclose()


@pytest.mark.anyio
async def test_a_start_with_a_read_only_token_is_refused_with_proxmoxs_words_and_changes_nothing(
    sim: Simulator, read_only: ProxmoxClient, era: str
) -> None:
    guest = pick(sim, "qemu", "stopped")
    since = len(sim.requests)
    async with mcp_client(read_only, sim, era, READ_EXECUTE) as client:
        result = await client.call_tool("pve_start_qemu_vm", {"vmid": guest.vmid})
        listed = await client.call_tool("pve_get_qemu_status", {"vmid": guest.vmid})
    assert result.is_error
    body = payload(result)
    assert body["code"] == ErrorCode.PROXMOX_ACL_FORBIDDEN.value
    assert f"Permission check failed (/vms/{guest.vmid}, VM.PowerMgmt)" in body["message"]
    assert body["hint"] == API_HINTS[ErrorCode.PROXMOX_ACL_FORBIDDEN]
    sim.settle()
    assert sim.state.guests[guest.vmid].status == "stopped"
    starts = [r for r in sim.requests[since:] if r.method == "POST" and r.path.endswith("/status/start")]
    assert len(starts) == 1  # asked once, refused: a 403 is not retried
    assert not listed.is_error  # what the token may do still works


async def _admin(env: dict[str, str], method: str, path: str, params: Mapping[str, object] | None = None) -> object:
    config = load_config(env)
    client = make_client(config)
    try:
        return await client.request(method, path, params or {})
    finally:
        await client.aclose()


@pytest.mark.usefixtures("no_config_file")
def test_bootstrap_apply_with_a_read_only_token_fails_with_proxmoxs_403(served_sim: dict[str, str]) -> None:
    admin = {**served_sim, "PVE_AUDIT_LOG": "off"}
    anyio.run(_admin, admin, "POST", "/access/users", {"userid": "auditor@pve"})
    anyio.run(_admin, admin, "PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "auditor@pve"})
    created = anyio.run(_admin, admin, "POST", "/access/users/auditor@pve/token/ro", {"privsep": 0})
    assert isinstance(created, dict)
    read_only = {
        **admin,
        "PROXMOX_USER": "auditor",
        "PROXMOX_REALM": "pve",
        "PROXMOX_TOKEN_NAME": "ro",
        "PROXMOX_TOKEN_SECRET": str(created["value"]),
    }

    result = CliRunner().invoke(cli, ["bootstrap", "--tier", "read-only", "--apply"], env=read_only)
    assert result.exit_code != 0, result.output
    assert "Permission check failed (/access, Sys.Modify)" in result.output
    assert "Created role" not in result.output
    roles = anyio.run(_admin, admin, "GET", "/access/roles")
    users = anyio.run(_admin, admin, "GET", "/access/users")
    assert isinstance(roles, list) and isinstance(users, list)
    assert not [r for r in roles if str(r["roleid"]).startswith("pvemcp-")]
    assert "pvemcp@pve" not in {u["userid"] for u in users}
