"""Records behind guest administration: snapshots, pending changes, guest-agent commands,
replication jobs and the datacenter options.

Per-guest records hang off the ``Guest`` object itself (a weak mapping), so a guest that is
destroyed and re-created under the same VMID starts clean, as it does in PVE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from .cloudinit import OPTIONS as CLOUDINIT_OPTIONS

if TYPE_CHECKING:
    from .records import ConfigValue, Guest

# Options a running VM takes at once; everything else waits in 'pending' until the next start.
QEMU_FAST = frozenset(
    {"name", "hotplug", "onboot", "shares", "startup", "description", "protection", "tags", "balloon"}
    | {"vmstatestorage", "hookscript", "lock"}
)
LXC_PENDING = frozenset({"arch", "cmode", "console", "features", "ostype", "rootfs", "timezone", "tty", "unprivileged"})
NUMBERED = re.compile(r"^(net|mp|dev)\d+$")


@dataclass(eq=False)
class Snapshot:
    """One snapshot: the config it froze and its place in the tree."""

    name: str
    snaptime: int
    description: str
    parent: str | None
    config: dict[str, ConfigValue]
    vmstate: bool = False
    was_running: bool = False


@dataclass(eq=False)
class AgentRun:
    """A command started through the QEMU guest agent; it ends at ``done_at`` on the sim clock."""

    pid: int
    done_at: float
    exitcode: int
    out: str = ""
    err: str = ""


@dataclass(eq=False)
class GuestRecords:
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    pending: dict[str, ConfigValue] = field(default_factory=dict)
    pending_delete: set[str] = field(default_factory=set)
    agent_runs: dict[int, AgentRun] = field(default_factory=dict)
    next_agent_pid: int = 1000
    cloudinit: dict[str, ConfigValue | None] = field(default_factory=dict)  # sim/cloudinit.py: what the drive holds


@dataclass(eq=False)
class ReplicationJob:
    guest: int
    jobnum: int
    target: str
    source: str
    schedule: str = "*/15"
    comment: str = ""
    disable: bool = False
    rate: float | None = None  # MB/s; None: unlimited
    remove_job: str | None = None  # 'full' or 'local' once marked for removal

    @property
    def id(self) -> str:
        return f"{self.guest}-{self.jobnum}"

    def record(self) -> dict[str, object]:
        item: dict[str, object] = {
            "id": self.id,
            "type": "local",
            "guest": self.guest,
            "jobnum": self.jobnum,
            "target": self.target,
            "source": self.source,
            "schedule": self.schedule,
        }
        if self.comment:
            item["comment"] = self.comment
        if self.disable:
            item["disable"] = 1
        if self.rate is not None:
            item["rate"] = self.rate
        if self.remove_job:
            item["remove_job"] = self.remove_job
        return item


def default_options() -> dict[str, object]:
    """datacenter.cfg as GET /cluster/options parses it."""
    return {
        "keyboard": "en-us",
        "console": "html5",
        "mac_prefix": "BC:24:11",
        "migration": {"type": "secure"},
        "ha": {"shutdown_policy": "conditional"},
        "next-id": {"lower": "100", "upper": "1000000"},
    }


@dataclass(eq=False)
class AdminState:
    records: WeakKeyDictionary[Guest, GuestRecords] = field(default_factory=WeakKeyDictionary)
    replication: dict[str, ReplicationJob] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=default_options)

    def of(self, guest: Guest) -> GuestRecords:
        found = self.records.get(guest)
        if found is None:
            found = self.records[guest] = GuestRecords()
        return found

    def jobs_of(self, vmid: int) -> list[ReplicationJob]:
        return [job for job in self.replication.values() if job.guest == vmid]


def goes_pending(guest: Guest, key: str) -> bool:
    """Whether a change to ``key`` waits for the next start instead of applying now."""
    if not guest.running:
        return False
    if guest.type == "qemu":
        return key not in QEMU_FAST and key not in CLOUDINIT_OPTIONS and not key.startswith("net")
    return key in LXC_PENDING or bool(NUMBERED.match(key) and not key.startswith("net"))


def apply_pending(admin: AdminState, guest: Guest) -> None:
    """Fold pending changes into the config, as PVE does when the guest starts."""
    records = admin.records.get(guest)
    if records is None or not (records.pending or records.pending_delete):
        return
    for key in sorted(records.pending_delete):
        if key in guest.config:
            del guest.config[key]
    for key, value in records.pending.items():
        guest.config[key] = value
    records.pending.clear()
    records.pending_delete.clear()


def pending_view(admin: AdminState, guest: Guest, config: dict[str, object]) -> dict[str, object]:
    """A config record with the pending values applied, as GET .../config shows it by default."""
    records = admin.records.get(guest)
    if records is None:
        return config
    view = {k: v for k, v in config.items() if k not in records.pending_delete}
    view.update(records.pending)
    return dict(sorted(view.items()))


def format_size(size: int) -> str:
    """PVE::JSONSchema::format_size: the largest unit that divides the size exactly."""
    unit = 0
    while unit < 4 and size and size % 1024 == 0:
        size //= 1024
        unit += 1
    return f"{size}{('', 'K', 'M', 'G', 'T')[unit]}"
