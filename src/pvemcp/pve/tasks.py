"""Reading a Proxmox task: its status, its log a page at a time, and the percentage its log shows.

Proxmox quirks kept here:
- The status answer says only "running" or "stopped"; a stopped task's `exitstatus` is "OK",
  "WARNINGS: n" (also a success) or the error text. It carries no end time.
- The log endpoint numbers lines from 1 (`n`); an empty log answers one line "no content", and a
  log it cannot open answers one line "unable to open file - ..."; neither is a line of the task.
- Only some workers log their progress, each in its own words: vzdump ("INFO:  25% (8.0 GiB of
  32.0 GiB) in 5s, ..."), drive mirror, clone and move disk ("transferred 8.0 GiB of 32.0 GiB
  (25.00%)"), and vma restore ("progress 25% (read ... bytes, duration 5 sec)").
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pvemcp.pve import wire
from pvemcp.pve.upstream import Upstream

# Task types whose log shows a percentage worth reading while waiting.
PERCENT_KINDS = frozenset(
    {"vzdump", "qmigrate", "vzmigrate", "qmclone", "vzclone", "qmmove", "move_volume", "qmrestore", "vzrestore"}
)
PERCENT_PATTERNS = (
    re.compile(r"^INFO:\s+(\d{1,3})% \("),  # vzdump
    re.compile(r"transferred .+? of .+? \((\d{1,3}(?:\.\d+)?)%\)"),  # drive mirror, clone, move disk
    re.compile(r"^progress (\d{1,3})% \("),  # vma restore
)
NOT_LOG_LINES = ("no content", "unable to open file - ")
LOG_PAGE = 500
TAIL_LINES = 20


def succeeded(exitstatus: str | None) -> bool:
    """PVE::Tools::upid_normalize_status_type: OK and WARNINGS: n are successes."""
    return exitstatus == "OK" or (exitstatus or "").startswith("WARNINGS: ")


def percent_of(lines: Iterable[str]) -> float | None:
    """The last percentage the lines show, if any."""
    found: float | None = None
    for line in lines:
        for pattern in PERCENT_PATTERNS:
            match = pattern.search(line)
            if match is not None:
                found = min(100.0, float(match[1]))
                break
    return found


def status_path(node: str, upid: str) -> str:
    return wire.expand_path("/nodes/{node}/tasks/{upid}/status", {"node": node, "upid": upid})


async def read_status(client: Upstream, node: str, upid: str) -> dict[str, Any]:
    status = await client.get(status_path(node, upid))
    return status if isinstance(status, dict) else {}


@dataclass(slots=True)
class LogReader:
    """Reads a task log from where it left off, remembering the last lines for a failure report."""

    client: Upstream
    node: str
    upid: str
    read: int = 0  # lines read so far (the next line's 0-based index)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    async def more(self, pages: int = 1) -> list[str]:
        """New lines since the last read, at most `pages` pages of LOG_PAGE lines."""
        path = wire.expand_path("/nodes/{node}/tasks/{upid}/log", {"node": self.node, "upid": self.upid})
        new: list[str] = []
        for _ in range(pages):
            rows = await self.client.get(path, {"start": self.read, "limit": LOG_PAGE})
            lines = self._lines(rows)
            new += lines
            if len(lines) < LOG_PAGE:
                break
        return new

    def _lines(self, rows: Any) -> list[str]:
        rows = [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
        if len(rows) == 1 and rows[0].get("n") == 1 and str(rows[0].get("t", "")).startswith(NOT_LOG_LINES):
            return []
        lines = [str(row.get("t", "")) for row in rows]
        numbers = [row["n"] for row in rows if isinstance(row.get("n"), int)]
        self.read = max(numbers) if numbers else self.read + len(lines)
        self.tail.extend(lines)
        return lines

    async def last_lines(self) -> list[str]:
        """The log's last TAIL_LINES lines (reads whatever was not read yet, up to 40 pages)."""
        await self.more(pages=40)
        return list(self.tail)
