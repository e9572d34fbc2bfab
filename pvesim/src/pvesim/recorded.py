"""What the simulator records of each request: the request as received, and the guests and nodes
(``Target``) it addressed and changed. Plain records, so every module that fills or reads them can
import them without importing the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

GuestTarget = tuple[Literal["guest"], int]
NodeTarget = tuple[Literal["node"], str]
Target = GuestTarget | NodeTarget
"""``("guest", vmid)`` or ``("node", name)``."""


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One /api2/json request as received: ``path`` is relative to /api2/json, ``params`` raw.

    With ``Simulator(record_effects=True)``, ``reads`` holds the guests and nodes it addressed and
    ``changes`` those it changed, its tasks' changes included (simulator.py says what counts).
    They take no part in comparisons, so a record still equals one built from the first three.
    """

    method: str
    path: str
    params: dict[str, object] = field(default_factory=dict)
    reads: set[Target] = field(default_factory=set, compare=False)
    changes: set[Target] = field(default_factory=set, compare=False)
