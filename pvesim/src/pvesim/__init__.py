"""A stateful simulated Proxmox VE cluster, served as an ASGI app.

``Simulator`` builds a deterministic cluster (nodes, guests, storages, tasks) and answers
``/api2/json`` with Proxmox's envelope, errors, permission checks and quirks; ``Fault`` injects
failures; ``pvesim.serve`` serves it over HTTPS on loopback. With ``record_effects`` on, each
``RecordedRequest`` also names the guests and nodes (``Target``) it addressed and changed.

The names below load on first use: importing ``pvesim.facts`` (Proxmox's permission rules and roles,
read by other tools) must not build the whole simulator.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .clock import Clock, ManualClock, RealClock
    from .faults import Fault
    from .recorded import RecordedRequest, Target
    from .simulator import Simulator

__version__ = "0.1.0"

__all__ = ["Clock", "Fault", "ManualClock", "RealClock", "RecordedRequest", "Simulator", "Target"]

_HOMES = {
    "Clock": "clock",
    "ManualClock": "clock",
    "RealClock": "clock",
    "Fault": "faults",
    "RecordedRequest": "recorded",
    "Target": "recorded",
    "Simulator": "simulator",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pvesim' has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
