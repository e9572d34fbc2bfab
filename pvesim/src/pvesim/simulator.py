"""The ``Simulator``: one simulated Proxmox VE cluster and the ASGI app that serves it.

The effect record
-----------------
With ``record_effects`` on, every ``RecordedRequest`` says which guests (``("guest", vmid)``) and
nodes (``("node", name)``) the request addressed (``reads``) and which it changed (``changes``).
It is the simulator's own account, independent of any client, so tests can check that a caller
kept to its scope: ``sim.touched(since)`` unites both over ``sim.requests[since:]``.

Addressed (``reads``), whether the request then succeeded or not: the path's node and VMID; IDs
that embed a guest (HA SID ``vm:100``, replication job ``100-0``, volume IDs such as
``vm-100-disk-0`` or ``vzdump-qemu-100-...``, a UPID's node and numeric ID); every parameter the
route declares with format pve-vmid(-list), pve-node(-list), an HA resource or node list, a
replication job ID or a volume ID, plus the unformatted ``upid``, ``volume``, ``archive``,
``ostemplate``, HA ``resource`` and ACL ``path`` (/vms/N, /nodes/X). Values are read as the
parameter check reads them; a value that fails its format names nothing; ``localhost`` is the
answering node. vzdump and backup jobs with ``all=1`` or ``pool`` address every guest they would
take in (on the node, if bound to one). A list addresses nothing by itself (GET /cluster/resources
names no guest), but a filter naming a guest (``vmid=106``) addresses it. A path the router does
not know (501) addresses only its obvious /nodes/{node}/{qemu,lxc}/{vmid} parts. Requests stopped
by an armed fault or refused for authentication still address what they named.

Changed (``changes``): found by diffing a fingerprint of everything a guest or node owns (see
footprint.py for the list) before and after the handler, and around each task's action when it
finishes; a task's changes go to the request that started it, however late the clock reaches it.
A new task changes its node and, when its ID is a VMID, that guest (so a clone's task marks the
source too); stopping a running task changes the same. Moving a guest changes it, its old node and
its new one (a node owns the guests on it); local-storage volumes and replication targets belong to
nodes as well. HA rules and backup jobs change only the guests they name, and only as far as they
concern each (dropping guest 103 from a job's list changes 103, not the others). Looking at
something never changes it: records made on first read fingerprint like their absence, and reading
a guest agent's command result is not a change.

Not credited to any request: changes made between requests by hand (a test editing ``sim.state``)
and the replication scheduler's runs (as the clock reaches them), which go to ``sim.background_changes``
(brought up to date when read), as do the effects of tasks started before recording was switched
on. Cluster-wide objects (users, tokens, roles, realms, storage definitions, SDN, pools as such, the
datacenter firewall and options) belong to no target, except where they name one (ACLs on /vms/N
and /nodes/X, backup jobs' guests).

Recording costs a few fingerprints per request (each well under 0.1 ms on the default cluster,
growing slowly as backups, snapshots and rules pile up); with it off nothing extra is computed.
"""

from __future__ import annotations

import hmac
import time
from contextlib import nullcontext

import anyio

from .api import SimApp
from .builder import DEFAULT_SECRET, DEFAULT_TOKEN, Spec, build
from .clock import Clock, ManualClock
from .effects import EffectRecorder
from .faults import Fault, FaultBook
from .handlers import ALL_ROUTES
from .recorded import RecordedRequest, Target
from .render import guest_resources_json
from .routes import Context, Router
from .state.scheduler import catch_up, has_work
from .tasks import TaskRunner

AUTH_SCHEME = "PVEAPIToken"


class Simulator:
    """A stateful, deterministic Proxmox VE cluster answering /api2/json like the real one.

    Mount ``sim.app`` with ``httpx2.ASGITransport`` for in-process tests, or serve it with
    ``pvesim.serve``. The default clock is manual: tasks finish when a test advances it.
    ``record_effects=True`` records what each request addressed and changed (module docstring).
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
        record_effects: bool = False,
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
            self.clock.on_advance(self._scheduler_tick)
        self.router = Router(ALL_ROUTES)
        self.context = Context(self.state, self.clock, self.runner, token_id)
        self.requests: list[RecordedRequest] = []
        self.faults = FaultBook()
        self.latency_ms: float = 0
        self._background: set[Target] = set()
        self.effects: EffectRecorder | None = None
        self.record_effects = record_effects
        self.app = SimApp(self)
        # Render the cluster-wide guest records once now, so the first listing is as quick as the rest.
        ordered = sorted(self.state.guests.values(), key=lambda g: g.vmid)
        guest_resources_json(self.context, ordered, self.clock.now())

    @property
    def record_effects(self) -> bool:
        """Whether requests record what they addressed and changed; off keeps the sandbox fast."""
        return self.effects is not None

    @record_effects.setter
    def record_effects(self, on: bool) -> None:
        if on == (self.effects is not None):
            return
        if on:
            recorder = EffectRecorder(self.state, self._background)
            self.runner.watch = recorder
            self.context.background = recorder.background
            self.effects = recorder
        else:
            self.runner.watch = None
            self.context.background = nullcontext
            self.effects = None

    @property
    def background_changes(self) -> set[Target]:
        """Guests and nodes changed by no request (by hand, by the replication scheduler), up to now."""
        if self.effects is not None:
            self.effects.catch_up()
        return self._background

    def _scheduler_tick(self) -> None:
        """pvescheduler wakes on its own: replication runs as time passes, whether or not anyone asks
        (each replication call also catches up first). Its changes are nobody's request's."""
        now = self.clock.now()
        if has_work(self.state, now):
            catch_up(self.state, now)

    def touched(self, since: int = 0) -> tuple[set[Target], set[Target]]:
        """Every guest and node addressed, and every one changed, by ``requests[since:]`` (indexes
        shift when a long run drops the oldest half of ``requests``, past ``api.MAX_RECORDED``)."""
        reads: set[Target] = set()
        changes: set[Target] = set()
        for request in self.requests[since:]:
            reads |= request.reads
            changes |= request.changes
        return reads, changes

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
