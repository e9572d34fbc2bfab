"""Guest configuration changes: config updates with PVE's pending semantics, disk resize,
template conversion and snapshots (a tree with 'current', like PVE's list)."""

from __future__ import annotations

from ..errors import fail
from ..params import NODE, VMID, flag, text
from ..render import config_record
from ..routes import Call, Route
from ..state import cloudinit
from ..state.admin import Snapshot, goes_pending
from ..state.guest_disks import (
    DISK_KEY,
    disk_size,
    disks,
    find_volume,
    is_cdrom,
    new_disk,
    resize_volume,
    split_prop,
    to_base,
    with_mac,
)
from ..state.metrics import parse_size
from ..state.records import Guest, GuestType, Task
from .guest_options import LXC_OPTIONS, QEMU_OPTIONS
from .guests_admin import boot_now, fork, pair

NOUN: dict[GuestType, str] = {"qemu": "VM", "lxc": "CT"}
UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
NOT_OPTIONS = frozenset({"node", "vmid", "delete", "digest", "revert", "skiplock", "force"})
DRIVES = (
    *(f"ide{i}" for i in range(4)),
    *(f"scsi{i}" for i in range(31)),
    *(f"virtio{i}" for i in range(16)),
    *(f"sata{i}" for i in range(6)),
    "efidisk0",
    "tpmstate0",
)
SNAPNAME = text("snapname", optional=False, format="pve-configid", max_length=40)


def check_digest(c: Call, guest: Guest) -> None:
    digest = c.opt_text("digest")
    if digest and digest != config_record(guest)["digest"]:
        raise fail("detected modified configuration - file changed by other user? Try again.")


def check_lock(guest: Guest, skiplock: bool = False) -> None:
    if guest.lock and not skiplock:
        raise fail(f"{NOUN[guest.type]} is locked ({guest.lock})")


def update_config(c: Call, kind: GuestType) -> object:
    """PUT .../config: running guests keep non-hot-pluggable changes pending until they start."""
    guest = c.guest(kind)
    check_digest(c, guest)
    check_lock(guest, c.flag("skiplock"))
    records = c.state.admin.of(guest)
    for key in (c.opt_text("revert") or "").replace(";", ",").split(","):
        records.pending.pop(key, None)
        records.pending_delete.discard(key)
    for key in filter(None, (c.opt_text("delete") or "").replace(";", ",").split(",")):
        cloudinit.note_change(records.cloudinit, guest, key, None)
        if goes_pending(guest, key):
            records.pending_delete.add(key)
            records.pending.pop(key, None)
        elif key in guest.config:
            del guest.config[key]
    for key, value in c.params.items():
        if key in NOT_OPTIONS:
            continue
        if key.startswith("net"):
            value = with_mac(kind, guest.vmid, key, str(value))
        elif DISK_KEY.match(key):
            value = new_disk(c.state, key, str(value), guest.node, guest.vmid, kind)
        cloudinit.note_change(records.cloudinit, guest, key, value)
        if not goes_pending(guest, key):
            guest.config[key] = value
        elif guest.config.get(key) == value:
            records.pending.pop(key, None)
        else:
            records.pending[key] = value
            records.pending_delete.discard(key)
    return None


def pending(c: Call, kind: GuestType) -> object:
    """Every config key with its current value, and what will replace or delete it."""
    guest = c.guest(kind)
    records = c.state.admin.of(guest)
    current = {k: v for k, v in config_record(guest).items() if k != "digest"}
    items: list[dict[str, object]] = []
    for key in sorted(set(current) | set(records.pending) | records.pending_delete):
        item: dict[str, object] = {"key": key}
        if key in current:
            item["value"] = str(current[key])
        if key in records.pending:
            item["pending"] = str(records.pending[key])
        if key in records.pending_delete:
            item["delete"] = 1
        items.append(item)
    return items


