"""Proxmox task identifiers (UPIDs): `UPID:node:pid:pstart:starttime:type:id:user:`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UPID = re.compile(
    r"^UPID:(?P<node>[A-Za-z0-9][A-Za-z0-9.-]*):(?P<pid>[0-9A-Fa-f]{8}):(?P<pstart>[0-9A-Fa-f]{8,9}):"
    r"(?P<starttime>[0-9A-Fa-f]{8}):(?P<type>[^:\s]+):(?P<id>[^:\s]*):(?P<user>[^:\s]+):$"
)


@dataclass(frozen=True, slots=True)
class Upid:
    node: str
    pid: int
    starttime: int
    type: str
    id: str
    user: str


def parse_upid(text: str) -> Upid | None:
    """Parse a UPID; None when the text is not one."""
    match = _UPID.match(text)
    if match is None:
        return None
    return Upid(
        node=match["node"],
        pid=int(match["pid"], 16),
        starttime=int(match["starttime"], 16),
        type=match["type"],
        id=match["id"],
        user=match["user"],
    )
