"""A stateful simulated Proxmox VE cluster, served as an ASGI app.

``Simulator`` builds a deterministic cluster (nodes, guests, storages, tasks) and answers
``/api2/json`` with Proxmox's envelope, errors and quirks; ``Fault`` injects failures;
``pvesim.serve`` serves it over HTTPS on loopback. With ``record_effects`` on, each
``RecordedRequest`` also names the guests and nodes (``Target``) it addressed and changed.
"""

from __future__ import annotations

from .clock import Clock, ManualClock, RealClock
from .faults import Fault
from .recorded import RecordedRequest, Target
from .simulator import Simulator

__version__ = "0.1.0"

__all__ = ["Clock", "Fault", "ManualClock", "RealClock", "RecordedRequest", "Simulator", "Target"]
