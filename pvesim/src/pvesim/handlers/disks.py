"""VM drives: moving a disk to another storage or VM, unlinking disks, and the cloud-init drive.

A move copies the volume in a 'qmmove' task; the config then names the copy and, unless delete=1,
keeps the source as the lowest free unusedN. Unlinking a disk leaves it as unusedN; unlinking an
unusedN entry, or any disk with force=1, frees the volume, as PVE's config delete does. On a running
VM, IDE and SATA disks (and EFI and TPM state) cannot be hot-unplugged: their removal waits in pending.
"""

from __future__ import annotations

from ..errors import fail, param_error
from ..params import NODE, VMID, flag, integer, split_list, text
from ..routes import Call, Route
from ..state import cloudinit
from ..state.admin import goes_pending
from ..state.cluster import ClusterState
from ..state.guest_disks import disk_size, find_volume, is_cdrom, join_prop, split_prop, storage_for
from ..state.records import Guest, Storage, Task, Volume
from .guest_changes import DRIVES, check_digest, check_lock
from .guests_admin import fork, still

DISKS = (*DRIVES, *(f"unused{i}" for i in range(256)))
DISK_KEYS = frozenset(DISKS)
FILE_STORAGES = frozenset({"dir", "nfs", "cifs", "glusterfs", "cephfs"})
BLOCK_FORMATS = ("raw",)
HOT_UNPLUG = ("scsi", "virtio")


def cloudinit_pending(c: Call) -> object:
    guest = c.guest("qemu")
    return cloudinit.pending(c.state.admin.of(guest).cloudinit, guest)


def cloudinit_update(c: Call) -> object:
    guest = c.guest("qemu")
    check_lock(guest)
    cloudinit.regenerate(c.state.admin.of(guest).cloudinit, guest)
    return None


def add_unused(guest: Guest, volid: str) -> None:
    """PVE's add_unused_volume: the lowest free unusedN, never the same volume twice."""
    keys = [f"unused{i}" for i in range(256)]
    if any(split_prop(guest.config.get(k, ""))[0] == volid for k in keys):
        return
    guest.config[next(k for k in keys if k not in guest.config)] = volid


def free_volume(state: ClusterState, guest: Guest, volid: str) -> None:
    volume = find_volume(state, volid, guest.node)
    storage = state.storages.get(volid.split(":", 1)[0])
    if volume is not None and storage is not None:
        state.volumes_of(storage, guest.node).remove(volume)


def allocate(state: ClusterState, storage: Storage, node: str, vmid: int, size: int, fmt: str) -> str:
    """The lowest free vm-<vmid>-disk-<n>; file storages keep it under <vmid>/ with the format's extension."""
    volumes = state.volumes.setdefault((storage.storage, "" if storage.shared else node), [])
    taken = {v.volid.split(":", 1)[1].split("/")[-1].split(".")[0] for v in volumes}
    n = next(i for i in range(10_000) if f"vm-{vmid}-disk-{i}" not in taken and f"base-{vmid}-disk-{i}" not in taken)
    name = f"vm-{vmid}-disk-{n}"
    volid = f"{storage.storage}:{vmid}/{name}.{fmt}" if storage.type in FILE_STORAGES else f"{storage.storage}:{name}"
    volumes.append(Volume(volid, "images", fmt, size, vmid=vmid))
    return volid


def _source(guest: Guest, disk: str) -> tuple[str, dict[str, str]]:
    value = guest.config.get(disk)
    if value is None:
        raise fail(f"disk '{disk}' does not exist")
    if is_cdrom(disk, value):
        raise fail("you can't move a cdrom")
    volid, opts = split_prop(value)
    if ":" not in volid:
        raise fail(f"disk '{disk}' has no associated volume")
    return volid, opts


def _in_snapshot(c: Call, guest: Guest, volid: str) -> bool:
    snapshots = c.state.admin.of(guest).snapshots.values()
    return any(split_prop(v)[0] == volid for snap in snapshots for v in snap.config.values())


def move_to_storage(c: Call, guest: Guest, storeid: str) -> str:
    disk, delete, wanted = c.text("disk"), c.flag("delete"), c.opt_text("format")
    check_lock(guest)
    check_digest(c, guest)
    volid, _opts = _source(guest, disk)
    target = storage_for(c.state, storeid, guest.node, "qemu")
    volume = find_volume(c.state, volid, guest.node)
    old_format = volume.format if volume is not None else "raw"
    if volid.split(":", 1)[0] == storeid and (wanted is None or wanted == old_format):
        raise fail("you can't move to the same storage with same format")
    if delete and _in_snapshot(c, guest, volid):
        raise fail("you can't move a disk with snapshots and delete the source")
    fmt = wanted or ("qcow2" if target.type in FILE_STORAGES else "raw")

    def done(task: Task) -> str | None:
        if (gone := still(c, guest)) is not None:
            return gone
        if target.type not in FILE_STORAGES and fmt not in BLOCK_FORMATS:
            return f"unsupported format '{fmt}'"
        current, opts = split_prop(guest.config.get(disk, ""))
        if current != volid:
            return f"disk '{disk}' changed while it was being moved"
        size = volume.size if volume is not None else disk_size(guest.config[disk])
        guest.config[disk] = join_prop(allocate(c.state, target, guest.node, guest.vmid, size, fmt), opts)
        if delete:
            free_volume(c.state, guest, volid)
        else:
            add_unused(guest, volid)
        return None

    return fork(c, "qmmove", guest.vmid, done)