def resize(c: Call) -> object:
    guest = c.guest("qemu")
    disk, size_text = c.text("disk"), c.text("size")

    def done(task: Task) -> str | None:
        check_digest(c, guest)
        check_lock(guest, c.flag("skiplock"))
        if disk not in guest.config:
            return f"disk '{disk}' does not exist"
        if is_cdrom(disk, guest.config[disk]):
            return "you can't resize a cdrom"
        if ":" not in split_prop(guest.config[disk])[0]:
            return f"disk '{disk}' has no associated volume"
        current = disk_size(guest.config[disk])
        amount = requested_bytes(size_text)
        wanted = current + amount if size_text.startswith("+") else amount
        if wanted < current:
            return "shrinking disks is not supported"
        if wanted != current:
            resize_volume(c.state, guest, disk, wanted)
        return None

    return fork(c, "resize", guest.vmid, done)


def template(c: Call) -> object:
    guest = c.guest("qemu")

    def check() -> str | None:
        if guest.lock:
            return f"VM is locked ({guest.lock})"
        if c.state.admin.of(guest).snapshots:
            return "unable to create template, because VM contains snapshots"
        if guest.template and not c.opt_text("disk"):
            return "you can't convert a template to a template"
        if guest.running:
            return "you can't convert a VM to template if VM is running"
        return None

    if (problem := check()) is not None:
        raise fail(problem)

    def done(task: Task) -> str | None:
        if (problem := check()) is not None:
            return problem
        guest.config["template"] = 1
        to_base(c.state, guest)
        return None

    return fork(c, "qmtemplate", guest.vmid, done)


def list_snapshots(c: Call, kind: GuestType) -> object:
    guest = c.guest(kind)
    items: list[dict[str, object]] = []
    for snap in sorted(c.state.admin.of(guest).snapshots.values(), key=lambda s: s.snaptime):
        item: dict[str, object] = {"name": snap.name, "snaptime": snap.snaptime, "description": snap.description}
        if kind == "qemu":
            item["vmstate"] = 1 if snap.vmstate else 0
        if snap.parent:
            item["parent"] = snap.parent
        items.append(item)
    current: dict[str, object] = {"name": "current", "description": "You are here!"}
    if kind == "qemu":
        current["digest"] = config_record(guest)["digest"]
        current["running"] = 1 if guest.running else 0
    if "parent" in guest.config:
        current["parent"] = guest.config["parent"]
    return [*items, current]


def create_snapshot(c: Call, kind: GuestType) -> object:
    guest = c.guest(kind)
    name = c.text("snapname")
    for reserved in ("current", "pending"):
        if name.lower() == reserved:
            raise fail(f"unable to use snapshot name '{reserved}' (reserved name)")
    vmstate = kind == "qemu" and c.flag("vmstate")
    description = c.opt_text("description") or ""

    def done(task: Task) -> str | None:
        if guest.template:
            return "you can't take a snapshot if it's a template"
        check_lock(guest)
        snapshots = c.state.admin.of(guest).snapshots
        if name in snapshots:
            return f"snapshot name '{name}' already used"
        config = {k: v for k, v in guest.config.items() if k != "parent"}
        parent = guest.config.get("parent")
        snapshots[name] = Snapshot(
            name,
            int(task.end_at),
            description,
            None if parent is None else str(parent),
            config,
            vmstate=vmstate and guest.running,
            was_running=guest.running,
        )
        guest.config["parent"] = name
        return None

    return fork(c, "qmsnapshot" if kind == "qemu" else "vzsnapshot", guest.vmid, done)


def delete_snapshot(c: Call, kind: GuestType) -> object:
    guest = c.guest(kind)
    name = c.text("snapname")

    def done(task: Task) -> str | None:
        snapshots = c.state.admin.of(guest).snapshots
        snap = snapshots.pop(name, None)
        if snap is None:
            return f"snapshot '{name}' does not exist"
        for child in snapshots.values():
            if child.parent == name:
                child.parent = snap.parent
        if guest.config.get("parent") == name:
            if snap.parent is None:
                del guest.config["parent"]
            else:
                guest.config["parent"] = snap.parent
        return None

    return fork(c, "qmdelsnapshot" if kind == "qemu" else "vzdelsnapshot", guest.vmid, done)


