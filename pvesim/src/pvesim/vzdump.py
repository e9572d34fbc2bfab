"""What a vzdump worker does: one archive per guest on the target storage, and PVE's log lines."""

from __future__ import annotations

import time

from .state.backup import Archive
from .state.cluster import ClusterState
from .state.metrics import GIB, max_disk
from .state.records import Guest, Storage, Task, Volume

EXTENSIONS = {"0": "", "1": ".lzo", "lzo": ".lzo", "gzip": ".gz", "zstd": ".zst"}


def stamp(at: float) -> str:
    return time.strftime("%Y_%m_%d-%H_%M_%S", time.gmtime(at))


def clock(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


def notes(template: str, guest: Guest, cluster: str) -> str:
    """PVE's notes-template variables; a literal '\\n' becomes a line break."""
    for key, value in (("guestname", guest.name), ("vmid", str(guest.vmid)), ("node", guest.node)):
        template = template.replace("{{" + key + "}}", value)
    return template.replace("{{cluster}}", cluster).replace("\\n", "\n")


def storage_problem(state: ClusterState, name: str) -> str | None:
    """PVE::VZDump->new's storage check, as the worker reports it."""
    storage = state.storages.get(name)
    if storage is None:
        return f"could not get storage information for '{name}': storage '{name}' does not exist"
    if "backup" not in storage.content:
        return (
            f"could not get storage information for '{name}': can't use storage '{name}' for backups"
            " - wrong content type"
        )
    return None


def back_up(
    state: ClusterState, task: Task, storage: Storage, vmid: int, mode: str, compress: str, template: str | None
) -> bool:
    """Archive one guest at the end of the task; log like PVE and return whether it worked."""
    guest = state.guests.get(vmid)
    at = task.end_at
    if guest is None or guest.node != task.node:
        task.log.append(
            f"ERROR: Backup of VM {vmid} failed - unable to find configuration file for VM {vmid} on node '{task.node}'"
        )
        return False
    kind = guest.type
    ext = ("vma" if kind == "qemu" else "tar") + EXTENSIONS.get(compress, "")
    name = f"vzdump-{kind}-{vmid}-{stamp(task.starttime)}.{ext}"
    size = max(64 * 1024 * 1024, int(max_disk(guest) * guest.profile.disk_frac * 0.45))
    where = f"{storage.options['path']}/dump/{name}" if "path" in storage.options else f"{storage.storage}:{name}"
    task.log += [
        f"INFO: Starting Backup of VM {vmid} ({kind})",
        f"INFO: Backup started at {clock(task.starttime)}",
        f"INFO: status = {guest.status}",
        f"INFO: {'VM' if kind == 'qemu' else 'CT'} Name: {guest.name}",
        f"INFO: backup mode: {mode}",
    ]
    if mode == "stop" and guest.running:
        task.log.append("INFO: stopping virtual guest")
    task.log += [f"INFO: creating vzdump archive '{where}'", f"INFO: archive file size: {size / GIB:.2f}GB"]
    if mode == "stop" and guest.running:
        task.log.append("INFO: restarting vm")
    volume = Volume(
        f"{storage.storage}:backup/{name}",
        "backup",
        ext,
        size,
        ctime=int(at),
        vmid=vmid,
        notes=notes(template, guest, state.cluster_name) if template else None,
        subtype=kind,
    )
    key = (storage.storage, "" if storage.shared else task.node)
    state.volumes.setdefault(key, []).append(volume)
    storage.used[key[1]] = storage.used.get(key[1], 0) + size
    state.backup.archives[volume.volid] = Archive(kind, guest.config.as_dict())
    took = int(at - task.starttime)
    task.log.append(f"INFO: Finished Backup of VM {vmid} (00:{took // 60:02d}:{took % 60:02d})")
    return True
