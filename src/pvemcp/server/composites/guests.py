"""Composite handlers for guest administration: create, clone and config updates.

Create tools take simple arguments (a storage and a size, an ISO, a bridge) and build the
property strings Proxmox wants (``scsi0=local-lvm:32``, ``ide2=<iso>,media=cdrom``,
``net0=virtio,bridge=vmbr0``). A missing VMID is taken from /cluster/nextid, and the result
says which ID the new guest got.
"""

from __future__ import annotations

import re
from typing import Any

from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.server.call import Call, Handler, api_params

# Values spliced into a property string must not carry their own ',' or '=' options.
PROPERTY_VALUE = re.compile(r"^[^,=\s]+$")
DEFAULT_SIZE = {"qemu": 32, "lxc": 8}


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


def qemu_devices(call: Call, params: dict[str, Any]) -> None:
    args = call.args
    if args.get("disk_size") is not None or args.get("storage") is not None:
        needs(call, "storage", "disk_size")
        size = args.get("disk_size") or DEFAULT_SIZE["qemu"]
        params["scsi0"] = f"{part(call, 'storage')}:{size},iothread=1"
        params["scsihw"] = "virtio-scsi-single"
    if args.get("iso") is not None:
        params["ide2"] = f"{part(call, 'iso')},media=cdrom"
    if args.get("bridge") is not None:
        params["net0"] = f"virtio,bridge={part(call, 'bridge')}"
    if args.get("agent"):
        params["agent"] = "1"
    if args.get("memory") is not None:
        params["memory"] = str(args["memory"])


def lxc_devices(call: Call, params: dict[str, Any]) -> None:
    args = call.args
    if args.get("disk_size") is not None or args.get("storage") is not None:
        needs(call, "storage", "disk_size")
        params["rootfs"] = f"{part(call, 'storage')}:{args.get('disk_size') or DEFAULT_SIZE['lxc']}"
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
    vmid = await free_id(call, "vmid")
    params = api_params(call)
    params["vmid"] = vmid
    (qemu_devices if call.spec.category == "qemu" else lxc_devices)(call, params)
    path = wire.expand_path(call.spec.path, {"node": call.args["node"]})
    return await started(call, path, params, vmid=vmid)


async def clone_guest(call: Call) -> Any:
    newid = await free_id(call, "newid")
    params = api_params(call)
    params["newid"] = newid
    path = wire.expand_path(call.spec.path, {"node": call.args["node"], "vmid": call.args["vmid"]})
    return await started(call, path, params, newid=newid)


async def update_guest_config(call: Call) -> Any:
    """PUT the changes, then report what still waits for the next start (Proxmox's pending list)."""
    params = api_params(call)
    if call.args.get("memory") is not None:
        params["memory"] = str(call.args["memory"])  # QEMU's memory is a property string
    values = {"node": call.args["node"], "vmid": call.args["vmid"]}
    await call.client.request("PUT", wire.expand_path(call.spec.path, values), params)
    rows = await call.client.get(wire.expand_path(call.spec.path.replace("/config", "/pending"), values))
    pending = [
        {k: row[k] for k in ("key", "value", "pending", "delete") if k in row}
        for row in rows if isinstance(row, dict) and ("pending" in row or "delete" in row)
    ]  # fmt: skip
    changed = sorted(k for k in params if k not in ("delete", "digest"))
    result: dict[str, Any] = {"vmid": call.args["vmid"], "node": call.args["node"], "changed": changed}
    if params.get("delete"):
        result["deleted"] = str(params["delete"]).split(",")
    result["pending"] = pending
    return result


HANDLERS: dict[str, Handler] = {
    "create_guest": create_guest,
    "clone_guest": clone_guest,
    "update_guest_config": update_guest_config,
}
