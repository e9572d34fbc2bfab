"""Storage content: ISO images, container templates, guest disks and nightly backups.

Backups come with the vzdump tasks that wrote them, so an archive in ``nfs-backup`` and
the task log that mentions it agree. One recent backup job on the first node failed.
"""

from __future__ import annotations

import random
import time

from .history import past_task
from .state.cluster import ClusterState
from .state.metrics import GIB, max_disk
from .state.records import Guest, Node, Storage, Volume

DAY = 86_400
ISOS = (
    ("debian-13.1.0-amd64-netinst.iso", 783_286_272),
    ("ubuntu-24.04.3-live-server-amd64.iso", 3_213_064_192),
    ("virtio-win-0.1.285.iso", 771_948_544),
)
TEMPLATES = (
    ("debian-13-standard_13.1-2_amd64.tar.zst", "tzst", 129_434_624),
    ("ubuntu-24.04-standard_24.04-2_amd64.tar.zst", "tzst", 141_560_320),
    ("alpine-3.22-default_20250617_amd64.tar.xz", "txz", 3_121_464),
)
BACKUP_GUESTS = 40
NIGHTS = 3


def seed_content(state: ClusterState, rng: random.Random, now: float) -> None:
    local, lvm, nfs = (state.storages[s] for s in ("local", "local-lvm", "nfs-backup"))
    local.total = next(iter(state.nodes.values())).rootfs_total
    lvm.total = 920_350_134_272
    for node in state.nodes.values():
        vols = [Volume(f"local:iso/{name}", "iso", "iso", size) for name, size in ISOS]
        vols += [Volume(f"local:vztmpl/{n}", "vztmpl", fmt, size) for n, fmt, size in TEMPLATES]
        for vol in vols:
            vol.ctime = int(now - rng.uniform(3, 200) * DAY)
        state.volumes[("local", node.name)] = vols
        local.used[node.name] = int(node.rootfs_total * node.rootfs_frac)
        state.volumes[("local-lvm", node.name)] = []
        lvm.used[node.name] = 0
    for guest in state.guests.values():
        _guest_disk(state, lvm, guest)
    _backups(state, nfs, rng, now)


def _guest_disk(state: ClusterState, lvm: Storage, guest: Guest) -> None:
    key = "scsi0" if guest.type == "qemu" else "rootfs"
    volid = str(guest.config[key]).split(",", 1)[0]
    size = max_disk(guest)
    created = str(guest.config.get("meta", "")).rpartition("ctime=")[2]
    vol = Volume(
        volid,
        "images" if guest.type == "qemu" else "rootdir",
        "raw",
        size,
        ctime=int(created) if created.isdigit() else None,
        vmid=guest.vmid,
    )
    state.volumes[("local-lvm", guest.node)].append(vol)
    lvm.used[guest.node] += int(size * guest.profile.disk_frac)


def _stamp(ctime: int) -> str:
    return time.strftime("%Y_%m_%d-%H_%M_%S", time.gmtime(ctime))


def _backups(state: ClusterState, nfs: Storage, rng: random.Random, now: float) -> None:
    chosen = [g for g in state.guests.values() if not g.template][:BACKUP_GUESTS]
    per_node: dict[str, list[Guest]] = {}
    for guest in chosen:
        per_node.setdefault(guest.node, []).append(guest)
    volumes: list[Volume] = []
    first = next(iter(state.nodes))
    day0 = int(now // DAY) * DAY + 3600
    if day0 > now:
        day0 -= DAY
    for night in range(NIGHTS - 1, -1, -1):
        start = day0 - night * DAY
        for node_name, guests in per_node.items():
            node = state.nodes[node_name]
            if start <= node.boot_time:
                continue
            failed = guests[-1].vmid if night == 0 and node_name == first else None
            volumes += _vzdump(state, node, guests, start, failed, rng)
    nfs.used[""] = sum(v.size for v in volumes) + 1_350 * GIB
    state.volumes[("nfs-backup", "")] = sorted(volumes, key=lambda v: v.volid)


def _vzdump(
    state: ClusterState, node: Node, guests: list[Guest], start: int, failed: int | None, rng: random.Random
) -> list[Volume]:
    """One nightly job on one node: its archives and its task log."""
    ids = " ".join(str(g.vmid) for g in guests)
    lines = [
        f"INFO: starting new backup job: vzdump {ids} --mode snapshot --storage nfs-backup "
        "--compress zstd --notes-template '{{guestname}}' --mailnotification failure --quiet 1"
    ]
    volumes: list[Volume] = []
    at = start + 2
    for guest in guests:
        kind = guest.type
        stamp = _stamp(at)
        lines.append(f"INFO: Starting Backup of VM {guest.vmid} ({kind})")
        lines.append(f"INFO: Backup started at {stamp[:10].replace('_', '-')} {stamp[11:].replace('_', ':')}")
        lines.append(f"INFO: status = {guest.status}")
        lines.append(f"INFO: {'VM' if kind == 'qemu' else 'CT'} Name: {guest.name}")
        took = int(rng.uniform(8, 90))
        if guest.vmid == failed:
            lines.append(
                f"ERROR: Backup of VM {guest.vmid} failed - unable to create temporary directory "
                f"'/mnt/pve/nfs-backup/dump/vzdump-{kind}-{guest.vmid}-{stamp}.tmp' - Stale file handle"
            )
            lines.append(f"INFO: Failed at {stamp[:10].replace('_', '-')} {stamp[11:].replace('_', ':')}")
            at += 3
            continue
        ext = "vma.zst" if kind == "qemu" else "tar.zst"
        name = f"vzdump-{kind}-{guest.vmid}-{stamp}.{ext}"
        size = max(64 * 1024 * 1024, int(max_disk(guest) * guest.profile.disk_frac * 0.45))
        lines.append("INFO: backup mode: snapshot")
        lines.append(f"INFO: creating vzdump archive '/mnt/pve/nfs-backup/dump/{name}'")
        lines.append(f"INFO: archive file size: {size / GIB:.2f}GB")
        lines.append(f"INFO: Finished Backup of VM {guest.vmid} (00:{took // 60:02d}:{took % 60:02d})")
        volumes.append(
            Volume(
                f"nfs-backup:backup/{name}",
                "backup",
                ext,
                size,
                ctime=at,
                vmid=guest.vmid,
                notes=guest.name,
                subtype=kind,
            )
        )
        at += took + 2
    error = None
    if failed is not None:
        lines.append("INFO: Backup job finished with errors")
        error = "job errors"
    else:
        lines.append("INFO: Backup job finished successfully")
    past_task(state, node, "vzdump", "", start, at - start, lines, error)
    return volumes