def reassign(c: Call, guest: Guest, target_vmid: int) -> str:
    """Hand a disk over to another VM on the same node: the volume is renamed to the new owner."""
    disk = c.text("disk")
    target_disk = c.opt_text("target-disk") or disk
    if target_vmid == guest.vmid:
        raise param_error({"target-vmid": "must be different than source VMID to reassign disk"})
    other = c.state.guest_on(guest.node, target_vmid, "qemu")
    if other is None:
        raise fail(f"Configuration file 'nodes/{guest.node}/qemu-server/{target_vmid}.conf' does not exist")
    check_lock(guest)
    check_lock(other)
    check_digest(c, guest)
    volid, opts = _source(guest, disk)
    if guest.running and not disk.startswith("unused"):
        raise fail(f"cannot move disk '{disk}' of a running VM - detach it first")
    if target_disk in other.config:
        raise fail(f"target disk key '{target_disk}' is already in use for VM {target_vmid}")
    if target_disk.startswith("unused") != disk.startswith("unused") and not disk.startswith("unused"):
        raise param_error({"target-disk": "can only move a disk to an unused slot from another unused slot"})

    def done(task: Task) -> str | None:
        if (gone := still(c, guest)) is not None:
            return gone
        volume = find_volume(c.state, volid, guest.node)
        storage = c.state.storages[volid.split(":", 1)[0]]
        size = volume.size if volume is not None else disk_size(guest.config[disk])
        fmt = volume.format if volume is not None else "raw"
        new = allocate(c.state, storage, guest.node, target_vmid, size, fmt)
        free_volume(c.state, guest, volid)
        del guest.config[disk]
        other.config[target_disk] = new if target_disk.startswith("unused") else join_prop(new, opts)
        return None

    return fork(c, "qmmove", guest.vmid, done)


def move_disk(c: Call) -> object:
    guest = c.guest("qemu")
    storeid, target_vmid = c.opt_text("storage"), c.opt_int("target-vmid")
    if storeid and target_vmid is not None:
        raise fail("either set 'storage' or 'target-vmid', but not both")
    if storeid:
        return move_to_storage(c, guest, storeid)
    if target_vmid is not None:
        return reassign(c, guest, target_vmid)
    raise fail(
        "Provide either a 'storage' to move the disk to a different storage or 'target-vmid' and"
        " 'target-disk' in order to reassign the disk to a different VM"
    )


def unlink(c: Call) -> object:
    """PVE's unlink is a config delete: unusedN entries (and, with force, disks) lose their volume."""
    guest = c.guest("qemu")
    check_lock(guest)
    force = c.flag("force")
    records = c.state.admin.of(guest)
    for key in split_list(c.text("idlist")):
        value = guest.config.get(key)
        if value is None:
            continue  # PVE warns: cannot delete '<key>' - not set in current configuration!
        volid = split_prop(value)[0]
        volume_disk = ":" in volid and not is_cdrom(key, value) and key in DISK_KEYS
        if volume_disk and goes_pending(guest, key) and not key.startswith(("unused", *HOT_UNPLUG)):
            records.pending_delete.add(key)
            continue
        del guest.config[key]
        if not volume_disk:
            continue
        if force or key.startswith("unused"):
            free_volume(c.state, guest, volid)
        else:
            add_unused(guest, volid)
    return None


DISK = text("disk", optional=False, enum=DISKS)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/nodes/{node}/qemu/{vmid}/cloudinit", (NODE, VMID), cloudinit_pending),
    Route("PUT", "/nodes/{node}/qemu/{vmid}/cloudinit", (NODE, VMID), cloudinit_update),
    Route(
        "POST",
        "/nodes/{node}/qemu/{vmid}/move_disk",
        (
            NODE,
            VMID,
            integer("bwlimit", minimum=0),
            flag("delete"),
            text("digest", max_length=40),
            DISK,
            text("format", enum=("raw", "qcow2", "vmdk")),
            text("storage", format="pve-storage-id"),
            text("target-digest", max_length=40),
            text("target-disk", enum=DISKS),
            integer("target-vmid", minimum=100, maximum=999_999_999, format="pve-vmid"),
        ),
        move_disk,
    ),
    Route(
        "PUT",
        "/nodes/{node}/qemu/{vmid}/unlink",
        (NODE, VMID, flag("force"), text("idlist", optional=False, format="pve-configid-list")),
        unlink,
    ),
)
