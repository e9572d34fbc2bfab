"""What the one-call answers (health, capacity) share: reads that note their failure instead of raising it,
findings in one shape, and values in the units an assistant cannot misread (ISO times, percentages)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pvemcp.pve.errors import PveMcpError
from pvemcp.pve.upstream import Upstream

DAY = 86_400
SEVERITIES = ("critical", "warning", "info")


class Reads:
    """GETs for named areas: an area read at least once is checked; each failure becomes a skipped entry."""

    def __init__(self, client: Upstream) -> None:
        self.client = client  # the call's scoped client; owned by the dispatch path
        self.ok: set[str] = set()
        self.failures: list[tuple[tuple[str, ...], str, PveMcpError]] = []

    async def get(
        self, areas: tuple[str, ...], path: str, params: Mapping[str, Any] | None = None, subject: str = ""
    ) -> Any:
        """The answer's data, or None when the read was refused or failed (noted for `skipped`)."""
        try:
            data = await self.client.get(path, params)
        except PveMcpError as exc:  # refused by the scope (OUT_OF_SCOPE), by Proxmox's ACLs, or failed
            self.failures.append((areas, subject, exc))
            return None
        self.ok.update(areas)
        return data

    def skipped(self) -> list[dict[str, Any]]:
        found = []
        for areas, subject, exc in self.failures:
            reason = exc.message.strip()
            for area in areas:
                entry = {"area": area, "reason": f"{subject}: {reason}" if subject else reason, "code": str(exc.code)}
                found.append(entry)
        return found

    def first_error(self) -> PveMcpError:
        return self.failures[0][2]


def finding(
    severity: str, area: str, subject: str, message: str, tool: str, arguments: Mapping[str, Any], **extra: Any
) -> dict[str, Any]:
    """One problem, with the catalog tool (and its arguments) that shows more."""
    return {
        "severity": severity,
        "area": area,
        "subject": subject,
        "message": message,
        **extra,
        "next": {"tool": tool, "arguments": dict(arguments)},
    }


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def rows_of(data: Any) -> list[dict[str, Any]]:
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


def number(value: Any) -> float:
    """A Proxmox figure as a float; missing or odd values count as 0."""
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def percent(used: Any, total: Any) -> float:
    """used of total in percent, one decimal; 0 when the total is unknown."""
    whole = number(total)
    return round(number(used) * 100 / whole, 1) if whole > 0 else 0.0


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
