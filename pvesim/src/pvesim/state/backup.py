"""Backup records: the scheduled jobs of /etc/pve/jobs.cfg and what each archive holds.

An archive remembers the guest type and config it was taken from, so a restore can rebuild
the guest. Schedules are PVE calendar events; the common forms ("21:00", "sat 02:30",
"mon..fri 01:00", "daily", "weekly") get a ``next-run``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

JobValue = str | int
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
SHORTCUTS = {"daily": "00:00", "weekly": "mon 00:00", "hourly": "*:00"}


@dataclass(eq=False)
class Archive:
    """What a vzdump archive contains: the guest type and its config at backup time."""

    kind: str
    config: dict[str, str | int | float]


@dataclass(eq=False)
class BackupState:
    """Scheduled jobs by ID, archive contents by volume ID, and clean-ups for stopped tasks."""

    jobs: dict[str, dict[str, JobValue]] = field(default_factory=dict)
    archives: dict[str, Archive] = field(default_factory=dict)
    on_stop: dict[str, Callable[[], None]] = field(default_factory=dict)
    created: int = 0

    def new_job_id(self) -> str:
        """IDs look like PVE's generated ones (backup-xxxxxxxx-xxxx) and never repeat."""
        while True:
            self.created += 1
            digest = hashlib.sha1(f"vzdump-job-{self.created}".encode(), usedforsecurity=False).hexdigest()
            job_id = f"backup-{digest[:8]}-{digest[8:12]}"
            if job_id not in self.jobs:
                return job_id


def _days(spec: str) -> set[int] | None:
    days: set[int] = set()
    for part in spec.split(","):
        if ".." in part:
            first, _, last = part.partition("..")
            if first not in DAYS or last not in DAYS:
                return None
            days.update(range(DAYS.index(first), DAYS.index(last) + 1))
        elif part in DAYS:
            days.add(DAYS.index(part))
        else:
            return None
    return days


def next_run(schedule: str, now: float) -> int | None:
    """The next start after ``now`` (UTC) for the common calendar-event forms, else None."""
    text = SHORTCUTS.get(schedule.strip(), schedule.strip())
    day_spec, _, clock = text.rpartition(" ")
    days = set(range(7)) if not day_spec else _days(day_spec)
    if clock.startswith("*:") and clock[2:].isdigit() and days is not None:
        minute = int(clock[2:])
        base = int(now // 3600) * 3600 + minute * 60
        return base if base > now else base + 3600
    match = _TIME.match(clock)
    if days is None or match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    offset = int(match.group(1)) * 3600 + int(match.group(2)) * 60
    midnight = int(now // 86_400) * 86_400
    for ahead in range(8):
        start = midnight + ahead * 86_400 + offset
        if start > now and time.gmtime(start).tm_wday in days:
            return start
    return None


def parse_prune(text: str) -> dict[str, int | str]:
    """'keep-daily=7,keep-weekly=4' as GET /cluster/backup shows it: an object, numbers as numbers."""
    out: dict[str, int | str] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key and value:
            out[key.strip()] = int(value) if value.isdigit() else value
    return out
