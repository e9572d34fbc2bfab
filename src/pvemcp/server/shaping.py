"""Turning a Proxmox answer into an MCP result: structured content plus the same JSON, compact."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import mcp_types as types

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import PveMcpError
from pvemcp.server import paging


def compact(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def structure(spec: ToolSpec, data: Any) -> dict[str, Any]:
    """MCP structured content must be an object: lists get a count, scalars a key."""
    if isinstance(data, dict):
        return data
    if isinstance(data, list):
        return {"items": data, "count": len(data)}
    if isinstance(data, str) and data.isdigit():  # Proxmox sends some integers as strings (nextid)
        return {spec.result_key: int(data)}
    return {spec.result_key: data}


def shape(spec: ToolSpec, args: Mapping[str, Any], data: Any, max_bytes: int) -> dict[str, Any]:
    """The structured result: paged for paged lists, otherwise kept within the byte budget."""
    if spec.paged and isinstance(data, list):
        return paging.page(spec, args, data, max_bytes)
    return paging.fit(structure(spec, data), max_bytes)


def success(payload: dict[str, Any], pictures: Sequence[types.ImageContent] = ()) -> types.CallToolResult:
    """The JSON as text, then any pictures drawn of it (server/charts.py)."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=compact(payload)), *pictures],
        structured_content=payload,
        is_error=False,
    )


def failure(error: PveMcpError) -> types.CallToolResult:
    payload = error.to_payload()
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=compact(payload))],
        structured_content=payload,
        is_error=True,
    )
