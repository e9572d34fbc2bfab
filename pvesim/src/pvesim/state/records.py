"""The records the simulated cluster is made of: guests, nodes, storages, volumes, tasks, users.

They import nothing else of the simulator, so every other state module can build on them.
Tests read and change these objects directly (``sim.state.guests[100].status``). A guest
counts its own changes (``rev``) so that cached listings know when to render it again,
even when a test edits it by hand; a volume does too, so the effect record (footprint.py)
can tell which ones changed without comparing every field.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

GuestType = Literal["qemu", "lxc"]
ConfigValue = str | int | float

# Revisions are unique across all guests and volumes, so a guest re-created under an old VMID
# never matches a render cached for its predecessor, and a revision names one state of one object.
_REVISIONS = itertools.count(1)


class GuestConfig(MutableMapping[str, ConfigValue]):
    """A guest config that behaves like a dict and counts every change (``version``)."""

    __slots__ = ("_data", "version")

    def __init__(self, data: dict[str, ConfigValue] | None = None) -> None:
        self._data: dict[str, ConfigValue] = dict(data or {})
        self.version = 0

    def __getitem__(self, key: str) -> ConfigValue:
        return self._data[key]

    def __setitem__(self, key: str, value: ConfigValue) -> None:
        self._data[key] = value
        self.version += 1

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self.version += 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    # Listings call get() thousands of times; the Mapping mixin's version is several times slower.
    def get(self, key: str, default: ConfigValue | None = None) -> ConfigValue | None:  # type: ignore[override]
        return self._data.get(key, default)

    def __repr__(self) -> str:
        return f"GuestConfig({self._data!r})"

    def as_dict(self) -> dict[str, ConfigValue]:
        """A plain copy, ready for JSON."""
        return dict(self._data)


@dataclass(eq=False)
class GuestProfile:
    """Per-guest constants that make its metrics plausible, stable and distinct."""

    cpu_base: float
    mem_frac: float
    disk_frac: float
    net_in_rate: float
    net_out_rate: float
    read_rate: float
    write_rate: float
    phase: float

    @classmethod
    def draw(cls, rng: random.Random) -> GuestProfile:
        """Plausible, distinct constants from a seeded generator."""
        return cls(
            cpu_base=rng.uniform(0.002, 0.3),
            mem_frac=rng.uniform(0.25, 0.85),
            disk_frac=rng.uniform(0.1, 0.7),
            net_in_rate=rng.uniform(200, 400_000),
            net_out_rate=rng.uniform(200, 250_000),
            read_rate=rng.uniform(500, 900_000),
            write_rate=rng.uniform(500, 600_000),
            phase=rng.uniform(0, 6.28),
        )


@dataclass(frozen=True, slots=True)
class Shape:
    """Sizes derived from a guest's config, cached until the config changes."""

    maxcpu: int
    maxmem: int
    maxdisk: int
    maxswap: int


@dataclass(eq=False)
class Guest:
    """A QEMU VM or an LXC container, with its config and run state."""

    vmid: int
    type: GuestType
    node: str
    config: GuestConfig
    profile: GuestProfile
    status: str = "stopped"
    paused: bool = False
    pool: str | None = None
    lock: str | None = None
    started_at: float | None = None
    pid: int | None = None
    saved_state: bool = False
    hastate: str | None = None

    rev = 0  # not a field: a fresh cluster-wide revision after every attribute change
    # Not fields: sizes derived from the config (see metrics.shape), set without bumping rev.
    shape_cache: ClassVar[tuple[GuestConfig, tuple[str, int], Shape] | None] = None

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name != "shape_cache":
            object.__setattr__(self, "rev", next(_REVISIONS))

    @property
    def name(self) -> str:
        key = "name" if self.type == "qemu" else "hostname"
        value = self.config.get(key)
        prefix = "VM" if self.type == "qemu" else "CT"
        return str(value) if value is not None else f"{prefix}{self.vmid}"

    @property
    def template(self) -> bool:
        return str(self.config.get("template", 0)) == "1"

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def qmpstatus(self) -> str:
        """QEMU's own view: 'paused' while the process runs but the CPUs are stopped."""
        if self.status != "running":
            return "stopped"
        return "paused" if self.paused else "running"

    @property
    def stamp(self) -> tuple[int, int]:
        """Changes whenever anything a listing shows about this guest may have changed."""
        return (self.rev, self.config.version)


@dataclass(eq=False)
class Node:
    """One cluster member and the hardware it pretends to have."""

    name: str
    nodeid: int
    ip: str
    boot_time: float
    cpu_model: str
    sockets: int
    cores: int
    cpus: int
    mhz: str
    mem_total: int
    swap_total: int
    rootfs_total: int
    ssl_fingerprint: str
    cpu_base: float
    mem_frac: float
    rootfs_frac: float
    phase: float
    online: bool = True
    next_pid: int = 0x1000

    def new_pid(self) -> int:
        """Hand out process ids in order, like a kernel does."""
        self.next_pid += 7
        return self.next_pid


@dataclass(eq=False)
class Storage:
    """A storage definition from storage.cfg plus its (pretend) capacity."""

    storage: str
    type: str
    content: tuple[str, ...]
    shared: bool
    options: dict[str, str | int]
    total: int
    used: dict[str, int] = field(default_factory=dict)
    nodes: tuple[str, ...] | None = None
    enabled: bool = True

    def available_on(self, node: str) -> bool:
        return self.enabled and (self.nodes is None or node in self.nodes)

    def used_on(self, node: str) -> int:
        """Bytes in use as seen from ``node`` (one figure for a shared storage)."""
        return self.used.get("" if self.shared else node, 0)


@dataclass(eq=False)
class Volume:
    """One volume in a storage: a disk, an ISO, a template or a backup."""

    volid: str
    content: str
    format: str
    size: int
    ctime: int | None = None
    vmid: int | None = None
    used: int | None = None
    notes: str | None = None
    subtype: str | None = None
    protected: bool = False

    rev = 0  # not a field: a fresh revision after every attribute change, as for Guest

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        object.__setattr__(self, "rev", next(_REVISIONS))


@dataclass(eq=False)
class Pool:
    poolid: str
    comment: str = ""
    storages: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Task:
    """A worker task. ``status`` is None while it runs, then 'OK' or the error text."""

    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    end_at: float
    log: list[str] = field(default_factory=list)
    status: str | None = None
    endtime: int | None = None
    action: Callable[[Task], str | None] | None = None

    @property
    def running(self) -> bool:
        return self.status is None


@dataclass(eq=False)
class User:
    userid: str
    enable: int = 1
    expire: int = 0
    comment: str = ""
    email: str = ""
    firstname: str = ""
    lastname: str = ""


@dataclass(eq=False)
class Token:
    """An API token; ``full_id`` is 'user@realm!name', as PVE writes it in tasks."""

    full_id: str
    secret: str
    privsep: int = 0
    expire: int = 0
    comment: str = ""


@dataclass(eq=False)
class Acl:
    path: str
    ugid: str
    type: str
    roleid: str
    propagate: int = 1
