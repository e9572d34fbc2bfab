"""The ``Simulator``: one simulated Proxmox VE cluster and the ASGI app that serves it."""

from __future__ import annotations

import hmac
import time

import anyio

from .api import RecordedRequest, SimApp
from .builder import DEFAULT_SECRET, DEFAULT_TOKEN, Spec, build
from .clock import Clock, ManualClock
from .faults import Fault, FaultBook
from .handlers import ALL_ROUTES
from .render import guest_resources_json
from .routes import Context, Router
from .tasks import TaskRunner

AUTH_SCHEME = "PVEAPIToken"


class Simulator:
    """A stateful, deterministic Proxmox VE cluster answering /api2/json like the real one.

    Mount ``sim.app`` with ``httpx2.ASGITransport`` for in-process tests, or serve it with
    ``pvemcp.sim.serve``. The default clock is manual: tasks finish when a test advances it.
    """

    def __init__(
        self,
        nodes: int = 3,
        guests: int = 16,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        task_seconds: tuple[float, float] = (1.0, 2.0),
        token_id: str = DEFAULT_TOKEN,
        token_secret: str = DEFAULT_SECRET,
    ) -> None:
        user, _, name = token_id.partition("!")
        if "@" not in user or not name:
            raise ValueError("token_id must look like 'user@realm!name'")
        if not token_secret:
            raise ValueError("token_secret must not be empty")
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.seed = seed
        self.token_id = token_id
        self.token_secret = token_secret
        self.state = build(Spec(nodes, guests, seed, token_id, token_secret), self.clock.now())
        self.runner = TaskRunner(self.state, self.clock, task_seconds, seed)
        if isinstance(self.clock, ManualClock):
            self.clock.on_advance(self.runner.settle)
        self.router = Router(ALL_ROUTES)
        self.context = Context(self.state, self.clock, self.runner, token_id)
        self.requests: list[RecordedRequest] = []
        self.faults = FaultBook()
        self.latency_ms: float = 0
        self.app = SimApp(self)
        # Render the cluster-wide guest records once now, so the first listing is as quick as the rest.
        ordered = sorted(self.state.guests.values(), key=lambda g: g.vmid)
        guest_resources_json(self.context, ordered, self.clock.now())

    @property
    def authorization(self) -> str:
        """The exact Authorization header value a client must send."""
        return f"{AUTH_SCHEME}={self.token_id}={self.token_secret}"

    def check_authorization(self, header: str) -> bool:
        """Accept 'PVEAPIToken=user@realm!name=secret' for a known token with the right secret."""
        return self.authenticate(header) is not None

    def authenticate(self, header: str) -> str | None:
        """The token ID the request acts as, or None when the header does not authenticate."""
        scheme, sep, rest = header.partition("=")
        if scheme.strip() != AUTH_SCHEME or not sep:
            return None
        token_id, sep, secret = rest.strip().partition("=")
        token = self.state.tokens.get(token_id)
        if token is None or not sep:
            return None
        return token_id if hmac.compare_digest(secret.encode(), token.secret.encode()) else None

    def arm(self, fault: Fault) -> None:
        """Make the next ``fault.count`` matching requests fail (0: until ``reset_faults``)."""
        self.faults.arm(fault)

    def reset_faults(self) -> None:
        self.faults.reset()

    def settle(self) -> int:
        """Finish every task that is due by the clock; return how many finished."""
        return self.runner.settle()

    def wait_clock(self) -> SimWaitClock:
        """A clock for pvemcp's task waiting that runs on this cluster's time (see SimWaitClock)."""
        return SimWaitClock(self.clock)

    def __repr__(self) -> str:
        s = self.state
        return f"Simulator(nodes={len(s.nodes)}, guests={len(s.guests)}, seed={self.seed}, clock={self.clock!r})"


class SimWaitClock:
    """pvemcp's wait clock on simulated time: with a manual clock, sleeping advances the cluster's clock.

    A wait of 30 s then costs no real time, and tasks finish exactly when their simulated duration has
    passed; with the real clock it is plain wall time.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now() if isinstance(self._clock, ManualClock) else time.monotonic()

    async def sleep(self, seconds: float) -> None:
        if isinstance(self._clock, ManualClock):
            self._clock.advance(seconds)
            await anyio.lowlevel.checkpoint()
        else:
            await anyio.sleep(seconds)
