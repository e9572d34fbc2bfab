"""The raw API under a scope, case by case: values are what the wire sends, writes follow an allow-list, reads
keep the tier of the tool that covers them, and the confirmation form shows what a raw call will do.

Scope as an operator would set it: PVE_ALLOWED_VMIDS=100-103 with VM 103 tagged protected, full tier,
confirm=true. Each refusal must come before anything is sent, and leave the cluster as it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext

from pvemcp.catalog.spec import Module, Tier
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.access import Grant
from pvemcp.server.app import build_server
from pvemcp.server.confirm import ConfirmMode
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvemcp.server.scope import Scope
from pvesim import Simulator
from tests.conftest import FULL, mcp_client, payload

pytestmark = pytest.mark.anyio

TAG = "pvemcp-protected"
SCOPE = Scope(vmids=((100, 103),), protected_tag=TAG)
BACKUP_OF_100 = "nfs-backup:backup/vzdump-qemu-100-2025_11_24-01_00_02.vma.zst"


def protect_103(sim: Simulator) -> None:
    sim.state.guests[103].config["tags"] = f"db;prod;{TAG}"


def writes(sim: Simulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.requests if r.method != "GET"]


async def call_raw(client: Client, path: str, params: dict[str, Any], method: str = "POST") -> dict[str, Any]:
    result = await client.call_tool("pve_api_call", {"method": method, "path": path, "params": params, "confirm": True})
    body = payload(result)
    assert result.is_error, body
    return body


# Values that are not what the wire sends: each was a way past the guard (106.0 is sent as 106, ["1"] as 1).
SHAPES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("restore-float", "/nodes/pve1/qemu", {"vmid": 103.0, "archive": BACKUP_OF_100, "force": 1}),
    ("clone-float", "/nodes/pve1/qemu/100/clone", {"newid": 150.0}),
    ("migrate-list", "/nodes/pve1/qemu/100/migrate", {"target": ["pve2"]}),
    ("ha-float", "/cluster/ha/resources", {"sid": 106.0}),
    ("vzdump-float", "/nodes/pve1/vzdump", {"vmid": 106.0}),
    ("vzdump-all-list", "/nodes/pve1/vzdump", {"all": [True]}),
    ("object", "/nodes/pve1/vzdump", {"vmid": {"id": 106}}),
    ("nan", "/nodes/pve1/qemu/100/config", {"balloon": float("nan")}),
    ("infinity", "/nodes/pve1/qemu/100/config", {"balloon": float("inf")}),
    ("arabic-digits", "/nodes/pve1/vzdump", {"vmid": "١٠٦"}),
    ("fullwidth-digits", "/nodes/pve1/qemu/100/clone", {"newid": "１５０"}),
)


@pytest.mark.parametrize(("case", "path", "params"), SHAPES, ids=[c[0] for c in SHAPES])
async def test_values_that_are_not_plain_are_refused_before_anything_is_sent(
    sim: Simulator, pve: ProxmoxClient, era: str, case: str, path: str, params: dict[str, Any]
) -> None:
    protect_103(sim)
    before = repr(sim.state)
    async with mcp_client(pve, sim, era, scope=SCOPE) as client:
        body = await call_raw(client, path, params)
    assert body["code"] == "TOOL_INPUT_REJECTED", body
    assert "params." in body["message"] and body["hint"]
    assert writes(sim) == []
    sim.clock.advance(120)
    assert repr(sim.state) == before


async def test_the_same_restore_with_an_integer_is_refused_for_the_protected_guest(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    protect_103(sim)
    async with mcp_client(pve, sim, era, scope=SCOPE) as client:
        body = await call_raw(client, "/nodes/pve1/qemu", {"vmid": 103, "archive": BACKUP_OF_100, "force": 1})
    assert body["code"] == "PROTECTED_GUEST" and "db-02" in body["message"]
    assert writes(sim) == [] and sim.state.guests[103].name == "db-02"


@asynccontextmanager
async def token_client(pve: ProxmoxClient, sim: Simulator, era: str, grant: Grant) -> AsyncIterator[Client]:
    """The server as an HTTP caller with a bearer token sees it: its own grant narrows the scope."""
    runtime = Runtime(pve, Inventory(FULL), clock=sim.wait_clock(), scope=Scope(protected_tag=TAG))
    server = build_server(runtime, identify=lambda ctx: grant)
    async with Client(server, mode=era) as client:
        yield client


@pytest.mark.parametrize(("case", "path", "params"), SHAPES[:6], ids=[c[0] for c in SHAPES[:6]])
async def test_a_token_limited_to_two_guests_cannot_reach_past_them_either(
    sim: Simulator, pve: ProxmoxClient, era: str, case: str, path: str, params: dict[str, Any]
) -> None:
    grant = Grant("ops-token", vmids=((100, 101),))
    async with token_client(pve, sim, era, grant) as client:
        body = await call_raw(client, path, params)
        in_scope = await client.call_tool(
            "pve_api_call", {"method": "POST", "path": "/nodes/pve2/qemu/101/status/stop", "confirm": True}
        )
    assert body["code"] == "TOOL_INPUT_REJECTED"
    assert not in_scope.is_error, payload(in_scope)
    assert writes(sim) == ["POST /nodes/pve2/qemu/101/status/stop"]


# What the deny-list let through: each now answers from the table, before anything is sent.
REACH: tuple[tuple[str, str, str, dict[str, Any], str], ...] = (
    ("vzdump-pool", "POST", "/nodes/pve1/vzdump", {"pool": "production"}, "OUT_OF_SCOPE"),
    ("backup-job-pool", "POST", "/cluster/backup", {"pool": "production", "schedule": "01:00"}, "OUT_OF_SCOPE"),
    ("stopall-without-vms", "POST", "/nodes/pve1/stopall", {}, "OUT_OF_SCOPE"),
    ("migrateall-without-vms", "POST", "/nodes/pve1/migrateall", {"target": "pve2"}, "OUT_OF_SCOPE"),
    ("stopall-out-of-scope", "POST", "/nodes/pve1/stopall", {"vms": "100,106"}, "OUT_OF_SCOPE"),
    ("move-disk-into-protected", "POST", "/nodes/pve1/qemu/100/move_disk",
     {"disk": "scsi0", "target-vmid": 103, "target-disk": "scsi1"}, "PROTECTED_GUEST"),
    ("prune-without-vmid", "DELETE", "/nodes/pve1/storage/nfs-backup/prunebackups", {}, "OUT_OF_SCOPE"),
    ("node-shell", "POST", "/nodes/pve1/termproxy", {}, "OUT_OF_SCOPE"),
    ("batch", "POST", "/nodes/pve1/execute", {"commands": "[]"}, "OUT_OF_SCOPE"),
    ("remote-migrate", "POST", "/nodes/pve1/qemu/100/remote_migrate", {"target-endpoint": "x"}, "OUT_OF_SCOPE"),
    ("unmodelled", "POST", "/cluster/config/join", {"hostname": "pve9"}, "OUT_OF_SCOPE"),
    ("ha-rule-delete", "DELETE", "/cluster/ha/rules/keep-apart", {}, "OUT_OF_SCOPE"),
    ("node-reboot", "POST", "/nodes/pve1/status", {"command": "reboot"}, "OUT_OF_SCOPE"),
)  # fmt: skip


@pytest.mark.parametrize(("case", "method", "path", "params", "code"), REACH, ids=[c[0] for c in REACH])
async def test_writes_reach_only_what_the_table_models(
    sim: Simulator, pve: ProxmoxClient, era: str, case: str, method: str, path: str, params: dict[str, Any], code: str
) -> None:
    protect_103(sim)
    before = repr(sim.state)
    async with mcp_client(pve, sim, era, scope=SCOPE) as client:
        body = await call_raw(client, path, params, method)
        preview = await client.call_tool(
            "pve_preview", {"tool": "pve_api_call", "arguments": {"method": method, "path": path, "params": params}}
        )
    assert body["code"] == code, body
    assert body["hint"]
    assert payload(preview)["verdict"]["allowed"] is False
    assert writes(sim) == []
    sim.clock.advance(120)
    assert repr(sim.state) == before


async def test_an_unmodelled_write_names_the_catalog_tool_or_the_unscoped_server(
    sim: Simulator, pve: ProxmoxClient
) -> None:
    async with mcp_client(pve, sim, scope=SCOPE) as client:
        join = await call_raw(client, "/cluster/config/join", {"hostname": "pve9"})
        shell = await call_raw(client, "/nodes/pve1/termproxy", {})
    assert "PVE_ALLOWED_VMIDS" in join["hint"] and "PVE_PROTECTED_TAG" in join["hint"]
    assert "root shell" in shell["message"]


async def test_without_any_scope_an_unmodelled_write_is_sent_and_proxmox_answers(
    sim: Simulator, pve: ProxmoxClient
) -> None:
    async with mcp_client(pve, sim, scope=Scope(protected_tag=None)) as client:
        body = await call_raw(client, "/cluster/config/join", {"hostname": "pve9"})
    assert body["code"] == "PROXMOX_REQUEST_REJECTED"  # the simulator has no such endpoint: 501
    assert writes(sim) == ["POST /cluster/config/join"]


async def test_another_guests_replication_job_is_neither_run_nor_read(sim: Simulator, pve: ProxmoxClient) -> None:
    scope = Scope(vmids=((101, 103),), protected_tag=TAG)  # job 100-0 belongs to a guest outside
    async with mcp_client(pve, sim, scope=scope) as client:
        run = await call_raw(client, "/nodes/pve1/replication/100-0/schedule_now", {})
        answers = []
        for leaf in ("status", "log"):
            result = await client.call_tool("pve_api_get", {"path": f"/nodes/pve1/replication/100-0/{leaf}"})
            answers.append(payload(result))
        catalog = await client.call_tool("pve_get_replication_job", {"id": "100-0"})
    assert run["code"] == "OUT_OF_SCOPE"
    assert [a["code"] for a in answers] == ["GUEST_NOT_FOUND", "GUEST_NOT_FOUND"]
    assert payload(catalog)["code"] == "GUEST_NOT_FOUND"
    assert not [r for r in sim.requests if "replication/100-0" in r.path]


# A raw read keeps the tier of the catalog tool that covers it; other guest-agent paths need read-execute.
AGENT_READS: tuple[tuple[str, dict[str, Any], Tier], ...] = (
    ("/nodes/pve1/qemu/100/agent/file-read", {"file": "/etc/hosts"}, Tier.READ_EXECUTE),
    ("/nodes/pve1/qemu/100/agent/exec-status", {"pid": 1}, Tier.FULL),
    ("/nodes/pve1/qemu/100/agent/get-vcpus", {}, Tier.READ_EXECUTE),
)


@pytest.mark.parametrize(("path", "params", "tier"), AGENT_READS, ids=["file-read", "exec-status", "get-vcpus"])
async def test_raw_reads_inside_a_guest_need_the_tier_of_the_tool_that_covers_them(
    sim: Simulator, pve: ProxmoxClient, path: str, params: dict[str, Any], tier: Tier
) -> None:
    for below in (t for t in Tier if t < tier):
        async with mcp_client(pve, sim, policy=Policy(tier=below, module=Module.ADVANCED)) as client:
            refused = await client.call_tool("pve_api_get", {"path": path, "params": params})
        body = payload(refused)
        assert refused.is_error and body["code"] == "TOOL_INPUT_REJECTED" and tier.label in body["message"]
    assert not [r for r in sim.requests if "/agent/" in r.path]
    executor = Policy(tier=tier, module=Module.ADVANCED)
    async with mcp_client(pve, sim, policy=executor) as client:
        allowed = await client.call_tool("pve_api_get", {"path": path, "params": params})
    assert [r.path for r in sim.requests if "/agent/" in r.path] == [path]
    assert "TOOL_INPUT_REJECTED" not in str(payload(allowed))


def test_the_get_tool_says_which_families_need_a_higher_tier() -> None:
    from pvemcp.catalog import BY_NAME

    assert "guest-agent" in BY_NAME["pve_api_get"].description
    assert "file-restore" in BY_NAME["pve_api_get"].description


async def test_the_confirmation_form_shows_the_raw_parameters_without_secrets(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    asked: list[str] = []

    async def person(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        asked.append(params.message)
        return types.ElicitResult(action="decline")

    async with mcp_client(pve, sim, era, person=person, confirm_mode=ConfirmMode.ELICIT, scope=SCOPE) as client:
        args = {"method": "POST", "path": "/nodes/pve1/qemu/100/status/stop", "params": {"timeout": 30}}
        await client.call_tool("pve_api_call", args)
        args = {"method": "PUT", "path": "/access/password", "params": {"userid": "ops@pve", "password": "hunter2!"}}
        await client.call_tool("pve_api_call", args)
    assert "timeout=30" in asked[0] and "path=/nodes/pve1/qemu/100/status/stop" in asked[0]
    assert "userid=ops@pve" in asked[1] and "hunter2" not in asked[1] and "password=***" in asked[1]
    assert writes(sim) == []
