"""Wiring pvemcp into the SDK's low-level `mcp.server.Server`, which serves both protocol eras."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.request_state import AESGCMRequestStateCodec, RequestStateBoundary, RequestStateSecurity
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from pvemcp import __version__
from pvemcp.server.access import Grant
from pvemcp.server.apps import APP_RESOURCE, APP_TOOL, APP_URI, EXTENSION, AppListings, read_app, renders_apps
from pvemcp.server.confirm import STATE_LIFETIME, ConfirmMode
from pvemcp.server.context import CallContext
from pvemcp.server.dispatch import Runtime, call_tool
from pvemcp.server.prompts import Prompts
from pvemcp.server.resources import ResourceHandlers

INSTRUCTIONS = """\
pvemcp operates a Proxmox VE cluster through its API.
- {start}
- Guest tools take vmid; node is optional and found from the vmid.
- Tools run within the configured access tier (read-only, read-execute or full); tools above it are absent.
- {confirmation}
- pve_preview shows what a call would do (requests, policy verdict, config diff) without doing it.
- Tools that start a task wait for it (wait_seconds, default 30; 0 returns at once) and return task \
{{upid, {task_state}, exitstatus, duration_s}}. If the wait ran out the task is still running: follow it with \
{wait}. A failed task is TASK_FAILED with its log tail. Cancelling a call stops the wait, not the task.
- Errors come back as {{code, message, hint}}: the message keeps Proxmox's own words; follow the hint."""

START = {
    "catalog": "Start with pve_list_cluster_resources: one call lists every guest, node and storage.",
    "consolidated": "Start with pve_inventory (what exists, where) or pve_health (what needs attention). Each"
    " tool takes an action; an action's own arguments are listed in the tool's description. Results are concise"
    " (readable sizes and times, percentages, true/false); response_format=detailed gives Proxmox's own fields.",
}
WAIT = {"catalog": "pve_wait_task", "consolidated": "pve_task action wait"}
TASK_STATE = {"catalog": "status", "consolidated": "task_state"}

CONFIRMATION = {
    ConfirmMode.AUTO: "Destructive tools need confirmation. Ask the user first, naming the guest and the effect, and"
    " pass confirm=true only once they agreed; never on your own initiative. The user may be shown a form instead.",
    ConfirmMode.ELICIT: "Destructive tools are approved by the user in a form the client shows; confirm=true alone"
    " is not accepted. Say what you are about to do before calling one.",
    ConfirmMode.FLAG: "Destructive tools need confirmation. Ask the user first, naming the guest and the effect, and"
    " pass confirm=true only once they agreed; never on your own initiative.",
}


# The caller behind one request (None: the process's own settings, as on stdio).
Identify = Callable[[ServerRequestContext[Any]], Grant | None]


class LazyStateCodec:
    """AES-GCM for requestState, with the cipher built on first use.

    Most sessions never confirm anything in the 2026-07-28 way, and setting up the cipher costs about a
    megabyte of resident memory. `keys`: the first seals, all unseal (a shared MCP_STATE_KEY lets every
    replica finish a round another one started; a second key rotates without breaking rounds in flight).
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        self._keys = list(keys)
        self._codec: AESGCMRequestStateCodec | None = None

    @property
    def built(self) -> bool:
        return self._codec is not None

    def _cipher(self) -> AESGCMRequestStateCodec:
        if self._codec is None:
            self._codec = AESGCMRequestStateCodec(self._keys)
        return self._codec

    def seal(self, payload: bytes) -> str:
        return self._cipher().seal(payload)

    def unseal(self, token: str) -> bytes:
        return self._cipher().unseal(token)


def instructions(mode: ConfirmMode, tools: str = "catalog") -> str:
    return INSTRUCTIONS.format(
        confirmation=CONFIRMATION[mode], start=START[tools], wait=WAIT[tools], task_state=TASK_STATE[tools]
    )


def call_context(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams, caller: str) -> CallContext:
    """The SDK's request context, reduced to what the dispatch path uses."""
    session = ctx.session
    capabilities = session.client_capabilities
    modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A client that declares elicitation without naming a mode supports forms (the 2025-06-18 shape).
    can_elicit = elicitation is not None and (elicitation.form is not None or elicitation.url is None)

    async def elicit(message: str, schema: dict[str, Any]) -> types.ElicitResult:
        return await session.elicit_form(message, schema, related_request_id=ctx.request_id)

    return CallContext(
        caller=caller,
        era="modern" if modern else "legacy",
        progress=session.report_progress,
        can_elicit=can_elicit and (modern or session.can_send_request),
        elicit=None if modern else elicit,
        input_responses=params.input_responses,
        request_state=params.request_state,
    )


def build_server(
    runtime: Runtime,
    *,
    caller: str = "stdio",
    identify: Identify | None = None,
    state_keys: Sequence[bytes] = (),
) -> Server[Any]:
    """One Server for the process; listings are prebuilt, every call goes through `call_tool`.

    identify: who sent a request (HTTP); each caller lists and calls within its own grant.
    state_keys: the requestState keys (MCP_STATE_KEY); without them a fresh random key, which only
    this process knows.
    """

    def view(ctx: ServerRequestContext[Any]) -> tuple[Runtime, str]:
        grant = identify(ctx) if identify is not None else None
        return runtime.for_caller(grant), grant.name if grant is not None else caller

    apps = AppListings()

    async def on_list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        seen = view(ctx)[0]
        if not renders_apps(ctx.session.client_capabilities):
            return types.ListToolsResult(tools=seen.tools)
        app_tool = seen.inventory.get(APP_TOOL)
        return types.ListToolsResult(tools=apps.listing(seen.tools, app_tool.spec if app_tool else None))

    async def on_call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        seen, name = view(ctx)
        return await call_tool(seen, params.name, params.arguments, call_context(ctx, params, name))

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
    resources = ResourceHandlers(lambda ctx: view(ctx)[0])  # every tier reads: always offered

    async def on_list_resources(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        listed = await resources.list_resources(ctx, params)
        if renders_apps(ctx.session.client_capabilities):
            listed.resources.insert(0, APP_RESOURCE)
        return listed

    async def on_read_resource(
        ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return read_app() if params.uri == APP_URI else await resources.read(ctx, params)

    server: Server[Any] = Server(
        "pvemcp",
        version=__version__,
        title="Proxmox VE",
        instructions=instructions(runtime.confirm_mode, runtime.inventory.policy.mode),
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
        on_list_prompts=on_list_prompts if offered else None,
        on_get_prompt=on_get_prompt if offered else None,
        on_list_resources=on_list_resources,
        on_list_resource_templates=resources.list_templates,
        on_read_resource=on_read_resource,
        on_completion=resources.complete,
    )
    server.extensions[EXTENSION] = {}  # the cluster app, linked only for clients that declare the extension too
    # 2026-07-28 confirmations travel as InputRequiredResult: the SDK seals our requestState (AES-GCM,
    # bound to the tool and its arguments, short-lived) and verifies it when the client calls again. The
    # seal does not stop the same state coming back twice: confirm.py spends each state's nonce once.
    keys = list(state_keys) or [os.urandom(32)]
    security = RequestStateSecurity(codec=LazyStateCodec(keys), ttl=STATE_LIFETIME)
    server.middleware.append(RequestStateBoundary(security, default_audience="pvemcp"))
    return server
