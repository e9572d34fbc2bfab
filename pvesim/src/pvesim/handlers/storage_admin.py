"""Storage administration: download a file from a URL into a storage, delete a volume, prune backups.

The simulated internet answers every http(s) URL with ``remote_body(url)``: its checksum is what a
download verifies, so a test (or a person) can compute the right one. The file lands with a size
derived from the URL. Volumes change when the worker task ends, as with PVE's forked workers.
"""

from __future__ import annotations

import hashlib
import re
import time

from ..errors import ApiError, fail, param_error
from ..params import NODE, VMID_FILTER, flag, integer, text
from ..prune import parse_keep, plan
from ..routes import Call, Route
from ..state.cluster import ClusterState
from ..state.records import Storage, Task, Volume

CHECKSUMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
SUBDIRS = {"iso": "template/iso", "vztmpl": "template/cache", "backup": "dump", "import": "import"}
SUBDIRS |= {"snippets": "snippets", "images": "images"}
VZTMPL_FORMATS = {"gz": "tgz", "xz": "txz", "zst": "tzst", "bz2": "tbz2"}
EXTENSIONS = {
    "iso": re.compile(r"[^/]+\.(iso|img)$", re.IGNORECASE),
    "vztmpl": re.compile(r"[^/]+\.tar\.(gz|xz|zst|bz2)$", re.IGNORECASE),
    "import": re.compile(r"[^/]+\.(ova|qcow2|raw|vmdk)$", re.IGNORECASE),
}
MIB = 1024 * 1024
FILE_VOLNAME = re.compile(r"^(iso|vztmpl|backup|snippets|import)/[^/]+$|^images/\d+/[^/]+$|^\d+/[^/]+$")
LVM_VOLNAME = re.compile(r"^(vm|base)-(\d+)-\S+$")
OWNER = re.compile(r"(?:vm|base|subvol)-(\d+)-|vzdump-(?:qemu|lxc|openvz)-(\d+)-")


def remote_body(url: str) -> bytes:
    """What any URL serves in the simulator; its checksum is what a download verifies."""
    return f"pvemcp simulated download of {url}\n".encode()


def remote_size(url: str) -> int:
    """A plausible, stable size: 64 MiB to 1 GiB."""
    return (64 + hashlib.sha256(url.encode()).digest()[0] * 4) * MIB


def _normalize(filename: str) -> str:
    """PVE::Storage::normalize_content_filename: no directories, only safe characters."""
    base = re.split(r"[/\\]", filename.strip())[-1]
    return re.sub(r"[^-a-zA-Z0-9_.]", "_", base)


def _enabled(c: Call) -> Storage:
    name, node = c.text("storage"), c.text("node")
    storage = c.state.storages.get(name)
    if storage is None:
        raise fail(f"storage '{name}' does not exist")
    if not storage.enabled:
        raise fail(f"storage '{name}' is disabled")
    if storage.nodes is not None and node not in storage.nodes:
        raise fail(f"storage '{name}' is not available on node '{node}'")
    return storage


def _volumes(state: ClusterState, storage: Storage, node: str) -> list[Volume]:
    return state.volumes.setdefault((storage.storage, "" if storage.shared else node), [])


def _account(storage: Storage, node: str, delta: int) -> None:
    key = "" if storage.shared else node
    storage.used[key] = max(0, storage.used.get(key, 0) + delta)


