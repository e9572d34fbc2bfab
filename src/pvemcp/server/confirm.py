"""The confirmation gate for destructive tools: the one place where a missing confirmation stops a call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, ToolCallError


def describe_target(spec: ToolSpec, args: Mapping[str, Any]) -> str:
    parts = [f"{key} {args[key]}" for key in ("vmid", "node", "storage", "upid") if args.get(key) is not None]
    return f"{spec.title} ({', '.join(parts)})" if parts else spec.title


def require_confirmation(spec: ToolSpec, called_as: str, args: Mapping[str, Any]) -> None:
    """Raise CONFIRMATION_REQUIRED unless a confirm tool was called with confirm=true."""
    if not spec.confirm or args.get("confirm") is True:
        return
    raise ToolCallError(
        ErrorCode.CONFIRMATION_REQUIRED,
        f"{describe_target(spec, args)} is destructive and was not carried out: {called_as} needs confirm=true.",
        "Tell the user exactly what will happen and ask them; only if they agree, call again with confirm=true.",
    )
