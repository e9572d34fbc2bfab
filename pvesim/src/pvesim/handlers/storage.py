"""Storage configuration (storage.cfg) with its CRUD, per-node storage status and storage content."""

from __future__ import annotations

import hashlib

from ..errors import fail, param_error
from ..params import NODE, VMID_FILTER, Param, flag, integer, split_list, text
from ..render import node_storage_item, volume_item
from ..routes import Call, Route
from ..state.cluster import ClusterState
from ..state.metrics import GIB
from ..state.records import Storage

STORAGE_TYPES = (
    "btrfs", "cephfs", "cifs", "dir", "esxi", "iscsi", "iscsidirect",
    "lvm", "lvmthin", "nfs", "pbs", "rbd", "zfs", "zfspool",
)  # fmt: skip
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dir": ("raw", ("qcow2", "raw", "subvol", "vmdk")),
    "nfs": ("raw", ("qcow2", "raw", "vmdk")),
    "lvmthin": ("raw", ("raw",)),
}
# Options each type requires on create (PVE's plugin 'options' without 'optional').
REQUIRED: dict[str, tuple[str, ...]] = {
    "dir": ("path",), "btrfs": ("path",), "nfs": ("server", "export"), "cifs": ("server", "share"),
    "lvm": ("vgname",), "lvmthin": ("vgname", "thinpool"), "zfspool": ("pool",), "pbs": ("server", "datastore"),
    "iscsi": ("portal", "target"), "iscsidirect": ("portal", "target"),
    "zfs": ("portal", "target", "pool", "blocksize", "iscsiprovider"), "esxi": ("server", "username"),
}  # fmt: skip
# Where a storage lives: an option of one type is unexpected on another.
LOCATION: dict[str, tuple[str, ...]] = {
    "path": ("dir", "btrfs", "nfs", "cifs", "cephfs"), "export": ("nfs",), "share": ("cifs",),
    "vgname": ("lvm", "lvmthin"), "thinpool": ("lvmthin",), "datastore": ("pbs",),
    "pool": ("zfspool", "rbd", "zfs"), "server": ("nfs", "cifs", "pbs", "esxi"),
}  # fmt: skip
DEFAULT_CONTENT: dict[str, tuple[str, ...]] = {
    "dir": ("images", "rootdir"), "btrfs": ("images", "rootdir"), "lvmthin": ("images", "rootdir"),
    "zfspool": ("images", "rootdir"), "pbs": ("backup",), "cephfs": ("vztmpl", "iso", "backup"),
}  # fmt: skip
MOUNTED = ("nfs", "cifs", "cephfs")  # PVE mounts these under /mnt/pve/<storage> when no path is given
SHARED_TYPES = ("nfs", "cifs", "cephfs", "rbd", "pbs", "iscsi", "iscsidirect", "zfs", "esxi")
NOT_OPTIONS = frozenset({"storage", "type", "content", "nodes", "shared", "disable", "delete", "digest"})
FIXED = frozenset({"path", "server", "export", "share", "vgname", "thinpool", "datastore", "portal", "target"})


def digest_of(state: ClusterState) -> str:
    """storage.cfg's SHA1, so any change to any definition changes it."""
    lines = []
    for s in sorted(state.storages.values(), key=lambda s: s.storage):
        lines.append(f"{s.type}: {s.storage}\n\tcontent {','.join(s.content)}\n")
        lines += [f"\t{k} {v}\n" for k, v in sorted(s.options.items())]
        lines += [f"\tnodes {','.join(s.nodes)}\n"] if s.nodes is not None else []
        lines += [] if s.enabled else ["\tdisable\n"]
    return hashlib.sha1("".join(lines).encode(), usedforsecurity=False).hexdigest()


def _capacity(name: str) -> int:
    """A plausible, stable size for a storage added at run time: 1 to 8 TiB."""
    return (1 + hashlib.sha1(name.encode(), usedforsecurity=False).digest()[0] % 8) * 1024 * GIB


def _config_record(storage: Storage, digest: str) -> dict[str, object]:
    record: dict[str, object] = {
        "storage": storage.storage,
        "type": storage.type,
        "content": ",".join(storage.content),
        "digest": digest,
    }
    record.update(storage.options)
    if storage.nodes is not None:
        record["nodes"] = ",".join(storage.nodes)
    if not storage.enabled:
        record["disable"] = 1
    return record


def _storage(c: Call, prefix: str = "") -> Storage:
    name = c.text("storage")
    storage = c.state.storages.get(name)
    if storage is None:
        raise fail(f"{prefix}storage '{name}' does not exist")
    return storage


def storage_index(c: Call) -> object:
    """storage.cfg as GET /storage lists it; every entry carries the file's digest."""
    storages = sorted(c.state.storages.values(), key=lambda s: s.storage)
    digest = digest_of(c.state)
    kind = c.opt_text("type")
    return [_config_record(s, digest) for s in storages if kind is None or s.type == kind]


