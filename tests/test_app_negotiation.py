"""The cluster app (MCP Apps, io.modelcontextprotocol/ui): offered only to clients that declare it, and
its data tool answers within the caller's tier and scope, read from the simulator.

A client without the extension sees exactly what it saw before: no `_meta.ui`, no app tool, no ui://
resource. A client with it sees the health check linked to the app, the app's data tool for the app
alone, and the app itself: one self-contained HTML file whose declared CSP allows no origin.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise

from pvemcp.catalog.spec import Module, Tier
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.app import build_server
from pvemcp.server.apps import APP_TOOL, APP_URI, EXTENSION, MIME, app_html
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvemcp.server.scope import Scope
from pvesim import Simulator
from tests.conftest import payload

pytestmark = pytest.mark.anyio

APPS = advertise(EXTENSION, {"mimeTypes": [MIME]})
CONSOLIDATED = Policy(tier=Tier.READ_ONLY, mode="consolidated")


@asynccontextmanager
async def connected(
    pve: ProxmoxClient,
    sim: Simulator,
    era: str,
    policy: Policy = CONSOLIDATED,
    *,
    apps: bool = True,
    scope: Scope | None = None,
) -> AsyncIterator[Client]:
    runtime = Runtime(pve, Inventory(policy), clock=sim.wait_clock(), scope=scope or Scope())
    async with Client(build_server(runtime), mode=era, extensions=[APPS] if apps else None) as client:
        yield client


def ui_of(tool: Any) -> dict[str, Any] | None:
    ui = (tool.meta or {}).get("ui")
    return ui if isinstance(ui, dict) else None


async def test_a_client_without_the_extension_sees_no_app(pve: ProxmoxClient, sim: Simulator, era: str) -> None:
    async with connected(pve, sim, era, apps=False) as plain, connected(pve, sim, era) as apps:
        before = (await plain.list_tools()).tools
        linked = (await apps.list_tools()).tools
        plain_resources = [r.uri for r in (await plain.list_resources()).resources]
        app_resources = [r.uri for r in (await apps.list_resources()).resources]
        plain_health = await plain.call_tool("pve_health", {})
        app_health = await apps.call_tool("pve_health", {})
    assert all(ui_of(t) is None for t in before)
    assert APP_TOOL not in {t.name for t in before}
    assert APP_URI not in plain_resources
    assert app_resources[0] == APP_URI
    assert [t.name for t in linked] == [t.name for t in before] + [APP_TOOL]
    # the linked tool answers exactly as before: the app accompanies the result, it does not replace it
    assert plain_health.content == app_health.content
    assert plain_health.structured_content == app_health.structured_content


async def test_health_names_the_app_and_its_data_tool_is_for_the_app_alone(
    pve: ProxmoxClient, sim: Simulator, era: str
) -> None:
    async with connected(pve, sim, era) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert ui_of(tools["pve_health"]) == {"resourceUri": APP_URI}
    assert ui_of(tools[APP_TOOL]) == {"resourceUri": APP_URI, "visibility": ["app"]}
    linked = {name for name, tool in tools.items() if ui_of(tool) is not None}
    assert linked == {"pve_health", APP_TOOL}


async def test_the_catalog_mode_links_the_inventory(pve: ProxmoxClient, sim: Simulator) -> None:
    async with connected(pve, sim, "legacy", Policy(tier=Tier.READ_ONLY)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert ui_of(tools["pve_list_cluster_resources"]) == {"resourceUri": APP_URI}
    assert ui_of(tools[APP_TOOL]) == {"resourceUri": APP_URI, "visibility": ["app"]}


async def test_the_extension_needs_the_html_app_type(pve: ProxmoxClient, sim: Simulator) -> None:
    other = advertise(EXTENSION, {"mimeTypes": ["text/uri-list"]})
    runtime = Runtime(pve, Inventory(CONSOLIDATED), clock=sim.wait_clock())
    async with Client(build_server(runtime), extensions=[other]) as client:
        tools = (await client.list_tools()).tools
    assert all(ui_of(t) is None for t in tools)


async def test_the_app_is_one_html_file_that_reaches_no_origin(pve: ProxmoxClient, sim: Simulator, era: str) -> None:
    async with connected(pve, sim, era) as client:
        listed = next(r for r in (await client.list_resources()).resources if r.uri == APP_URI)
        read = await client.read_resource(APP_URI)
    assert listed.mime_type == MIME
    [content] = read.contents
    assert content.mime_type == MIME
    text = getattr(content, "text", "")
    assert text == app_html()
    assert text.lstrip().lower().startswith("<!doctype html>")
    csp = (content.meta or {})["ui"]["csp"]
    assert csp == {"connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []}
    # nothing that would load from elsewhere: no src/href to a URL, no url() or @import of one
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text, re.IGNORECASE)
    assert not re.search(r"""(?:url\(|@import)\s*["']?(?:https?:)?//""", text, re.IGNORECASE)
    assert "fetch(" not in text and "XMLHttpRequest" not in text and "WebSocket" not in text


async def test_the_view_shows_every_node_and_guest_with_sparklines(pve: ProxmoxClient, sim: Simulator) -> None:
    async with connected(pve, sim, "legacy") as client:
        view = payload(await client.call_tool(APP_TOOL, {}))
    state = sim.state
    assert {n["node"] for n in view["nodes"]} == set(state.nodes)
    assert {g["vmid"] for g in view["guests"]} == set(state.guests)
    for guest in view["guests"]:
        record = state.guests[guest["vmid"]]
        assert (guest["node"], guest["status"], guest["name"]) == (record.node, record.status, record.name)
        drawn = guest["status"] == "running" and not guest["template"]
        assert bool(guest["spark"]) == drawn, guest
        assert all(v is None or 0 <= v <= 100 * guest["cores"] for v in guest["spark"])
    assert view["tier"] == "read-only"
    assert view["status"] in ("ok", "warning", "critical")


@pytest.mark.parametrize(
    ("tier", "allowed"),
    [
        (Tier.READ_ONLY, set()),
        (Tier.READ_EXECUTE, {"start", "shutdown", "reboot", "stop", "migrate"}),
        (Tier.FULL, {"start", "shutdown", "reboot", "stop", "migrate", "snapshot"}),
    ],
)
async def test_actions_say_what_the_tier_allows_and_which_tool_to_call(
    pve: ProxmoxClient, sim: Simulator, tier: Tier, allowed: set[str]
) -> None:
    policy = Policy(tier=tier, module=Module.ADVANCED, mode="consolidated")
    async with connected(pve, sim, "legacy", policy) as client:
        view = payload(await client.call_tool(APP_TOOL, {}))
        listed = {t.name for t in (await client.list_tools()).tools}
    actions = {a["id"]: a for a in view["actions"]}
    assert {name for name, a in actions.items() if a["allowed"]} == allowed
    start = {"tool": "pve_guest_power", "arguments": {"action": "start", "vmid": "$vmid"}}
    assert actions["start"]["calls"]["qemu"] == start
    assert actions["migrate"]["calls"]["lxc"]["running"] == {"restart": True}
    for action in actions.values():
        for call in action["calls"].values():
            assert (call["tool"] in listed) == action["allowed"], (action["id"], call["tool"])


async def test_the_view_keeps_to_the_scope_and_reads_no_other_guest(pve: ProxmoxClient, sim: Simulator) -> None:
    scope = Scope(nodes=frozenset({"pve2"}))
    since = len(sim.requests)
    async with connected(pve, sim, "legacy", scope=scope) as client:
        view = payload(await client.call_tool(APP_TOOL, {}))
    assert {n["node"] for n in view["nodes"]} == {"pve2"}
    on_pve2 = {vmid for vmid, guest in sim.state.guests.items() if guest.node == "pve2"}
    assert {g["vmid"] for g in view["guests"]} == on_pve2
    sent = sim.requests[since:]
    assert any(r.path.endswith("/rrddata") for r in sent), "the sparklines were read"
    guest_reads = [r.path for r in sent if re.search(r"/(?:qemu|lxc)/\d+", r.path)]
    assert all(path.startswith("/nodes/pve2/") for path in guest_reads), guest_reads
    assert all(r.method == "GET" for r in sent)
