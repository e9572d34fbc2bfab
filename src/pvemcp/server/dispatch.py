"""The one path every tool call takes (docs/ARCHITECTURE.md, "The life of a call").

exposed? → validate → scope → locate node → confirm → handler → wait for its task → shape → audit → log.
A step a tool does not need is a no-op for it, not a second path.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError

from pvemcp.audit import AuditLog
from pvemcp.catalog import BY_NAME
from pvemcp.catalog.spec import Tier, ToolSpec
from pvemcp.pve.client import ProxmoxClient
from pvemcp.pve.errors import ErrorCode, PveMcpError
from pvemcp.pve.upstream import Upstream
from pvemcp.server import shaping
from pvemcp.server.access import Grant, narrowed_scope
from pvemcp.server.call import Call, redacted
from pvemcp.server.charts import pictures
from pvemcp.server.composites.cluster_view import cluster_view
from pvemcp.server.confirm import APPROVALS, ApprovalStore, ConfirmMode, confirm
from pvemcp.server.context import CallContext, RealClock, WaitClock
from pvemcp.server.fronts import Fronts, Routed, present
from pvemcp.server.guard import EmptyRead
from pvemcp.server.handlers import HANDLERS, PRECHECKS
from pvemcp.server.inventory import Exposed, Inventory
from pvemcp.server.listing import build_listing
from pvemcp.server.plan import Plan, Planner, plan, reach
from pvemcp.server.preview import preview
from pvemcp.server.recovery import explain
from pvemcp.server.resolve import GuestLocator, GuestRef, fill_location
from pvemcp.server.scope import Scope, filter_result, guest_homes
from pvemcp.server.scoped_client import ScopedClient
from pvemcp.server.validation import ArgumentValidator
from pvemcp.server.waiting import follow
from pvemcp.ssh.channel import NoChannel, RemoteRunner

log = logging.getLogger("pvemcp.call")


# Outcome of an audited attempt, by error code; any other code is "failed".
REFUSALS = frozenset(
    {
        ErrorCode.TOOL_INPUT_REJECTED,
        ErrorCode.CONFIRMATION_REQUIRED,
        ErrorCode.OUT_OF_SCOPE,
        ErrorCode.PROTECTED_GUEST,
        ErrorCode.TARGET_CHANGED,
        ErrorCode.APPROVAL_ALREADY_USED,
        ErrorCode.SHARED_STATE_UNAVAILABLE,  # an approval that could not be checked is refused, nothing done
        ErrorCode.GUEST_NOT_FOUND,
        ErrorCode.DIAGNOSTIC_COMMAND_NOT_ALLOWED,
        ErrorCode.INVALID_CONTAINER_NAME,
        ErrorCode.CONTAINER_NOT_RUNNING,
    }
)


# Handlers of the tools that act on pvemcp itself: they plan and execute other calls through the Runtime.
OWN_HANDLERS: dict[str, Callable[[Planner, Call], Awaitable[Any]]] = {"preview": preview, "cluster_view": cluster_view}

# tool name, outcome (ok, refused, declined, failed, cancelled, asked), error code or None, seconds
Observer = Callable[[str, str, str | None, float], None]


@dataclass(slots=True)
class Runtime:
    """Everything a call needs, built once at start-up and shared by every connection."""

    client: ProxmoxClient
    inventory: Inventory
    max_result_bytes: int = 40_000
    confirm_mode: ConfirmMode = ConfirmMode.AUTO
    scope: Scope = field(default_factory=Scope)
    audit: AuditLog | None = None
    audit_reads: bool = False
    clock: WaitClock = field(default_factory=RealClock)
    ssh: RemoteRunner | None = None  # the SSH channel, when configured
    observe: Observer | None = None  # told of every finished call (HTTP metrics)
    approvals: ApprovalStore = APPROVALS  # where approvals are spent: this process's, or Redis (MCP_SHARED_STATE_URL)
    locator: GuestLocator = field(init=False)
    validators: dict[str, ArgumentValidator] = field(init=False)
    fronts: Fronts = field(init=False)
    tools: list[types.Tool] = field(init=False)
    _views: dict[object, Runtime] = field(init=False)

    def __post_init__(self) -> None:
        self.locator = GuestLocator(self.client)
        specs = {exposed.spec.name: exposed.spec for exposed in self.inventory.by_name.values()}
        self.validators = {name: ArgumentValidator(spec) for name, spec in specs.items()}
        self._list()
        self._views = {}

    def _list(self) -> None:
        """The fronts over this inventory, and what tools/list shows in the policy's mode."""
        self.fronts = Fronts(self.inventory)
        consolidated = self.inventory.policy.mode == "consolidated"
        self.tools = self.fronts.tools if consolidated else build_listing(self.inventory)

    def for_caller(self, grant: Grant | None) -> Runtime:
        """This runtime as one caller sees it: its tier and scope narrowed by the grant.

        Views are built on first use and kept: grants with the same limits share one listing, and the
        client, locator cache, validators, audit log and SSH channel stay shared by every view.
        """
        if grant is None:
            return self
        view = self._views.get(grant.key)
        if view is None:
            policy = self.inventory.policy
            view = copy.copy(self)
            view.inventory = Inventory(replace(policy, tier=min(policy.tier, grant.tier)), self.inventory.catalog)
            view.scope = narrowed_scope(self.scope, grant)
            if len(view.inventory) != len(self.inventory):
                view._list()
            view._views = {}
            self._views[grant.key] = view
        return view

    async def precheck(self, plan: Plan, client: Upstream, ctx: CallContext) -> None:
        """What must hold before anyone is asked to confirm the call (a migration's preflight); raises if not."""
        check = PRECHECKS.get(plan.spec.handler or "")
        if check is not None:
            await check(self._call(plan, client, ctx))

    async def execute(self, plan: Plan, client: Upstream, ctx: CallContext) -> Any:
        """Run the tool's handler with exactly what it may use; pvemcp's own tools get this Runtime too."""
        call = self._call(plan, client, ctx)
        name = plan.spec.handler or "rest"
        own = OWN_HANDLERS.get(name)
        return await (own(self, call) if own is not None else HANDLERS[name](call))

    def _call(self, plan: Plan, client: Upstream, ctx: CallContext) -> Call:
        return Call(
            plan.spec,
            plan.args,
            client,
            ctx,
            self.scope,
            self.locator,
            self.clock,
            self.ssh or NoChannel(),
            self.max_result_bytes,
            plan.target,
        )

    def audited(self, spec: ToolSpec) -> bool:
        """Writes, and commands run on a node over SSH, are audited; reads only with PVE_AUDIT_READS."""
        remote = spec.ssh and spec.tier > Tier.READ_ONLY
        return self.audit is not None and (not spec.read_only or remote or self.audit_reads)


