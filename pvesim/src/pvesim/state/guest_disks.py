"""Guest disks and property strings: allocating, renaming, moving and freeing volumes the way
PVE's storage layer names them (``local-lvm:vm-105-disk-0``, ``base-`` once a template)."""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from collections.abc import Iterator, Mapping

from ..errors import fail, param_error
from .admin import format_size
from .cluster import ClusterState
from .metrics import GIB, parse_size
from .records import ConfigValue, Guest, GuestProfile, GuestType, Storage, Volume

NEW_DISK = re.compile(r"^(?:([^/:\s]+):)?(\d+(?:\.\d+)?)$")
DISK_KEY = re.compile(r"^(?:ide|sata|scsi|virtio)\d+$|^efidisk0$|^tpmstate0$|^rootfs$|^mp\d+$")
CONTENT: dict[GuestType, str] = {"qemu": "images", "lxc": "rootdir"}


def split_prop(value: object) -> tuple[str, dict[str, str]]:
    """'local-lvm:vm-100-disk-0,size=8G' → ('local-lvm:vm-100-disk-0', {'size': '8G'})."""
    head, opts = "", {}
    for part in str(value).split(","):
        key, sep, val = part.partition("=")
        if sep:
            opts[key] = val
        elif not head:
            head = part
    return head, opts


def join_prop(head: str, opts: dict[str, str]) -> str:
    parts = [head] if head else []
    return ",".join(parts + [f"{k}={v}" for k, v in opts.items()])


def is_cdrom(key: str, value: object) -> bool:
    return key.startswith(("ide", "sata", "scsi")) and split_prop(value)[1].get("media") == "cdrom"


def disks(config: Mapping[str, ConfigValue]) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(key, volid, options) of every disk in a config that holds a storage volume."""
    for key in list(config):
        value = config[key]
        if not DISK_KEY.match(key) or is_cdrom(key, value):
            continue
        volid, opts = split_prop(value)
        if ":" in volid:
            yield key, volid, opts


def storage_for(state: ClusterState, storeid: str, node: str, kind: GuestType) -> Storage:
    storage = state.storages.get(storeid)
    if storage is None:
        raise fail(f"storage '{storeid}' does not exist")
    if not storage.available_on(node):
        raise fail(f"storage '{storeid}' is not available on node '{node}'")
    if CONTENT[kind] not in storage.content:
        what = "vm images" if kind == "qemu" else "container directories"
        raise param_error({"storage": f"storage '{storeid}' does not support {what}"})
    return storage


def find_volume(state: ClusterState, volid: str, node: str) -> Volume | None:
    storeid = volid.split(":", 1)[0]
    storage = state.storages.get(storeid)
    if storage is None:
        return None
    return next((v for v in state.volumes_of(storage, node) if v.volid == volid), None)


def allocate(state: ClusterState, storage: Storage, node: str, vmid: int, size: int, kind: GuestType) -> str:
    """A new volume named like PVE's find_free_diskname: the lowest free vm-<vmid>-disk-<n>."""
    key = (storage.storage, "" if storage.shared else node)
    volumes = state.volumes.setdefault(key, [])
    taken = {v.volid for v in volumes}
    n = 0
    while any(f"{storage.storage}:{p}-{vmid}-disk-{n}" in taken for p in ("vm", "base")):
        n += 1
    volid = f"{storage.storage}:vm-{vmid}-disk-{n}"
    volumes.append(Volume(volid, CONTENT[kind], "raw", size, vmid=vmid))
    return volid


def new_disk(state: ClusterState, key: str, value: str, node: str, vmid: int, kind: GuestType) -> str:
    """'local-lvm:32,iothread=1' → 'local-lvm:vm-100-disk-0,iothread=1,size=32G', allocating the volume."""
    head, opts = split_prop(value)
    match = NEW_DISK.match(head)
    if match is None or is_cdrom(key, value) or head in ("none", "cdrom"):
        if head.endswith(".iso") and not is_cdrom(key, value):
            raise param_error({key: "explicit 'media=cdrom' is required for iso images"})
        return value
    storeid, gib = match.group(1), float(match.group(2))
    if not storeid:
        raise fail("no storage ID specified (and no default storage)")
    storage = storage_for(state, storeid, node, kind)
    size = int(gib * GIB)
    volid = allocate(state, storage, node, vmid, size, kind)
    opts.pop("size", None)
    opts["size"] = format_size(size)
    return join_prop(volid, opts)


