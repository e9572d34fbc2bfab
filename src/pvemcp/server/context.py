"""What one tool call knows about the MCP request that carries it: who asks, and what the client can do.

The dispatch path never touches the SDK's request context directly; `app.py` translates it into a
`CallContext`, so tests and the HTTP transport build the same thing and every era looks alike here.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anyio
import mcp_types as types

# progress, total (None: unknown), message
ProgressFn = Callable[[float, float | None, str], Awaitable[None]]
# message, requested schema -> the client's answer (2025-11-25: elicitation/create inside the call)
ElicitFn = Callable[[str, dict[str, Any]], Awaitable[types.ElicitResult]]


class WaitClock(Protocol):
    """The clock task waiting runs on: real time in production, the simulator's clock in tests."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


@dataclass(slots=True)
class CallContext:
    """Request-scoped facts for one tools/call.

    era: "legacy" (2025-11-25: the server may send elicitation/create during the call) or "modern"
    (2026-07-28: the server answers InputRequiredResult and the client calls again with the answers).
    """

    caller: str = "stdio"
    era: Literal["legacy", "modern"] = "legacy"
    progress: ProgressFn | None = None  # None: the client asked for no progress notifications
    can_elicit: bool = False  # the client declared form elicitation
    elicit: ElicitFn | None = None  # legacy era only
    input_responses: Mapping[str, Any] | None = None  # modern era: answers to our input requests
    request_state: str | None = None  # modern era: the state we minted, already unsealed by the SDK

    async def report(self, progress: float, total: float | None, message: str) -> None:
        if self.progress is not None:
            await self.progress(progress, total, message)
