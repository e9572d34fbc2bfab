"""Composite handlers for guest administration: create, clone and config updates.

Create tools take simple arguments (a storage and a size, an ISO, a bridge) and build the
property strings Proxmox wants (``scsi0=local-lvm:32``, ``ide2=<iso>,media=cdrom``,
``net0=virtio,bridge=vmbr0``). A missing VMID is taken from /cluster/nextid, and the result
says which ID the new guest got; a disk size without a storage goes to the node's first enabled, active
storage for guest disks, and the result says which (`storage_chosen`).
"""

from __future__ import annotations

import re
from typing import Any

from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.server.call import Call, Handler, api_params
from pvemcp.server.recovery import read_after_write

# Values spliced into a property string must not carry their own ',' or '=' options.
PROPERTY_VALUE = re.compile(r"^[^,=\s]+$")
DEFAULT_SIZE = {"qemu": 32, "lxc": 8}
# The storage content a new guest's disk needs: VM images, or a container's root directory.
DISK_CONTENT = {"qemu": "images", "lxc": "rootdir"}
NOUNS = {"qemu": "VM", "lxc": "container"}


def part(call: Call, name: str) -> str:
    value = str(call.args[name])
    if not PROPERTY_VALUE.match(value):
        raise ToolCallError(
            ErrorCode.TOOL_INPUT_REJECTED,
            f"{name} must be a single value without ',', '=' or spaces (got {value[:80]!r}).",
            f"Pass only the {name}; the tool builds Proxmox's option string itself.",
        )
    return value


def needs(call: Call, name: str, for_: str) -> None:
    if call.args.get(name) is None:
        raise ToolCallError(
            ErrorCode.TOOL_INPUT_REJECTED,
            f"{for_} needs {name} as well.",
            f"Call again with {name}, or without {for_}.",
        )


async def free_id(call: Call, name: str) -> int:
    """The caller's ID, or the lowest free one (Proxmox does not reserve it: a race fails the create)."""
    if call.args.get(name) is not None:
        return int(call.args[name])
    return int(await call.client.get("/cluster/nextid"))