def owned_volumes(state: ClusterState, guest: Guest) -> list[tuple[list[Volume], Volume]]:
    """Disk volumes (not backups) that belong to the guest on the storages its node sees."""
    found = []
    for storage in state.storages.values():
        if not storage.available_on(guest.node):
            continue
        volumes = state.volumes.get((storage.storage, "" if storage.shared else guest.node), [])
        found += [(volumes, v) for v in volumes if v.vmid == guest.vmid and v.content in ("images", "rootdir")]
    return found


def free_volumes(state: ClusterState, guest: Guest, *, unreferenced: bool) -> None:
    referenced = {volid for _, volid, _ in disks(guest.config)}
    for volumes, volume in owned_volumes(state, guest):
        if unreferenced or volume.volid in referenced:
            volumes.remove(volume)


def move_volumes(state: ClusterState, guest: Guest, target: str, mapping: dict[str, str]) -> None:
    """Migration: local volumes follow the guest to ``target`` (onto mapped storages, if asked)."""
    for key, volid, opts in list(disks(guest.config)):
        storeid, _, name = volid.partition(":")
        storage = state.storages.get(storeid)
        if storage is None:
            continue
        dest_id = mapping.get(storeid, mapping.get("", storeid))
        if storage.shared and dest_id == storeid:
            continue
        volume = find_volume(state, volid, guest.node)
        if volume is not None:
            state.volumes_of(storage, guest.node).remove(volume)
            dest = state.storages[dest_id]
            volume.volid = f"{dest_id}:{name}"
            state.volumes.setdefault((dest_id, "" if dest.shared else target), []).append(volume)
        guest.config[key] = join_prop(f"{dest_id}:{name}", opts)


def resize_volume(state: ClusterState, guest: Guest, key: str, size: int) -> None:
    volid, opts = split_prop(guest.config[key])
    opts.pop("size", None)
    opts["size"] = format_size(size)
    guest.config[key] = join_prop(volid, opts)
    volume = find_volume(state, volid, guest.node)
    if volume is not None:
        volume.size = size


def disk_size(value: object) -> int:
    return parse_size(split_prop(value)[1].get("size", "0"))


def to_base(state: ClusterState, guest: Guest) -> None:
    """Template conversion renames every disk vm-<id>-disk-<n> to base-<id>-disk-<n>."""
    for key, volid, opts in list(disks(guest.config)):
        based = volid.replace(f":vm-{guest.vmid}-", f":base-{guest.vmid}-", 1)
        volume = find_volume(state, volid, guest.node)
        if volume is not None:
            volume.volid = based
        guest.config[key] = join_prop(based, opts)


def mac_for(vmid: int, slot: str) -> str:
    """A stable address under Proxmox's prefix, different per guest and interface."""
    digest = hashlib.sha1(f"{vmid}/{slot}".encode(), usedforsecurity=False).hexdigest().upper()
    return "BC:24:11:" + ":".join(digest[i : i + 2] for i in (0, 2, 4))


def with_mac(kind: GuestType, vmid: int, key: str, value: str) -> str:
    """A NIC as PVE stores it: QEMU 'virtio=<mac>,bridge=...', LXC 'name=eth0,...,hwaddr=<mac>,type=veth'."""
    head, opts = split_prop(value)
    if kind == "qemu":
        models = ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3")
        model = next((m for m in models if m in opts), head or opts.pop("model", "virtio"))
        mac = opts.pop(model, "") or opts.pop("macaddr", "") or mac_for(vmid, key)
        return join_prop(f"{model}={mac}", opts)
    opts.setdefault("hwaddr", mac_for(vmid, key))
    opts.setdefault("type", "veth")
    name = opts.pop("name", f"eth{key[3:]}")
    return join_prop(f"name={name}", dict(sorted(opts.items())))


def new_uuid(vmid: int, salt: str) -> str:
    return str(uuid.UUID(int=random.Random(f"{salt}-{vmid}").getrandbits(128), version=4))


def profile_for(vmid: int) -> GuestProfile:
    """Metrics constants for a guest created at run time, seeded from its VMID."""
    rng = random.Random(f"pvemcp-sim-guest-{vmid}")
    return GuestProfile.draw(rng)
