"""Backup retention as PVE applies it (PVE::Storage::prune_mark_backup_group).

Backups are grouped by guest type and VMID; within a group, newest first, each keep-* rule keeps
the newest backup of each of its periods (hour, day, ISO week, month, year) not already kept,
until it has kept its count; the rest are removed. Protected backups and ones that do not use the
standard name are never removed. Times are the node's local time (UTC in the simulator).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import param_error
from .state.records import Volume

KEEP_RULES = ("keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
# vzdump-<type>-<vmid>-YYYY_MM_DD-HH_MM_SS.<ext>: the name PVE reads a backup's guest and time from
STANDARD = re.compile(
    r"vzdump-(qemu|lxc|openvz)-(\d+)-(\d{4})_(\d{2})_(\d{2})-(\d{2})_(\d{2})_(\d{2})\."
    r"(tgz|(?:tar|vma)(?:\.(?:gz|lzo|zst|bz2|xz))?)$"
)
TYPE_ONLY = re.compile(r"vzdump-(qemu|lxc|openvz)-")


@dataclass(slots=True)
class Entry:
    volid: str
    ctime: int
    type: str
    vmid: int | None
    mark: str | None = None

    def record(self) -> dict[str, object]:
        item: dict[str, object] = {"volid": self.volid, "ctime": self.ctime, "mark": self.mark, "type": self.type}
        if self.vmid is not None:
            item["vmid"] = self.vmid
        return item


def parse_keep(text: str) -> dict[str, int]:
    """The prune-backups property string; errors read like PVE's format check."""
    keep: dict[str, int] = {}
    for part in (p for p in text.split(",") if p):
        key, sep, value = part.partition("=")
        if key != "keep-all" and key not in KEEP_RULES:
            raise param_error({"prune-backups": f"invalid format - property '{key}' not defined in schema"})
        if not sep or not value.isdigit():
            raise param_error({"prune-backups": f"invalid format - {key}: type check ('integer') failed"})
        keep[key] = int(value)
    rules = {k: v for k, v in keep.items() if k != "keep-all"}
    if keep.get("keep-all") and any(v > 0 for v in rules.values()):
        raise param_error({"prune-backups": "invalid format - keep-all cannot be set together with other options."})
    return keep


def _period(rule: str) -> Callable[[int], object]:
    def local(ctime: int) -> time.struct_time:
        return time.gmtime(ctime)

    if rule == "keep-last":
        return lambda ctime: ctime
    if rule == "keep-hourly":
        return lambda ctime: local(ctime)[:4]
    if rule == "keep-daily":
        return lambda ctime: local(ctime)[:3]
    if rule == "keep-weekly":
        return lambda ctime: datetime.fromtimestamp(ctime, UTC).isocalendar()[:2]
    if rule == "keep-monthly":
        return lambda ctime: local(ctime)[:2]
    return lambda ctime: local(ctime)[0]


def _mark(group: list[Entry], count: int, period: Callable[[int], object]) -> None:
    if not count:
        return
    already = {period(e.ctime) for e in group if e.mark == "keep"}
    newly: set[object] = set()
    for entry in group:
        key = period(entry.ctime)
        if entry.mark is not None or key in already:
            continue
        if key not in newly:
            if len(newly) >= count:
                break
            newly.add(key)
            entry.mark = "keep"
        else:
            entry.mark = "remove"


def mark_group(group: list[Entry], keep: dict[str, int]) -> None:
    if keep.get("keep-all") or not any(keep.get(rule, 0) > 0 for rule in KEEP_RULES):
        for entry in group:
            if entry.mark is None or entry.mark == "remove":
                entry.mark = "keep"
        return
    ordered = sorted(group, key=lambda e: e.ctime, reverse=True)
    for rule in KEEP_RULES:
        _mark(ordered, keep.get(rule, 0), _period(rule))
    for entry in ordered:
        if entry.mark is None:
            entry.mark = "remove"


def plan(volumes: list[Volume], keep: dict[str, int], vmid: int | None, kind: str | None) -> list[Entry]:
    """Every backup considered, in listing order, with its mark."""
    entries: list[Entry] = []
    groups: dict[tuple[str, int], list[Entry]] = {}
    for volume in sorted(volumes, key=lambda v: v.volid):
        if volume.content != "backup" or (vmid is not None and volume.vmid != vmid):
            continue
        name = volume.volid.rpartition("/")[2]
        standard = STANDARD.fullmatch(name)
        typed = TYPE_ONLY.match(name)
        backup_type = standard.group(1) if standard else typed.group(1) if typed else "unknown"
        if kind is not None and backup_type != kind:
            continue
        entry = Entry(volume.volid, volume.ctime or 0, backup_type, volume.vmid)
        if standard and volume.vmid is not None:
            year, month, day, hour, minute, second = (int(g) for g in standard.groups()[2:8])
            entry.ctime = int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())
            groups.setdefault((backup_type, volume.vmid), []).append(entry)
        else:
            entry.mark = "renamed"
        if volume.protected:
            entry.mark = "protected"
        entries.append(entry)
    for group in groups.values():
        mark_group(group, keep)
    return entries
