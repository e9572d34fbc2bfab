"""Storage replication runs: each job's run record and the calendar events that time them.

The jobs themselves are ``admin.replication``; this module keeps each job's run state (last sync,
last try, failures, the log of the last run). scheduler.py plays pvescheduler over them.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .admin import ReplicationJob

MINUTE = 60
DEFAULT_SCHEDULE = "*/15"
_STEP = re.compile(r"^\*/([1-9][0-9]*)$")
_DAILY = re.compile(r"^(\d{1,2}):(\d{2})$")
_MINUTES = re.compile(r"^(\d{1,2})(?:,(\d{1,2}))*$")


def next_event(schedule: str, after: float) -> float:
    """The first time after ``after`` the calendar event names (PVE::CalendarEvent::compute_next_event).

    Understood: '*/N' (every N minutes), 'M' or 'M,M' (minutes past each hour), 'HH:MM' (daily);
    any other event is taken as the default, every 15 minutes.
    """
    base = (int(after) // MINUTE + 1) * MINUTE
    if (match := _DAILY.match(schedule)) is not None:
        offset = int(match.group(1)) * 3600 + int(match.group(2)) * MINUTE
        day = base - base % 86_400
        at = day + offset
        return float(at if at >= base else at + 86_400)
    if _MINUTES.match(schedule):
        wanted = sorted({int(m) for m in schedule.split(",")})
        hour = base - base % 3600
        for start in (hour, hour + 3600):
            for minute in wanted:
                if start + minute * MINUTE >= base:
                    return float(start + minute * MINUTE)
    step = int(m.group(1)) if (m := _STEP.match(schedule)) else 15
    minutes = base // MINUTE
    return float(math.ceil(minutes / step) * step * MINUTE)


def valid_schedule(schedule: str) -> bool:
    """A rough pve-calendar-event check: day words, times, steps and ranges only."""
    return bool(schedule.strip()) and re.fullmatch(r"[a-z0-9*/:,. \-]+", schedule) is not None


@dataclass(eq=False)
class JobRun:
    """PVE::ReplicationState's record of one job, plus the log of its last run."""

    last_try: float = 0.0
    last_sync: float = 0.0
    fail_count: int = 0
    duration: float = 0.0
    error: str | None = None
    checked: float = 0.0  # the scheduler has looked at this job up to here
    log: list[str] = field(default_factory=list)


@dataclass(eq=False)
class ReplicationRuns:
    runs: dict[str, JobRun] = field(default_factory=dict)

    def of(self, job: ReplicationJob, now: float) -> JobRun:
        found = self.runs.get(job.id)
        if found is None:
            found = self.runs[job.id] = JobRun(checked=now)
        return found


def stamp(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


def last_slot(schedule: str, before: float) -> float:
    """The latest time at or before ``before`` that the schedule names (within a day)."""
    slot = next_event(schedule, before - 86_400)
    while (later := next_event(schedule, slot)) <= before:
        slot = later
    return slot
