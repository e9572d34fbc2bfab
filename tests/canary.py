"""A watch for secrets: every log record and every tool result of the test session is searched for them.

The test suite's simulated cluster uses a canary token secret. The watch sees log records through a
handler on the root logger (formatted with their traceback) and tool results and errors as the MCP
client receives them (`ClientSession.call_tool`, under every `Client.call_tool`), so it observes
what the server really sends without touching pvemcp. It sees no process's stdout: `pvemcp sim serve`
prints PROXMOX_TOKEN_SECRET there on purpose, as the settings the user exports, not as a log line.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from mcp.client.session import ClientSession

EXCERPT = 160


class LeakWatch:
    """Counts what it inspected and keeps, per leak, where it happened and an excerpt with the secret masked."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self.seen: Counter[str] = Counter()
        self.leaks: list[str] = []

    def inspect(self, kind: str, text: str) -> None:
        self.seen[kind] += 1
        for secret in self.secrets:
            at = text.find(secret)
            if at >= 0:
                excerpt = text[max(0, at - EXCERPT) : at + len(secret) + EXCERPT].replace(secret, "<SECRET>")
                where = os.environ.get("PYTEST_CURRENT_TEST", "outside a test")
                self.leaks.append(f"{kind} during {where}: …{excerpt}…")

    def report(self) -> str:
        lines = [f"a secret leaked {len(self.leaks)} time(s) into logs or tool results:"]
        return "\n".join([*lines, *(f"  {leak}" for leak in self.leaks)])


class LeakHandler(logging.Handler):
    """Formats each record as a log line would show it, traceback included, and hands it to the watch."""

    def __init__(self, watch: LeakWatch) -> None:
        super().__init__(logging.NOTSET)
        self.watch = watch
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.watch.inspect("log record", text)


@contextmanager
def watching(watch: LeakWatch) -> Iterator[LeakHandler]:
    """Install the watch on the root logger and on the MCP client's tool calls; pvemcp's own logs at DEBUG.

    Libraries keep their levels (their DEBUG output is vast); a test that wants them turns them up itself.
    """
    original = ClientSession.call_tool

    async def call_tool(self: ClientSession, *args: Any, **kwargs: Any) -> Any:
        try:
            result = await original(self, *args, **kwargs)
        except Exception as exc:
            watch.inspect("tool call error", f"{exc!r} {getattr(exc, 'error', '')!r}")
            raise
        watch.inspect("tool result", result.model_dump_json())
        return result

    handler = LeakHandler(watch)
    root, ours = logging.getLogger(), logging.getLogger("pvemcp")
    level = ours.level
    root.addHandler(handler)
    ours.setLevel(logging.DEBUG)
    patch = pytest.MonkeyPatch()
    patch.setattr(ClientSession, "call_tool", call_tool)
    try:
        yield handler
    finally:
        patch.undo()
        ours.setLevel(level)
        root.removeHandler(handler)
