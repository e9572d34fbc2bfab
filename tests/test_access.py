"""A caller's grant only narrows the server's settings: tier ceiling and scope, in listing and calls alike."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from pvemcp.catalog.spec import Tier
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.access import Grant, narrowed_scope
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory
from pvemcp.server.scope import Scope
from pvesim import Simulator
from tests.conftest import FULL, payload

pytestmark = pytest.mark.anyio


def test_a_grant_narrows_the_scope_and_never_widens_it() -> None:
    server = Scope(frozenset({"pve1", "pve2"}), ((100, 199),), "keep")
    grant = Grant("ops", nodes=frozenset({"pve2", "pve3"}), vmids=((150, 300),))
    assert narrowed_scope(server, grant) == Scope(frozenset({"pve2"}), ((150, 199),), "keep")
    assert narrowed_scope(Scope(), grant) == Scope(frozenset({"pve2", "pve3"}), ((150, 300),))
    assert narrowed_scope(server, Grant("all")) == server
    disjoint = narrowed_scope(Scope(vmids=((100, 110),)), Grant("x", vmids=((200, 210),)))
    assert disjoint.vmids == () and not disjoint.allows_vmid(105) and not disjoint.allows_vmid(205)


async def test_views_are_built_once_per_distinct_grant(pve: ProxmoxClient) -> None:
    runtime = Runtime(pve, Inventory(FULL))
    reader = runtime.for_caller(Grant("a", Tier.READ_ONLY))
    assert runtime.for_caller(Grant("b", Tier.READ_ONLY)) is reader
    assert runtime.for_caller(None) is runtime
    assert runtime.for_caller(Grant("admin", Tier.FULL)).tools is runtime.tools  # same tools: same listing
    assert all(tool.annotations is not None and tool.annotations.read_only_hint for tool in reader.tools)
    assert reader.client is runtime.client and reader.locator is runtime.locator
    # A grant above the server's tier gets the server's tier, not more.
    capped = Runtime(pve, Inventory(FULL.__class__(tier=Tier.READ_ONLY))).for_caller(Grant("x", Tier.FULL))
    assert {t.name for t in capped.tools} <= {t.name for t in reader.tools}


async def test_each_caller_lists_and_calls_within_its_own_grant(sim: Simulator, pve: ProxmoxClient) -> None:
    callers = {"reader": Grant("reader", Tier.READ_ONLY), "ops": Grant("ops", Tier.FULL, vmids=((101, 101),))}
    who = {"name": "reader"}

    def identify(ctx: Any) -> Grant | None:
        return callers[who["name"]]

    runtime = Runtime(pve, Inventory(FULL), clock=sim.wait_clock())
    server = build_server(runtime, identify=identify)
    guest = sim.state.guests[101]
    guest.status = "stopped"
    async with Client(server, mode="legacy") as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        assert "pve_start_qemu_vm" not in listed and "pve_list_nodes" in listed
        with pytest.raises(MCPError, match="Unknown tool"):  # a tool above the grant does not exist for it
            await client.call_tool("pve_start_qemu_vm", {"vmid": 101})
        assert guest.status == "stopped"
        who["name"] = "ops"
        assert "pve_start_qemu_vm" in {t.name for t in (await client.list_tools(cache_mode="refresh")).tools}
        outside = await client.call_tool("pve_start_qemu_vm", {"vmid": 102, "wait_seconds": 0})
        assert outside.is_error and payload(outside)["code"] == "OUT_OF_SCOPE"
        started = await client.call_tool("pve_start_qemu_vm", {"vmid": 101})
        assert not started.is_error and guest.status == "running"
