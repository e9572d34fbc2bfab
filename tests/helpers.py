"""Helpers for tool tests: call a tool through the SDK client and unwrap its result, find a guest."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp_types import Tool

from pvesim import Simulator
from pvesim.state import Guest
from tests.conftest import McpFactory, payload


def pick(sim: Simulator, kind: str, status: str) -> Guest:
    for guest in sim.state.guests.values():
        if guest.type == kind and not guest.template and guest.status == status and not guest.paused:
            return guest
    raise AssertionError(f"the simulator has no {status} {kind} guest")


async def call(connect: McpFactory, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    async with connect() as client:
        result = await client.call_tool(name, args or {})
    assert not result.is_error, result.structured_content
    assert result.content and result.content[0].type == "text"
    return payload(result)


async def failed(connect: McpFactory, name: str, args: dict[str, Any]) -> dict[str, Any]:
    async with connect() as client:
        result = await client.call_tool(name, args)
    assert result.is_error
    body = payload(result)
    assert set(body) >= {"code", "message", "hint"}
    return body


def actions(tools: Iterable[Tool], name: str) -> list[str]:
    """The actions a consolidated tool lists (empty when the tool is not listed at all)."""
    tool = next((t for t in tools if t.name == name), None)
    return [] if tool is None else list(tool.input_schema["properties"]["action"]["enum"])