def unknown_tool(name: str) -> MCPError:
    return MCPError(types.INVALID_PARAMS, f"Unknown tool: {name}")


@dataclass(slots=True)
class Attempt:
    """What the audit log and the call log say about one call."""

    name: str
    spec: ToolSpec
    arguments: Mapping[str, Any]
    ctx: CallContext
    started: float = field(default_factory=time.perf_counter)
    outcome: str = "ok"
    code: str | None = None
    target: GuestRef | None = None
    upid: str | None = None
    approval: str | None = None
    note: str | None = None
    via: str | None = None  # the consolidated tool and action it was called through
    pictures: list[types.ImageContent] = field(default_factory=list)  # drawn on request (server/charts.py)

    @property
    def called_as(self) -> str:
        return self.via or self.name

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "caller": self.ctx.caller,
            "tool": self.name,
            "arguments": redacted(self.arguments),
            "outcome": self.outcome,
        }
        if self.name != self.spec.name:
            entry["alias_of"] = self.spec.name
        if self.via is not None:
            entry["via"] = self.via
        if self.target is not None:
            entry["target"] = {"vmid": self.target.vmid, "node": self.target.node, "name": self.target.name}
        optional = {"code": self.code, "upid": self.upid, "approval": self.approval, "note": self.note}
        entry.update({key: value for key, value in optional.items() if value is not None})
        entry["duration_ms"] = round((time.perf_counter() - self.started) * 1000, 1)
        return entry

    def failed(self, error: PveMcpError) -> None:
        self.code = str(error.code)
        if error.code is ErrorCode.CONFIRMATION_DECLINED:
            self.outcome = "declined"
        elif error.code in REFUSALS:
            self.outcome = "refused"
        else:
            self.outcome = "failed"
        upid = (error.details or {}).get("upid")
        if isinstance(upid, str):
            self.upid = upid


async def call_tool(
    runtime: Runtime, name: str, arguments: Mapping[str, Any] | None, ctx: CallContext | None = None
) -> types.CallToolResult | types.InputRequiredResult:
    ctx = ctx or CallContext()
    exposed = runtime.inventory.get(name)
    routed: Routed | None = None
    if exposed is None and name in runtime.fronts:
        try:
            routed = await runtime.fronts.route(name, arguments or {}, runtime.scope, runtime.locator)
        except PveMcpError as exc:
            return shaping.failure(exc)
        exposed, name, arguments = Exposed(routed.spec), routed.spec.name, routed.args
    if exposed is None:  # a hidden tool answers exactly like one that does not exist
        hidden = BY_NAME.get(name)
        if hidden is not None and runtime.audited(hidden):
            attempt = Attempt(
                name, hidden, arguments or {}, ctx, outcome="refused", code=str(ErrorCode.TOOL_NOT_EXPOSED)
            )
            await _audit(runtime, attempt)
        raise unknown_tool(name)
    spec = exposed.spec
    attempt = Attempt(name, spec, arguments or {}, ctx)
    if routed is not None:
        attempt.via = f"{routed.front} action={routed.action}"
    try:
        result = await _run(runtime, attempt, ctx)
        if isinstance(result, types.InputRequiredResult):
            attempt.outcome = "asked"
            return result
        if routed is not None:
            result = present(runtime.fronts, routed, result)
        return shaping.success(result, attempt.pictures)
    except PveMcpError as exc:
        attempt.failed(exc)
        said = await explain(exc, spec, attempt.arguments, runtime.client, runtime.scope)  # what exists instead
        return shaping.failure(runtime.fronts.explain(said) if routed is not None else said)
    except anyio.get_cancelled_exc_class():
        attempt.outcome = "cancelled"
        if attempt.upid:
            attempt.note = "the client cancelled the wait; the Proxmox task goes on"
        raise
    except Exception:
        attempt.outcome, attempt.code = "failed", str(ErrorCode.INTERNAL_ERROR)
        log.exception("tool %s failed unexpectedly", name)
        return shaping.failure(
            PveMcpError(
                ErrorCode.INTERNAL_ERROR,
                f"{name} failed inside pvemcp; the error is in the server log.",
                "This is a bug in pvemcp, not in your request. Report it with the log line.",
            )
        )
    finally:
        if runtime.audited(spec):
            with anyio.CancelScope(shield=True):  # a cancelled call is recorded too
                await _audit(runtime, attempt)
        elapsed = time.perf_counter() - attempt.started
        if runtime.observe is not None:
            runtime.observe(spec.name, attempt.outcome, attempt.code, elapsed)
        alias = f" alias_of={spec.name}" if exposed.alias_of else ""
        via = f" via={attempt.via.replace(' ', ':')}" if attempt.via else ""
        log.info(
            "call tool=%s%s%s caller=%s outcome=%s duration_ms=%.1f",
            name,
            alias,
            via,
            ctx.caller,
            attempt.code or attempt.outcome,
            elapsed * 1000,
        )


