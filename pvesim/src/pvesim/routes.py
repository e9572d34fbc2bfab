"""The route table: one record per (method, path) with its declared parameters and handler.

Adding an endpoint is one ``Route(...)`` in a handler module's ``ROUTES`` plus one small
function taking a ``Call``. Path placeholders must be declared exactly as the official
schema lists them (it marks a few, like a firewall rule's ``pos``, optional); the router
refuses a table that does not declare them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from .clock import Clock
from .errors import fail
from .params import Param, Value, index
from .state.cluster import ClusterState
from .state.records import Guest, GuestType, Node
from .tasks import TaskRunner

Handler = Callable[["Call"], object]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    params: tuple[Param, ...]
    handler: Handler
    declared: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "declared", index(self.params))
        for name in self.placeholders:
            param = self.declared.get(name)
            if param is None:
                raise ValueError(f"{self.method} {self.path}: {{{name}}} must be a declared parameter")

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(seg[1:-1] for seg in self.path.strip("/").split("/") if seg.startswith("{"))


@dataclass(frozen=True, slots=True)
class Reply:
    """Data plus PVE's optional ``total`` (task lists, task logs) and ``changes`` (pending network diff)."""

    data: object
    total: int | None = None
    changes: str | None = None


@dataclass(frozen=True, slots=True)
class RawJSON:
    """Data already encoded as compact JSON, spliced into the envelope as is."""

    text: str


@dataclass(eq=False)
class Context:
    """What handlers may touch: the cluster, the clock, the task runner and the caller.

    ``background()`` wraps work the cluster does on its own schedule (the replication scheduler
    catching up), so the effect record does not credit it to the request that happened to wake it.
    """

    state: ClusterState
    clock: Clock
    runner: TaskRunner
    user: str
    rendered: dict[int, Rendered] = field(default_factory=dict)
    background: Callable[[], AbstractContextManager[object]] = nullcontext


@dataclass(slots=True)
class Rendered:
    """A guest's cluster-resource JSON: the part that follows its config and state
    (``prefix``, valid for ``stamp``) and the full text for one status interval."""

    stamp: tuple[int, int]
    prefix: str
    bucket: int
    text: str


@dataclass(eq=False)
class Call:
    """One validated request as a handler sees it."""

    ctx: Context
    params: dict[str, Value]

    @property
    def state(self) -> ClusterState:
        return self.ctx.state

    @property
    def now(self) -> float:
        return self.ctx.clock.now()

    @property
    def node(self) -> Node:
        return self.ctx.state.nodes[str(self.params["node"])]

    def text(self, name: str) -> str:
        return str(self.params[name])

    def opt_text(self, name: str) -> str | None:
        value = self.params.get(name)
        return None if value is None else str(value)

    def integer(self, name: str) -> int:
        return int(self.params[name])

    def opt_int(self, name: str, default: int | None = None) -> int | None:
        value = self.params.get(name)
        return default if value is None else int(value)

    def flag(self, name: str) -> bool:
        return bool(self.params.get(name, 0))

    def guest(self, kind: GuestType) -> Guest:
        """The guest from the path, or PVE's error for a config that is not on this node."""
        node, vmid = self.text("node"), self.integer("vmid")
        guest = self.ctx.state.guest_on(node, vmid, kind)
        if guest is None:
            where = "qemu-server" if kind == "qemu" else "lxc"
            raise fail(f"Configuration file 'nodes/{node}/{where}/{vmid}.conf' does not exist")
        return guest


class _Branch:
    __slots__ = ("literal", "methods", "param", "param_name")

    def __init__(self) -> None:
        self.literal: dict[str, _Branch] = {}
        self.param: _Branch | None = None
        self.param_name = ""
        self.methods: dict[str, Route] = {}


class Router:
    """Matches a method and a path (relative to /api2/json) to a route and its path values."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._root = _Branch()
        self.routes: tuple[Route, ...] = tuple(routes)
        for route in self.routes:
            self._add(route)

    def _add(self, route: Route) -> None:
        branch = self._root
        for seg in route.path.strip("/").split("/"):
            if seg.startswith("{"):
                name = seg[1:-1]
                if branch.param is None:
                    branch.param, branch.param_name = _Branch(), name
                elif branch.param_name != name:
                    raise ValueError(f"{route.path}: {{{name}}} conflicts with {{{branch.param_name}}}")
                branch = branch.param
            else:
                branch = branch.literal.setdefault(seg, _Branch())
        if route.method in branch.methods:
            raise ValueError(f"duplicate route {route.method} {route.path}")
        branch.methods[route.method] = route

    def match(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]] | None:
        values: dict[str, str] = {}
        route = self._walk(self._root, segments, 0, method, values)
        return None if route is None else (route, values)

    def _walk(self, branch: _Branch, segments: list[str], at: int, method: str, values: dict[str, str]) -> Route | None:
        if at == len(segments):
            return branch.methods.get(method)
        seg = segments[at]
        child = branch.literal.get(seg)
        if child is not None:
            found = self._walk(child, segments, at + 1, method, values)
            if found is not None:
                return found
        if branch.param is not None:
            values[branch.param_name] = seg
            found = self._walk(branch.param, segments, at + 1, method, values)
            if found is not None:
                return found
            del values[branch.param_name]
        return None


@dataclass(frozen=True, slots=True)
class Download:
    """A file PVE streams instead of JSON (e.g. a task log with download=1)."""

    body: bytes
    filename: str
    content_type: str = "text/plain"