def storage_read(c: Call) -> object:
    return _config_record(_storage(c), digest_of(c.state))


def _content(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in split_list(value) if item != "none"))


def storage_create(c: Call) -> object:
    """Check the definition as PVE's plugin does, then add it (the check runs outside the lock)."""
    name, kind = c.text("storage"), c.text("type")
    given = {k: v for k, v in c.params.items() if k not in ("storage", "type")}
    for key in sorted(given):
        if key in LOCATION and kind not in LOCATION[key]:
            raise fail(f"unexpected property '{key}'")
    if kind in MOUNTED and "path" not in given:
        given["path"] = f"/mnt/pve/{name}"
    for key in REQUIRED.get(kind, ()):
        if key not in given:
            raise fail(f"missing value for required option '{key}'")
    if name in c.state.storages:
        raise fail(f"create storage failed: storage ID '{name}' already defined")
    content = _content(str(given["content"])) if "content" in given else DEFAULT_CONTENT.get(kind, ("images",))
    nodes = tuple(split_list(str(given["nodes"]))) if given.get("nodes") else None
    options = {k: v for k, v in given.items() if k not in NOT_OPTIONS and not isinstance(v, float)}
    if c.flag("shared"):
        options["shared"] = 1
    storage = Storage(
        name,
        kind,
        content,
        kind in SHARED_TYPES or c.flag("shared"),
        options,
        _capacity(name),
        nodes=nodes,
        enabled=not c.flag("disable"),
    )
    c.state.storages[name] = storage
    return {"storage": name, "type": kind}


def storage_update(c: Call) -> object:
    storage = _storage(c, "update storage failed: ")
    digest = c.opt_text("digest")
    if digest is not None and digest != digest_of(c.state):
        raise fail("update storage failed: detected modified configuration - file changed by other user? Try again.")
    delete = split_list(c.opt_text("delete") or "")
    changes = {
        k: v for k, v in c.params.items() if k not in ("storage", "digest", "delete") and not isinstance(v, float)
    }
    for key in sorted(changes):
        if key in FIXED:
            raise fail(f"update storage failed: can't change value of fixed parameter '{key}'")
        if key in LOCATION and storage.type not in LOCATION[key]:
            raise fail(f"update storage failed: unexpected property '{key}'")
    for key in delete:
        if key in FIXED or key in REQUIRED.get(storage.type, ()):
            raise fail(f"update storage failed: unable to delete required option '{key}'")
        if key in changes:
            raise fail(f"update storage failed: cannot set and delete property '{key}' at the same time!")  # noqa: S608
    for key in delete:
        if key == "nodes":
            storage.nodes = None
        elif key == "disable":
            storage.enabled = True
        elif key == "content":
            storage.content = DEFAULT_CONTENT.get(storage.type, ("images",))
        else:
            storage.options.pop(key, None)
    for key, value in changes.items():
        if key == "content":
            storage.content = _content(str(value))
        elif key == "nodes":
            storage.nodes = tuple(split_list(str(value))) or None
        elif key == "disable":
            storage.enabled = not value
        else:
            if key == "shared":
                storage.shared = bool(value) or storage.type in SHARED_TYPES
            storage.options[key] = value
    return {"storage": storage.storage, "type": storage.type}


def storage_delete(c: Call) -> object:
    """The definition goes; the data stays (a new definition with the same ID finds it again)."""
    storage = _storage(c, "delete storage failed: ")
    del c.state.storages[storage.storage]
    for pool in c.state.pools.values():
        if storage.storage in pool.storages:
            pool.storages.remove(storage.storage)
    return None


def node_storage(c: Call) -> object:
    node = c.text("node")
    wanted_content = set(split_list(c.opt_text("content") or ""))
    only = c.opt_text("storage")
    target = c.opt_text("target")
    if only is not None and only not in c.state.storages:
        raise param_error({"storage": "No such storage."})
    items = []
    for storage in sorted(c.state.storages.values(), key=lambda s: s.storage):
        if only is not None and storage.storage != only:
            continue
        if c.flag("enabled") and not storage.enabled:
            continue
        if storage.nodes is not None and node not in storage.nodes:
            continue
        if target is not None and target != node and not (storage.shared and storage.available_on(target)):
            continue
        if wanted_content and not wanted_content & set(storage.content):
            continue
        item = node_storage_item(storage, node)
        if c.flag("format") and storage.type in FORMATS:
            default, supported = FORMATS[storage.type]
            item["formats"] = {"default": default, "supported": list(supported)}
        items.append(item)
    return items


