"""Migration preconditions (GET /nodes/{node}/{qemu|lxc}/{vmid}/migrate), following PVE's migrate_vm_precondition.

PVE answers what its migration dialog shows: whether the guest runs, which cluster members may take it
(every member but the guest's own node, online or not, unless a storage its disks use is not available
there or a negative HA resource affinity keeps it away), and for a VM its volumes on local storage and
the devices that tie it to its node. A locked guest is refused, as PVE's check_lock does. The LXC answer
spells its keys with dashes and knows nothing of disks or devices.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from ..errors import fail
from ..params import NODE, VMID, text
from ..routes import Call, Route
from ..state.guest_disks import DISK_KEY, split_prop
from ..state.ha import sid_of
from ..state.metrics import parse_size
from ..state.records import ConfigValue, Guest, GuestType, Task
from .ha import request_motion

NOUN: dict[GuestType, str] = {"qemu": "VM", "lxc": "CT"}
TARGET = text("target", format="pve-node")
VOLUME_KEY = re.compile(r"^(?:ide|sata|scsi|virtio)\d+$|^efidisk0$|^tpmstate0$|^unused\d+$|^vmstate$")
LOCAL_DEVICE = re.compile(r"^(?:usb|hostpci|serial|parallel|virtiofs)\d+$")
Disk = dict[str, object]


def _check_lock(guest: Guest) -> None:
    if guest.lock:
        raise fail(f"{NOUN[guest.type]} is locked ({guest.lock})")


def _managed(guest: Guest) -> bool:
    """PVE's vm_is_ha_managed: an 'ignored' resource counts as not managed."""
    return guest.hastate is not None and guest.hastate != "ignored"


def _motion_info(c: Call, guest: Guest) -> tuple[list[str], dict[str, list[dict[str, str]]]]:
    """PVE::HA::Config::get_resource_motion_info: resources that move along (positive resource affinity)
    and, per online node, the resources that keep this one away from it (negative resource affinity)."""
    sid = sid_of(guest)
    together: set[str] = set()
    separate: set[str] = set()
    for rule in c.state.ha.rules.values():
        if rule.type != "resource-affinity" or rule.disable or sid not in rule.resources:
            continue
        (together if rule.affinity == "positive" else separate).update(r for r in rule.resources if r != sid)
    by_sid = {sid_of(g): g for g in c.state.guests.values() if g.hastate is not None}
    dependent = sorted(s for s in together if s in by_sid and by_sid[s].hastate != "ignored")
    blocking: dict[str, list[dict[str, str]]] = {}
    for name, node in c.state.nodes.items():
        if not node.online:
            continue
        for other in sorted(separate):
            peer = by_sid.get(other)
            if peer is None or peer.hastate == "ignored":
                continue
            request = c.state.ha.requests.get(peer)
            if peer.node != name or (request is not None and request.target != name):
                continue
            blocking.setdefault(name, []).append({"sid": other, "cause": "resource-affinity"})
    return dependent, blocking


def _volumes(config: Mapping[str, ConfigValue]) -> Iterator[tuple[str, str, dict[str, str]]]:
    for key in list(config):
        if VOLUME_KEY.match(key):
            volid, opts = split_prop(config[key])
            if volid:
                yield key, volid, opts


def _local_disks(c: Call, guest: Guest) -> list[Disk]:
    """check_vm_disks_local: every volume the config, its pending changes or its snapshots name that does not
    live on shared storage (CD-ROM drives included, an empty one aside), with what foreach_volid records."""
    records = c.state.admin.of(guest)
    sources: list[tuple[Mapping[str, ConfigValue], str | None, bool]] = [(guest.config, None, False)]
    sources.append((records.pending, None, True))
    sources += [(snap.config, name, False) for name, snap in records.snapshots.items()]
    found: dict[str, Disk] = {}
    for config, snapname, pending in sources:
        for key, volid, opts in _volumes(config):
            storage = c.state.storages.get(volid.split(":", 1)[0]) if ":" in volid else None
            cdrom = opts.get("media") == "cdrom"
            if (storage is not None and storage.shared) or opts.get("shared") == "1" or (cdrom and volid == "none"):
                continue
            disk = found.setdefault(volid, {"volid": volid, "cdrom": 1, "is_unused": 0, "is_attached": 0})
            if not cdrom:
                disk["cdrom"] = 0
            unused = key.startswith("unused")
            disk["is_unused"] = int(bool(disk["is_unused"]) or unused)
            if not unused and snapname is None and not pending:
                disk["is_attached"] = 1
            disk["is_cloudinit"] = int("cloudinit" in volid)
            disk.setdefault("replicate", int(opts.get("replicate", "1") != "0"))
            disk.setdefault("shared", 0)
            disk.setdefault("is_vmstate", int(key == "vmstate"))
            disk.setdefault("is_tpmstate", int(key == "tpmstate0"))
            if snapname is not None:
                refs = disk.setdefault("referenced_in_snapshot", {})
                assert isinstance(refs, dict)
                refs[snapname] = 1
            if pending:
                disk["referenced_in_pending"] = 1
            if "size" in opts:
                disk.setdefault("size", parse_size(opts["size"]))
            if DISK_KEY.match(key) and not unused:
                disk["drivename"] = key
    return list(found.values())


