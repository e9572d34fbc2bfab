"""Storage configuration, per-node storage status and storage content."""

from __future__ import annotations

import hashlib

from ..errors import fail, param_error
from ..params import NODE, VMID_FILTER, flag, split_list, text
from ..render import node_storage_item, volume_item
from ..routes import Call, Route
from ..state import Storage

STORAGE_TYPES = (
    "btrfs", "cephfs", "cifs", "dir", "esxi", "iscsi", "iscsidirect",
    "lvm", "lvmthin", "nfs", "pbs", "rbd", "zfs", "zfspool",
)  # fmt: skip
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dir": ("raw", ("qcow2", "raw", "subvol", "vmdk")),
    "nfs": ("raw", ("qcow2", "raw", "vmdk")),
    "lvmthin": ("raw", ("raw",)),
}


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


def storage_index(c: Call) -> object:
    """storage.cfg as GET /storage lists it; every entry carries the file's digest."""
    storages = sorted(c.state.storages.values(), key=lambda s: s.storage)
    text_cfg = "".join(f"{s.type}: {s.storage}\n\tcontent {','.join(s.content)}\n" for s in storages)
    digest = hashlib.sha1(text_cfg.encode(), usedforsecurity=False).hexdigest()
    kind = c.opt_text("type")
    return [_config_record(s, digest) for s in storages if kind is None or s.type == kind]


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


ROUTES = (
    Route("GET", "/storage", (text("type", enum=STORAGE_TYPES),), storage_index),
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
    Route(
        "GET",
        "/nodes/{node}/storage/{storage}/content",
        (
            NODE,
            text("storage", optional=False, format="pve-storage-id"),
            text("content", format="pve-storage-content"),
            VMID_FILTER,
        ),
        storage_content,
    ),
)