def storage_status(c: Call) -> object:
    """PVE reads it from the node's storage_info, which leaves out storages the node cannot use."""
    storage = c.state.storages.get(c.text("storage"))
    node = c.text("node")
    if storage is None or (storage.nodes is not None and node not in storage.nodes):
        raise param_error({"storage": "No such storage."})
    item = node_storage_item(storage, node)
    if not storage.enabled:
        item.update(active=0, total=0, used=0, avail=0)
    return item


def storage_content(c: Call) -> object:
    node, name = c.text("node"), c.text("storage")
    storage = c.state.storages.get(name)
    if storage is None:
        raise fail(f"storage '{name}' does not exist")
    if not storage.available_on(node):
        raise fail(f"storage '{name}' is not available on node '{node}'")
    content, vmid = c.opt_text("content"), c.opt_int("vmid")
    volumes = c.state.volumes_of(storage, node)
    return [
        volume_item(v)
        for v in sorted(volumes, key=lambda v: v.volid)
        if (content is None or v.content == content) and (vmid is None or v.vmid == vmid)
    ]


STORAGE_ID = text("storage", optional=False, format="pve-storage-id")
PATHS = ("export", "mountpoint", "path", "subdir", "zfs-base-path")
# POST /storage takes all of these; PUT all but CREATE_ONLY, plus delete and digest.
CONFIG_PARAMS: tuple[Param, ...] = (
    *(text(n) for n in ("authsupported", "blocksize", "comstar_hg", "comstar_tg", "data-pool", "datastore")),
    *(text(n) for n in ("encryption-key", "iscsiprovider", "keyring", "lio_tpg", "master-pubkey", "namespace")),
    *(text(n) for n in ("pool", "saferemove_throughput", "share", "target", "username", "is_mountpoint")),
    *(text(n, format="pve-storage-path") for n in PATHS),
    text("base", format="pve-volume-id"),
    text("bwlimit"),
    text("content", format="pve-storage-content-list"),
    text("content-dirs", format="pve-dir-override-list"),
    text("fs-name", format="pve-configid"),
    text("monhost", format="pve-storage-portal-dns-list"),
    text("nodes", format="pve-node-list"),
    text("options", format="pve-storage-options"),
    text("portal", format="pve-storage-portal-dns"),
    text("prune-backups", format="prune-backups"),
    text("server", format="pve-storage-server"),
    text("thinpool", format="pve-storage-vgname"),
    text("vgname", format="pve-storage-vgname"),
    text("domain", max_length=256),
    text("password", max_length=256),
    text("fingerprint", pattern="([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}"),
    text("format", enum=("raw", "qcow2", "subvol", "vmdk")),
    text("preallocation", enum=("off", "metadata", "falloc", "full")),
    text("smbversion", enum=("default", "2.0", "2.1", "3", "3.0", "3.11")),
    *(flag(n) for n in ("create-base-path", "create-subdirs", "disable", "fuse", "krbd", "mkdir", "nocow")),
    *(flag(n) for n in ("nowritecache", "saferemove", "shared", "skip-cert-verification", "sparse", "tagged_only")),
    flag("snapshot-as-volume-chain"),
    integer("max-protected-backups", minimum=-1),
    integer("port", minimum=1, maximum=65535),
    Param("saferemove-stepsize", "integer", enum=("1", "2", "4", "8", "16", "32")),
)
CREATE_ONLY = frozenset({"authsupported", "base", "datastore", "export", "iscsiprovider", "path", "portal", "share"})
CREATE_ONLY |= {"target", "thinpool", "vgname"}
CREATE_PARAMS = (STORAGE_ID, text("type", optional=False, enum=STORAGE_TYPES), *CONFIG_PARAMS)
UPDATE_PARAMS = (
    STORAGE_ID,
    *(p for p in CONFIG_PARAMS if p.name not in CREATE_ONLY),
    text("delete", format="pve-configid-list", max_length=4096),
    text("digest", max_length=64),
)

ROUTES = (
    Route("GET", "/storage", (text("type", enum=STORAGE_TYPES),), storage_index),
    Route("POST", "/storage", CREATE_PARAMS, storage_create),
    Route("GET", "/storage/{storage}", (STORAGE_ID,), storage_read),
    Route("PUT", "/storage/{storage}", UPDATE_PARAMS, storage_update),
    Route("DELETE", "/storage/{storage}", (STORAGE_ID,), storage_delete),
    Route(
        "GET",
        "/nodes/{node}/storage",
        (
            NODE,
            text("content", format="pve-storage-content-list"),
            flag("enabled"),
            flag("format"),
            text("storage", format="pve-storage-id"),
            text("target", format="pve-node"),
        ),
        node_storage,
    ),
    Route("GET", "/nodes/{node}/storage/{storage}/status", (NODE, STORAGE_ID), storage_status),
    Route(
        "GET",
        "/nodes/{node}/storage/{storage}/content",
        (NODE, STORAGE_ID, text("content", format="pve-storage-content"), VMID_FILTER),
        storage_content,
    ),
)