def rollback(c: Call, kind: GuestType) -> object:
    """The config as the snapshot froze it; a RAM snapshot resumes the VM, start=1 boots it."""
    guest = c.guest(kind)
    name, start = c.text("snapname"), c.flag("start")

    def done(task: Task) -> str | None:
        records = c.state.admin.of(guest)
        snap = records.snapshots.get(name)
        if snap is None:
            return f"snapshot '{name}' does not exist"
        check_lock(guest)
        guest.status, guest.paused, guest.started_at, guest.pid = "stopped", False, None, None
        for key in [k for k in guest.config if k not in snap.config]:
            del guest.config[key]
        for key, value in snap.config.items():
            guest.config[key] = value
        guest.config["parent"] = name
        records.pending.clear()
        records.pending_delete.clear()
        for _, volid, opts in disks(guest.config):
            volume = find_volume(c.state, volid, guest.node)
            if volume is not None and "size" in opts:
                volume.size = parse_size(opts["size"])
        if snap.vmstate or start:
            boot_now(c, guest, task.end_at)
        return None

    return fork(c, "qmrollback" if kind == "qemu" else "vzrollback", guest.vmid, done)


def requested_bytes(size: str) -> int:
    """A resize size ('+10G', '40G', '1.5T', '2048M') in bytes, as qm resize reads it."""
    number, unit = size.lstrip("+"), ""
    if number[-1] in UNITS:
        number, unit = number[:-1], number[-1]
    return int(float(number) * UNITS.get(unit, 1))


UPDATE_EXTRA = (text("delete", format="pve-configid-list"), text("digest", max_length=40))
REVERT = text("revert", format="pve-configid-list")
SNAP_BODY = (NODE, VMID, SNAPNAME, text("description"))

ROUTES: tuple[Route, ...] = (
    *pair(
        "PUT",
        "/nodes/{node}/{kind}/{vmid}/config",
        update_config,
        (NODE, VMID, *QEMU_OPTIONS, *UPDATE_EXTRA, REVERT, flag("skiplock")),
        (NODE, VMID, *LXC_OPTIONS, *UPDATE_EXTRA, REVERT),
    ),
    *pair("GET", "/nodes/{node}/{kind}/{vmid}/pending", pending, (NODE, VMID), (NODE, VMID)),
    Route(
        "PUT",
        "/nodes/{node}/qemu/{vmid}/resize",
        (
            NODE,
            VMID,
            text("digest", max_length=40),
            text("disk", optional=False, enum=DRIVES),
            text("size", optional=False, pattern=r"\+?\d+(\.\d+)?[KMGT]?"),
            flag("skiplock"),
        ),
        resize,
    ),
    Route("POST", "/nodes/{node}/qemu/{vmid}/template", (NODE, VMID, text("disk", enum=DRIVES)), template),
    *pair("GET", "/nodes/{node}/{kind}/{vmid}/snapshot", list_snapshots, (NODE, VMID), (NODE, VMID)),
    *pair("POST", "/nodes/{node}/{kind}/{vmid}/snapshot", create_snapshot, (*SNAP_BODY, flag("vmstate")), SNAP_BODY),
    *pair(
        "DELETE",
        "/nodes/{node}/{kind}/{vmid}/snapshot/{snapname}",
        delete_snapshot,
        (NODE, VMID, SNAPNAME, flag("force")),
        (NODE, VMID, SNAPNAME, flag("force")),
    ),
    *pair(
        "POST",
        "/nodes/{node}/{kind}/{vmid}/snapshot/{snapname}/rollback",
        rollback,
        (NODE, VMID, SNAPNAME, flag("start")),
        (NODE, VMID, SNAPNAME, flag("start")),
    ),
)