def download_url(c: Call) -> object:
    """The checks PVE makes before it forks; the download itself (and the checksum) in the worker."""
    storage, node = _enabled(c), c.node
    if "path" not in storage.options:
        raise fail(f"can't upload to storage type '{storage.type}', not a file based storage!")
    content, url = c.text("content"), c.text("url")
    if content not in storage.content:
        raise fail(f"storage '{storage.storage}' is not configured for content-type '{content}'")
    filename = _normalize(c.text("filename"))
    match = EXTENSIONS[content].fullmatch(filename)
    if match is None:
        raise param_error({"filename": "wrong file extension"})
    algorithm, expected = c.opt_text("checksum-algorithm"), c.opt_text("checksum")
    if (algorithm is None) != (expected is None):  # the schema's 'requires' between the two
        given, missing = ("checksum-algorithm", "checksum") if expected is None else ("checksum", "checksum-algorithm")
        raise param_error({missing: f"missing property - '{given}' requires this property"})
    dest = f"{storage.options['path']}/{SUBDIRS[content]}/{filename}"
    volid = f"{storage.storage}:{content}/{filename}"
    ext = match.group(1).lower()
    fmt = VZTMPL_FORMATS[ext] if content == "vztmpl" else "iso" if content == "iso" else ext
    size = remote_size(url)

    def act(task: Task) -> str | None:
        volumes = _volumes(c.state, storage, node.name)
        if any(v.volid == volid for v in volumes):
            return f"refusing to override existing file '{dest}'"
        task.log.append(f"{size // 1024}K ........ ........ ........ 100% {size / MIB / 2:.1f}M=2s")
        if algorithm is not None and expected is not None:
            got = hashlib.new(algorithm, remote_body(url)).hexdigest()
            if got.lower() != expected.lower():
                task.log.append("calculating checksum...")
                return f"checksum mismatch: got '{got}' != expect '{expected}'"
            task.log.append("calculating checksum...OK, checksum verified")
        task.log.append(f"download of '{url}' to '{dest}' finished")
        volumes.append(Volume(volid, content, fmt, size, ctime=int(task.end_at)))
        _account(storage, node.name, size)
        return None

    task = c.ctx.runner.start(node, "download", filename, c.ctx.user, action=act)
    task.log[:0] = [
        f"downloading {url} to {dest}",
        f"--{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(c.now))}--  {url}",
        f"Length: {size} ({size // MIB}M) [application/octet-stream]",
        f"Saving to: '{dest}.tmp_dwnl.{task.pid}'",
    ]
    return task.upid


def _volume_id(c: Call) -> tuple[str, str]:
    """PVE's real_volume_id: a full volume ID must name the path's storage; a bare name takes it."""
    volume, storeid = c.text("volume"), c.opt_text("storage")
    if ":" in volume:
        sid = volume.split(":", 1)[0]
        if storeid and sid != storeid:
            raise param_error({"volume": f"storage ID mismatch ({sid} != {storeid})\n"})
        return volume, sid
    if not storeid:
        raise param_error({"volume": "no storage specified - incomplete volume ID"})
    return f"{storeid}:{volume}", storeid


def delete_volume(c: Call) -> object:
    """An 'imgdel' worker frees the volume. Like PVE's API, it does not ask whether a guest still uses it."""
    volid, storeid = _volume_id(c)
    storage = c.state.storages.get(storeid)
    if storage is None:
        raise fail(f"storage '{storeid}' does not exist")
    volname = volid.split(":", 1)[1]
    file_based = "path" in storage.options
    if file_based and not FILE_VOLNAME.match(volname):
        raise fail(f"unable to parse directory volume name '{volname}'")
    if not file_based and not LVM_VOLNAME.match(volname):
        raise fail(f"unable to parse lvm volume name '{volname}'")
    owner = OWNER.search(volname)
    ident = f"{next(g for g in owner.groups() if g)}@{storeid}" if owner else storeid
    node = c.node
    kind = volname.split("/", 1)[0]
    path = f"{storage.options.get('path')}/{SUBDIRS.get(kind, 'images')}/{volname.split('/', 1)[-1]}"

    def act(task: Task) -> str | None:
        volumes = _volumes(c.state, storage, node.name)
        found = next((v for v in volumes if v.volid == volid), None)
        if found is None and not file_based:
            vg = storage.options.get("vgname", "pve")
            return f"lvremove '{vg}/{volname}' error:   Failed to find logical volume \"{vg}/{volname}\""
        if found is None:
            task.log.append(f"disk image '{path}' does not exist")
        elif found.protected:
            return f"cannot remove protected volume '{volname}' on '{storeid}'"
        else:
            volumes.remove(found)
            c.state.backup.archives.pop(volid, None)
            _account(storage, node.name, -found.size)
        task.log.append(f"Removed volume '{volid}'")
        return None

    return c.ctx.runner.start(node, "imgdel", ident, c.ctx.user, action=act).upid


