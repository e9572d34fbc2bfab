"""Wiring pvemcp into the SDK's low-level `mcp.server.Server`, which serves both protocol eras."""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext

from pvemcp import __version__
from pvemcp.server.dispatch import Runtime, call_tool
from pvemcp.server.prompts import Prompts

INSTRUCTIONS = """\
pvemcp operates a Proxmox VE cluster through its API.
- Start with pve_list_cluster_resources: one call lists every guest, node and storage.
- Guest tools take vmid; node is optional and found from the vmid.
- Tools run within the configured access tier (read-only, read-execute or full); tools above it are absent.
- Destructive tools change nothing unless called with confirm=true. Ask the user first, naming the guest and \
the effect; never set confirm on your own initiative.
- Power and other long actions return a task UPID with its status; follow it with pve_get_task_status and \
read pve_get_task_log when it fails.
- Errors come back as {code, message, hint}: the message keeps Proxmox's own words; follow the hint."""


def build_server(runtime: Runtime) -> Server[Any]:
    """One Server for the process; listings are prebuilt, every call goes through `call_tool`."""

    async def on_list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=runtime.tools)

    async def on_call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        return await call_tool(runtime, params.name, params.arguments)

    prompts = Prompts(runtime.inventory)

    async def on_list_prompts(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=prompts.listing)

    async def on_get_prompt(
        ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        return prompts.get(params.name, params.arguments)

    offered = bool(prompts.recipes)  # no prompts capability at all when none is offered
    server: Server[Any] = Server(
        "pvemcp",
        version=__version__,
        title="Proxmox VE",
        instructions=INSTRUCTIONS,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
        on_list_prompts=on_list_prompts if offered else None,
        on_get_prompt=on_get_prompt if offered else None,
    )
    return server