def _local_resources(guest: Guest) -> tuple[list[str], dict[str, dict[str, str]]]:
    """check_local_resources: devices that tie a VM to its node, and mapped devices (by cluster mapping name)."""
    config, running = guest.config, guest.running
    local: list[str] = []
    if running:
        local += [key for key in ("amd-sev", "intel-tdx") if key in config]
        local += ["virtiofs"] if any(k.startswith("virtiofs") for k in config) else []
    local += [key for key in ("hostusb", "hostpci", "ivshmem") if key in config]
    mapped: dict[str, dict[str, str]] = {}
    for key in sorted(config):
        value = str(config[key])
        head, opts = split_prop(value)
        if key.startswith("usb") and opts.get("host", "").lower() == "spice":
            continue
        if key.startswith(("usb", "hostpci")) and "mapping" in opts:
            mapped[key] = {"name": opts["mapping"]}
            if key.startswith("hostpci") and not running:  # a mapped PCI device blocks only a live migration
                continue
        if key.startswith("virtiofs"):
            mapped[key] = {"name": opts.get("dirid", head)}
        if key.startswith("serial") and value == "socket":  # recreated on the target
            continue
        if LOCAL_DEVICE.match(key):
            local.append(key)
    return local, mapped


def _unavailable_storages(c: Call, guest: Guest, node: str) -> list[str]:
    """check_local_storage_availability: storages of the VM's drives that are disabled or limited to other nodes."""
    missing: set[str] = set()
    for key, volid, _ in _volumes(guest.config):
        if key.startswith("unused") or key == "vmstate" or ":" not in volid:
            continue
        storeid = volid.split(":", 1)[0]
        storage = c.state.storages.get(storeid)
        if storage is None:
            raise fail(f"storage '{storeid}' does not exist")
        if not storage.available_on(node):
            missing.add(storeid)
    return sorted(missing)


def precondition(c: Call, kind: GuestType) -> object:
    guest = c.guest(kind)
    _check_lock(guest)
    dependent, blocking = _motion_info(c, guest) if _managed(guest) else ([], {})
    local: list[str] = []
    mapped: dict[str, dict[str, str]] = {}
    if kind == "qemu":
        local, mapped = _local_resources(guest)
    allowed: list[str] = []
    not_allowed: dict[str, dict[str, object]] = {}
    for name in c.state.nodes:  # get_nodelist: every member, online or not
        if name == guest.node:
            continue
        reasons: dict[str, object] = {}
        if kind == "qemu" and (unavailable := _unavailable_storages(c, guest, name)):
            reasons["unavailable_storages"] = unavailable
        if mapped:  # the simulated cluster has no resource mappings: no other node provides them
            reasons["unavailable-resources"] = sorted(mapped)
        if name in blocking:
            reasons["blocking-ha-resources"] = blocking[name]
        if reasons:
            not_allowed[name] = reasons
        else:
            allowed.append(name)
    if kind == "lxc":
        answer: dict[str, object] = {"running": int(guest.running), "allowed-nodes": allowed}
        answer["not-allowed-nodes"] = not_allowed
    else:
        answer = {"running": int(guest.running), "allowed_nodes": allowed, "not_allowed_nodes": not_allowed}
        answer["local_disks"] = _local_disks(c, guest)
        answer["local_resources"] = local
        answer["mapped-resources"] = sorted(mapped)
        answer["mapped-resource-info"] = mapped
        answer["has-dbus-vmstate"] = 1
    if _managed(guest):
        answer["dependent-ha-resources"] = dependent
    return answer


def ha_migrate(c: Call, guest: Guest, target: str) -> str:
    """PVE hands an HA-managed guest's migration to the HA manager: an 'hamigrate' worker runs
    `ha-manager migrate`, and the CRM moves the guest in a worker of its own."""
    noun = "VM" if guest.type == "qemu" else "CT"

    def request(task: Task) -> str | None:
        task.log.append(f"Requesting HA migration for {noun} {guest.vmid} to node {target}")
        if c.state.guests.get(guest.vmid) is guest and guest.hastate not in (None, "ignored"):
            request_motion(c, guest, target, "migrate")
        return None

    return c.ctx.runner.start(c.node, "hamigrate", str(guest.vmid), c.ctx.user, action=request).upid


def qemu_precondition(c: Call) -> object:
    return precondition(c, "qemu")


def lxc_precondition(c: Call) -> object:
    return precondition(c, "lxc")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/nodes/{node}/qemu/{vmid}/migrate", (NODE, VMID, TARGET), qemu_precondition),
    Route("GET", "/nodes/{node}/lxc/{vmid}/migrate", (NODE, VMID, TARGET), lxc_precondition),
)
