"""The confirmation gate for destructive tools: the one place where a missing confirmation stops a call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import mcp_types as types

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


def describe_target(spec: ToolSpec, args: Mapping[str, Any], target: GuestRef | None = None) -> str:
    if target is not None:
        return f"{spec.title}: {target.describe()}"
    parts = [f"{key} {args[key]}" for key in ("vmid", "node", "storage", "upid") if args.get(key) is not None]
    return f"{spec.title} ({', '.join(parts)})" if parts else spec.title


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
    if args.get("confirm") is True:
        return Approval("flag")
    raise ToolCallError(
        ErrorCode.CONFIRMATION_REQUIRED,
        f"{describe_target(spec, args, target)} is destructive and was not carried out:"
        f" {called_as} needs confirm=true.",
        "Tell the user exactly what will happen and ask them; only if they agree, call again with confirm=true.",
    )
