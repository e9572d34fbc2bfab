"""The audit log: one JSON line per mutating attempt, hash-chained, fsynced before the tool answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def append(self, entry: dict[str, Any]) -> None:
        """Add `time` and `prev` (the previous line's hash), write, flush and fsync."""
