"""The one path every tool call takes (DESIGN.md, "The life of one tool call").

exposed? → validate → locate node → confirm → handler → shape → log. A step a tool does not need
is a no-op for it, not a second path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from pvemcp.pve.client import ProxmoxClient
from pvemcp.pve.errors import ErrorCode, PveMcpError
from pvemcp.server import shaping
from pvemcp.server.call import Call
from pvemcp.server.confirm import require_confirmation
from pvemcp.server.handlers import HANDLERS
from pvemcp.server.inventory import Inventory
from pvemcp.server.listing import build_listing
from pvemcp.server.resolve import GuestLocator, fill_location
from pvemcp.server.validation import ArgumentValidator

log = logging.getLogger("pvemcp.call")


@dataclass(slots=True)
class Runtime:
    """Everything a call needs, built once at start-up and shared by every connection."""

    client: ProxmoxClient
    inventory: Inventory
    max_result_bytes: int = 40_000
    locator: GuestLocator = field(init=False)
    validators: dict[str, ArgumentValidator] = field(init=False)
    tools: list[types.Tool] = field(init=False)

    def __post_init__(self) -> None:
        self.locator = GuestLocator(self.client)
        specs = {exposed.spec.name: exposed.spec for exposed in self.inventory.by_name.values()}
        self.validators = {name: ArgumentValidator(spec) for name, spec in specs.items()}
        self.tools = build_listing(self.inventory)


def unknown_tool(name: str) -> MCPError:
    return MCPError(types.INVALID_PARAMS, f"Unknown tool: {name}")


async def call_tool(runtime: Runtime, name: str, arguments: Mapping[str, Any] | None) -> types.CallToolResult:
    exposed = runtime.inventory.get(name)
    if exposed is None:  # a hidden tool answers exactly like one that does not exist
        raise unknown_tool(name)
    spec = exposed.spec
    started = time.perf_counter()
    outcome = "ok"
    try:
        args = runtime.validators[spec.name].validate(arguments or {})
        await fill_location(spec, args, runtime.locator)
        require_confirmation(spec, name, args)
        data = await HANDLERS[spec.handler or "rest"](Call(spec, args, runtime.client))
        return shaping.success(shaping.shape(spec, args, data, runtime.max_result_bytes))
    except PveMcpError as exc:
        outcome = str(exc.code)
        return shaping.failure(exc)
    except Exception:
        outcome = str(ErrorCode.INTERNAL_ERROR)
        log.exception("tool %s failed unexpectedly", name)
        return shaping.failure(
            PveMcpError(
                ErrorCode.INTERNAL_ERROR,
                f"{name} failed inside pvemcp; the error is in the server log.",
                "This is a bug in pvemcp, not in your request. Report it with the log line.",
            )
        )
    finally:
        alias = f" alias_of={spec.name}" if exposed.alias_of else ""
        log.info(
            "call tool=%s%s outcome=%s duration_ms=%.1f", name, alias, outcome, (time.perf_counter() - started) * 1000
        )