async def started(call: Call, path: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The new guest's ID and the task's UPID; the dispatch path waits for the task."""
    upid = await call.client.post(path, params)
    return {**extra, "upid": str(upid)}


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true")


def _rows(data: Any) -> list[dict[str, Any]]:
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


async def disk_storage(call: Call, kind: str) -> tuple[str | None, bool]:
    """(storage for the new guest's disk or None, whether pvemcp chose it).

    Without storage, for a VM with disk_size or for any container (whose root disk Proxmox would otherwise put on
    `local`, which often holds no container disks): the node's first (by ID) enabled, active storage holding the
    disk content.
    """
    if call.args.get("storage") is not None:
        return part(call, "storage"), False
    if call.args.get("disk_size") is None and kind == "qemu":  # a VM without a disk is a valid VM
        return None, False
    node, content = str(call.args["node"]), DISK_CONTENT[kind]
    path = wire.expand_path("/nodes/{node}/storage", {"node": node})
    rows = await call.client.get(path, {"content": content, "enabled": 1})
    usable = sorted(
        str(row["storage"])
        for row in _rows(rows)
        if row.get("storage")
        and _flag(row.get("active"))
        and _flag(row.get("enabled", 1))
        and content in str(row.get("content", "")).split(",")
    )
    if usable:
        return usable[0], True
    raise await _no_disk_storage(call, node, content, kind)


async def _no_disk_storage(call: Call, node: str, content: str, kind: str) -> ToolCallError:
    """The refusal, naming every storage the node has and why none of them takes the disk."""
    rows = await call.client.get(wire.expand_path("/nodes/{node}/storage", {"node": node}))
    storages = sorted(
        (
            {
                "storage": str(row["storage"]),
                "content": str(row.get("content", "")),
                "enabled": _flag(row.get("enabled", 1)),
                "active": _flag(row.get("active")),
            }
            for row in _rows(rows)
            if row.get("storage")
        ),
        key=lambda s: str(s["storage"]),
    )
    listed = "; ".join(
        f"{s['storage']} ({s['content'] or 'no content'}"
        + ("" if s["enabled"] else ", disabled")
        + ("" if s["active"] or not s["enabled"] else ", inactive")
        + ")"
        for s in storages
    )
    return ToolCallError(
        ErrorCode.TOOL_INPUT_REJECTED,
        f"The {NOUNS[kind]}'s disk needs a storage that holds {NOUNS[kind]} disks (content {content}), and node"
        f" {node} has no enabled, active one.",
        f"Node {node}'s storages: {listed or 'none'}. Pass storage= one that holds {content} once it is enabled"
        f" and active (pve_update_storage adds content), or create the {NOUNS[kind]} on another node.",
        details={"node": node, "content": content, "storages": storages},
    )


def qemu_devices(call: Call, params: dict[str, Any], storage: str | None) -> None:
    args = call.args
    if storage is not None:
        size = args.get("disk_size") or DEFAULT_SIZE["qemu"]
        params["scsi0"] = f"{storage}:{size},iothread=1"
        params["scsihw"] = "virtio-scsi-single"
    if args.get("iso") is not None:
        params["ide2"] = f"{part(call, 'iso')},media=cdrom"
    if args.get("bridge") is not None:
        params["net0"] = f"virtio,bridge={part(call, 'bridge')}"
    if args.get("agent"):
        params["agent"] = "1"
    if args.get("memory") is not None:
        params["memory"] = str(args["memory"])


def lxc_devices(call: Call, params: dict[str, Any], storage: str | None) -> None:
    args = call.args
    if storage is not None:
        params["rootfs"] = f"{storage}:{args.get('disk_size') or DEFAULT_SIZE['lxc']}"
    if args.get("ip") is not None or args.get("gw") is not None:
        needs(call, "bridge", "ip/gw")
    if args.get("bridge") is not None:
        net = f"name=eth0,bridge={part(call, 'bridge')},ip={part(call, 'ip') if args.get('ip') else 'dhcp'}"
        if args.get("gw") is not None:
            net += f",gw={part(call, 'gw')}"
        params["net0"] = net
    params.setdefault("unprivileged", True)  # Proxmox's default is privileged; the GUI's and ours is not


async def create_guest(call: Call) -> Any:
    """pve_qemu_create / pve_lxc_create: one POST with the property strings built here."""
    kind = call.spec.category
    storage, chosen = await disk_storage(call, kind)
    vmid = await free_id(call, "vmid")
    params = api_params(call)
    params["vmid"] = vmid
    (qemu_devices if kind == "qemu" else lxc_devices)(call, params, storage)
    path = wire.expand_path(call.spec.path, {"node": call.args["node"]})
    return await started(call, path, params, vmid=vmid, **({"storage_chosen": storage} if chosen else {}))


async def clone_guest(call: Call) -> Any:
    newid = await free_id(call, "newid")
    params = api_params(call)
    params["newid"] = newid
    path = wire.expand_path(call.spec.path, {"node": call.args["node"], "vmid": call.args["vmid"]})
    return await started(call, path, params, newid=newid)


async def update_guest_config(call: Call) -> Any:
    """PUT the changes, then report what still waits for the next start (Proxmox's pending list).

    The change is made once the PUT succeeds: a failed pending read is a warning in the result, not an error.
    """
    params = api_params(call)
    if call.args.get("memory") is not None:
        params["memory"] = str(call.args["memory"])  # QEMU's memory is a property string
    values = {"node": call.args["node"], "vmid": call.args["vmid"]}
    await call.client.request("PUT", wire.expand_path(call.spec.path, values), params)
    changed = sorted(k for k in params if k not in ("delete", "digest"))
    result: dict[str, Any] = {"vmid": call.args["vmid"], "node": call.args["node"], "changed": changed}
    if params.get("delete"):
        result["deleted"] = str(params["delete"]).split(",")
    pending_tool = f"pve_get_{call.spec.category}_pending_config"
    rows, warning = await read_after_write(
        call.client.get(wire.expand_path(call.spec.path.replace("/config", "/pending"), values)),
        "the pending changes",
        f"read them with {pending_tool}.",
    )
    if warning is not None:
        result["warning"] = warning
        result["next"] = {"tool": pending_tool, "arguments": {"vmid": call.args["vmid"], "node": call.args["node"]}}
        return result
    result["pending"] = [
        {k: row[k] for k in ("key", "value", "pending", "delete") if k in row}
        for row in _rows(rows) if "pending" in row or "delete" in row
    ]  # fmt: skip
    return result


HANDLERS: dict[str, Handler] = {
    "create_guest": create_guest,
    "clone_guest": clone_guest,
    "update_guest_config": update_guest_config,
}
