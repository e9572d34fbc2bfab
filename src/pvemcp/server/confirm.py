"""The confirmation gate for destructive tools: the one place where a missing confirmation stops a call.

A person's approval comes through MCP elicitation: inline (elicitation/create, 2025-11-25) or as an
InputRequiredResult whose sealed requestState carries what was asked (2026-07-28). An approval is bound
to the guest it named: the guest is read again just before acting, so a "yes" to VM 104 'db-primary'
never becomes a change to whatever VM 104 has become since.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import mcp_types as types
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.server.context import CallContext
from pvemcp.server.resolve import GuestRef


class ConfirmMode(StrEnum):
    AUTO = "auto"  # confirm=true from the caller, else ask the human when the client can
    ELICIT = "elicit"  # only a human's answer through elicitation counts
    FLAG = "flag"  # confirm=true only, never ask


@dataclass(frozen=True, slots=True)
class Approval:
    """Why the call may go ahead."""

    by: Literal["not-needed", "flag", "human"]


Relocate = Callable[[], Awaitable[GuestRef | None]]

ANSWER_KEY = "confirm"  # the key of our one input request and of the client's answer to it
STATE_KIND = "pvemcp.confirm/1"
# Arguments that tell a person what exactly is affected; anything else (secrets included) stays out of the form.
GUEST_DETAILS = (
    *("method", "path", "command", "argv", "snapname", "target", "online"),
    *("disk", "size", "pos", "force", "purge", "todisk"),
)
OTHER_DETAILS = (
    *("node", "vmid", "storage", "archive", "id", "poolid", "userid", "tokenid"),
    *("method", "path", "roles", "users", "groups", "tokens", "delete", "iface", "pos", "upid", "force"),
)
SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\.\s+(?=[A-Z])")
NOTHING_CHANGED = "nothing was changed"


def _detail(value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_target(spec: ToolSpec, args: Mapping[str, Any], target: GuestRef | None = None) -> str:
    """The action in a person's words: "Stop VM 104 'db-primary' on pve2", "Remove storage (storage=nfs)"."""
    keys = GUEST_DETAILS if target is not None else OTHER_DETAILS
    details = [f"{key}={_detail(args[key])}" for key in keys if args.get(key) not in (None, False, "")]
    suffix = f" ({', '.join(details)})" if details else ""
    if target is None:
        return spec.title + suffix
    guest = target.describe()
    kind, _, rest = guest.partition(" ")
    if spec.title.endswith(f" {kind}"):  # "Stop VM" + "VM 104 ..." reads "Stop VM 104 ..."
        return f"{spec.title} {rest}{suffix}"
    return f"{spec.title}: {guest}{suffix}"


def _question(spec: ToolSpec, action: str) -> tuple[str, dict[str, Any]]:
    """The form: a message naming action and target, and one required yes/no."""
    effect = SENTENCE_END.split(spec.description.strip(), maxsplit=1)[0].rstrip(".")
    message = f"{action}. {effect}. Approve to carry it out; otherwise nothing is changed."
    schema = {
        "type": "object",
        "properties": {
            "approve": {
                "type": "boolean",
                "title": f"Carry out: {action}",
                "description": "Yes carries the action out now; no leaves everything as it is.",
                "default": False,
            }
        },
        "required": ["approve"],
    }
    return message, schema


def _identity(target: GuestRef | None) -> list[Any] | None:
    return None if target is None else [target.vmid, target.type, target.name, target.node]


def _required(mode: ConfirmMode, action: str, called_as: str, flagged: bool, why: str = "") -> ToolCallError:
    if mode is ConfirmMode.ELICIT:
        refused = " confirm=true alone is not accepted here." if flagged else ""
        return ToolCallError(
            ErrorCode.CONFIRMATION_REQUIRED,
            f"{action} is destructive and was not carried out: this server only accepts a person's approval,"
            f" given in an MCP client that supports elicitation.{refused}{why}",
            "Do not retry with confirm=true. Tell the user this change must be approved by them in a client"
            " that supports MCP elicitation forms, or made by them directly in Proxmox.",
        )
    return ToolCallError(
        ErrorCode.CONFIRMATION_REQUIRED,
        f"{action} is destructive and was not carried out: {called_as} needs confirm=true.{why}",
        "Tell the user exactly what will happen and ask them; only if they agree, call again with confirm=true.",
    )