def _backup_storage(state: ClusterState, storeid: str) -> Storage:
    storage = state.storages.get(storeid)
    if storage is None:
        raise fail(f"storage '{storeid}' does not exist")
    if "backup" not in storage.content:
        raise fail(f"storage '{storeid}' does not support backups")
    return storage


def _keep(c: Call, storage: Storage) -> dict[str, int]:
    given = c.opt_text("prune-backups")
    if given is not None:
        return parse_keep(given)
    configured = storage.options.get("prune-backups")
    if configured is None:
        raise fail(f"no prune-backups options configured for storage '{storage.storage}'")
    return parse_keep(str(configured))


def prune_dryrun(c: Call) -> object:
    given = c.opt_text("prune-backups")
    if given is not None:
        parse_keep(given)  # the format check comes first, as a parameter error
    storage = _backup_storage(c.state, c.text("storage"))
    entries = plan(_volumes(c.state, storage, c.text("node")), _keep(c, storage), c.opt_int("vmid"), c.opt_text("type"))
    return [e.record() for e in entries]


def prune_run(c: Call) -> object:
    """A 'prunebackups' worker decides and removes when it runs, so it acts on the storage as it is then."""
    given = c.opt_text("prune-backups")
    if given is not None:
        parse_keep(given)
    storeid, vmid, kind, node = c.text("storage"), c.opt_int("vmid"), c.opt_text("type"), c.node
    ident = f"{vmid}@{storeid}" if vmid is not None else storeid

    def act(task: Task) -> str | None:
        try:
            storage = _backup_storage(c.state, storeid)
            keep = _keep(c, storage)
        except ApiError as exc:  # the worker's die ends the task with its message
            return exc.message.strip()
        volumes = _volumes(c.state, storage, node.name)
        for entry in plan(volumes, keep, vmid, kind):
            if entry.mark != "remove":
                continue
            task.log.append(f"removing backup '{entry.volid}'")
            found = next(v for v in volumes if v.volid == entry.volid)
            volumes.remove(found)
            c.state.backup.archives.pop(entry.volid, None)
            _account(storage, node.name, -found.size)
        return None

    return c.ctx.runner.start(node, "prunebackups", ident, c.ctx.user, action=act).upid


STORAGE_ID = text("storage", optional=False, format="pve-storage-id")
PRUNE_PARAMS = (
    NODE,
    STORAGE_ID,
    text("prune-backups", format="prune-backups"),
    text("type", enum=("qemu", "lxc")),
    VMID_FILTER,
)

ROUTES = (
    Route(
        "POST",
        "/nodes/{node}/storage/{storage}/download-url",
        (
            NODE,
            STORAGE_ID,
            text("url", optional=False, pattern="https?://.*"),
            text("filename", optional=False, max_length=255),
            text("content", optional=False, enum=("iso", "vztmpl", "import"), format="pve-storage-content"),
            text("checksum"),
            text("checksum-algorithm", enum=CHECKSUMS),
            flag("verify-certificates"),
            text("compression"),
        ),
        download_url,
    ),
    Route(
        "DELETE",
        "/nodes/{node}/storage/{storage}/content/{volume}",
        (
            NODE,
            text("storage", format="pve-storage-id"),
            text("volume", optional=False),
            integer("delay", minimum=1, maximum=30),
        ),
        delete_volume,
    ),
    Route("GET", "/nodes/{node}/storage/{storage}/prunebackups", PRUNE_PARAMS, prune_dryrun),
    Route("DELETE", "/nodes/{node}/storage/{storage}/prunebackups", PRUNE_PARAMS, prune_run),
)
