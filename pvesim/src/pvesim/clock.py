"""Clocks for the simulator: a manual one for tests, the wall clock for the sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

DEFAULT_START = 1_764_000_000.0


class Clock(Protocol):
    """What the simulator needs from time. ``advance`` exists on every clock so tests can
    call ``sim.clock.advance(...)`` without narrowing; the real clock refuses it."""

    def now(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


class ManualClock:
    """A clock that moves only when told to, so tests never sleep."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._listeners: list[Callable[[], object]] = []

    def now(self) -> float:
        return self._now

    def on_advance(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` after every advance (a simulator finishes its due tasks there)."""
        self._listeners.append(listener)

    def advance(self, seconds: float) -> None:
        """Move time forward; tasks that became due finish before this returns."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += float(seconds)
        for listener in self._listeners:
            listener()

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r})"


class RealClock:
    """The wall clock, for a sandbox a person watches in real time."""

    def now(self) -> float:
        return time.time()

    def advance(self, seconds: float) -> None:
        raise TypeError("the real clock cannot be advanced; use ManualClock")

    def __repr__(self) -> str:
        return "RealClock()"
