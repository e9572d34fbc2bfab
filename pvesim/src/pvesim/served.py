"""What the ASGI app and the control API use of the simulator they serve.

``Simulator`` (simulator.py) builds the app around itself; naming its surface here, rather than the
class, keeps the app and the control API below the simulator in the import graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .clock import Clock
    from .effects import EffectRecorder
    from .faults import Fault, FaultBook
    from .recorded import RecordedRequest
    from .routes import Context, Router
    from .state.cluster import ClusterState
    from .tasks import TaskRunner


class Served(Protocol):
    """A simulated cluster as the app sees it (see ``Simulator`` for what each member does)."""

    state: ClusterState
    clock: Clock
    runner: TaskRunner
    router: Router
    context: Context
    requests: list[RecordedRequest]
    faults: FaultBook
    latency_ms: float
    effects: EffectRecorder | None

    @property
    def record_effects(self) -> bool: ...

    def authenticate(self, header: str) -> str | None: ...

    def check_authorization(self, header: str) -> bool: ...

    def arm(self, fault: Fault) -> None: ...

    def reset_faults(self) -> None: ...

    def settle(self) -> int: ...