async def _run(runtime: Runtime, attempt: Attempt, ctx: CallContext) -> dict[str, Any] | types.InputRequiredResult:
    """Plan (validate, scope, locate, confirm), then execute (handler, task, scope filter, shape)."""
    spec = attempt.spec
    args = runtime.validators[spec.name].validate(attempt.arguments)
    # A call resuming after the human's answer compares the confirmed guest first, so a VM replaced by a
    # container under the same vmid reads as TARGET_CHANGED rather than as a type mismatch.
    resumed = ctx.request_state is not None
    given = dict(args)
    located = "node" in spec.placeholders and args.get("node") is None and args.get("vmid") is not None
    try:
        planned = await plan(runtime, spec, args, locate=not resumed)
    except EmptyRead:  # a list filtered by a guest outside the scope: empty, as for an unknown guest
        return shaping.shape(spec, args, [], runtime.max_result_bytes)
    attempt.target = planned.target

    async def relocate() -> GuestRef | None:
        return await reach(runtime, spec, args)

    if spec.confirm and not resumed:
        await runtime.precheck(
            planned, ScopedClient(runtime.client, runtime.scope, runtime.locator, planned.begun), ctx
        )
    approval = await confirm(
        runtime.confirm_mode, spec, attempt.called_as, args, planned.target, ctx, relocate, approvals=runtime.approvals
    )
    if isinstance(approval, types.InputRequiredResult):
        return approval
    if resumed:
        await fill_location(spec, args, runtime.locator)
    if approval.by != "not-needed":
        attempt.approval = approval.by
    # Every request the handler sends passes the guard again; guests read since planning began count as fresh.
    try:
        data = await runtime.execute(
            planned, ScopedClient(runtime.client, runtime.scope, runtime.locator, planned.begun), ctx
        )
    except PveMcpError as exc:
        if not (exc.code is ErrorCode.PROXMOX_NOT_FOUND and spec.read_only and located):
            raise
        # The guest moved since its location was cached (a migration, HA): read where it is now, once.
        runtime.locator.forget()
        planned = await plan(runtime, spec, dict(given))
        data = await runtime.execute(
            planned, ScopedClient(runtime.client, runtime.scope, runtime.locator, planned.begun), ctx
        )
    finally:
        if moves(spec):
            runtime.locator.forget()
    if spec.returns_task and isinstance(data, Mapping) and isinstance(data.get("upid"), str):
        attempt.upid = str(data["upid"])
        data = await follow(runtime.client, runtime.clock, data, args, ctx)
    data = filter_result(runtime.scope, spec, data, await guest_homes(runtime.scope, runtime.locator, data))
    shaped = shaping.shape(spec, args, data, runtime.max_result_bytes)
    attempt.pictures = await pictures(spec, args, planned.target, shaped)  # none unless asked for
    return shaped


def moves(spec: ToolSpec) -> bool:
    """Moves or removes a guest (migrate, HA migrate or relocate, delete, restore over it): the cached
    locations are forgotten after it, whatever its outcome."""
    rest = spec.rest
    if rest is None or rest.method == "GET":
        return False
    path = rest.path
    return (
        path.endswith(("/migrate", "/relocate"))
        or (rest.method == "DELETE" and path.endswith("/{vmid}"))
        or (spec.category == "backup" and path.endswith(("/qemu", "/lxc")))
    )


async def _audit(runtime: Runtime, attempt: Attempt) -> None:
    assert runtime.audit is not None
    try:
        await runtime.audit.append(attempt.entry())
    except OSError:
        # The log could not be written: say so loudly; the call's own answer stands.
        log.exception("audit log %s could not be written", runtime.audit.path)