def _approve(answer: Any, action: str) -> None:
    """Go on only for an accepted form with approve=true; anything else was not a yes."""
    result: types.ElicitResult | None = None
    if isinstance(answer, types.ElicitResult):
        result = answer
    elif isinstance(answer, Mapping):
        try:
            result = types.ElicitResult.model_validate(dict(answer))
        except ValidationError:
            result = None
    if result is not None and result.action == "accept" and (result.content or {}).get("approve") is True:
        return
    if result is None or result.action == "accept":
        why = "the answer did not approve it"
    else:
        why = "the user declined" if result.action == "decline" else "the user dismissed the confirmation"
    raise ToolCallError(
        ErrorCode.CONFIRMATION_DECLINED,
        f"{action} was not carried out; {NOTHING_CHANGED} ({why}).",
        "Leave it as it is. Only try again if the user asks for it again.",
    )


def _same_target(confirmed: list[Any] | None, current: GuestRef | None) -> None:
    """Refuse when the vmid now names another guest (or the guest moved) since the person said yes."""
    now = _identity(current)
    if confirmed is None or current is None or now == confirmed:
        return
    vmid, kind, name, node = confirmed
    was = GuestRef(int(vmid), str(node), str(kind), str(name)).describe()
    if [current.type, current.name] != [kind, name]:
        change = f"VMID {vmid} is now {current.describe()}, not the {was} that was confirmed"
    else:
        change = f"{was} moved to {current.node} after it was confirmed"
    raise ToolCallError(
        ErrorCode.TARGET_CHANGED,
        f"{change}; {NOTHING_CHANGED}.",
        "Check the guest with pve_list_cluster_resources and ask the user again if the change is still wanted.",
        details={"confirmed": was, "current": current.describe()},
    )


def _state(ctx: CallContext, spec: ToolSpec) -> dict[str, Any] | None:
    """Our own state from the retry leg (the SDK verified it), or None when this leg asks nothing back."""
    if ctx.request_state is None:
        return None
    try:
        state = json.loads(ctx.request_state)
    except ValueError:
        return None
    if not isinstance(state, dict) or state.get("kind") != STATE_KIND or state.get("tool") != spec.name:
        return None
    target = state.get("target")
    return state if target is None or (isinstance(target, list) and len(target) == 4) else None


def _ask(spec: ToolSpec, action: str, target: GuestRef | None) -> types.InputRequiredResult:
    message, schema = _question(spec, action)
    state = {"kind": STATE_KIND, "tool": spec.name, "target": _identity(target)}
    return types.InputRequiredResult(
        input_requests={
            ANSWER_KEY: types.ElicitRequest(
                params=types.ElicitRequestFormParams(message=message, requested_schema=schema)
            )
        },
        request_state=json.dumps(state, separators=(",", ":")),
    )


async def confirm(
    mode: ConfirmMode,
    spec: ToolSpec,
    called_as: str,
    args: Mapping[str, Any],
    target: GuestRef | None,
    ctx: CallContext,
    relocate: Relocate,
) -> Approval | types.InputRequiredResult:
    """Approve, ask the human (inline or as an InputRequiredResult), or raise CONFIRMATION_REQUIRED."""
    if not spec.confirm:
        return Approval("not-needed")
    flagged = args.get("confirm") is True
    if flagged and mode is not ConfirmMode.ELICIT:
        return Approval("flag")
    action = describe_target(spec, args, target)
    if mode is ConfirmMode.FLAG or not ctx.can_elicit:
        raise _required(mode, action, called_as, flagged)
    if ctx.era == "modern":
        state = _state(ctx, spec)
        answer = (ctx.input_responses or {}).get(ANSWER_KEY)
        if state is None or answer is None:  # first leg, or a retry that brings no answer to our question
            return _ask(spec, action, target)
        _approve(answer, action)
        _same_target(state["target"], target)  # this leg already read the guest afresh (scope.guard)
        return Approval("human")
    if ctx.elicit is None:
        raise _required(mode, action, called_as, flagged)
    message, schema = _question(spec, action)
    confirmed = _identity(target)
    try:
        answer = await ctx.elicit(message, schema)
    except MCPError as exc:
        raise _required(mode, action, called_as, flagged, f" The client could not ask the user: {exc}.") from exc
    _approve(answer, action)
    _same_target(confirmed, await relocate())
    return Approval("human")
