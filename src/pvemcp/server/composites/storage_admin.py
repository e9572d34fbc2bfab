"""Composite handlers for storage administration: volume deletion with its guest checks, and pruning
with the retention built from keep-* arguments.

Proxmox's API deletes any volume it is asked to, even the disk of an existing guest (only its web UI
refuses); pvemcp refuses like the web UI, and treats a volume that belongs to a guest (a disk or a
backup) as naming that guest, so the scope and the protected tag apply to it.
"""

from __future__ import annotations

import re
from typing import Any

from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.server.call import Call, Handler, api_params
from pvemcp.server.resolve import GuestLocator
from pvemcp.server.scope import Scope, node_out_of_scope, protected, vmid_out_of_scope

KEEP_ORDER = ("keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
IMAGE = re.compile(r"(?:^|[:/])(?:vm|base|subvol)-(\d+)-")
BACKUP = re.compile(r"vzdump-(?:qemu|lxc|openvz)-(\d+)-")


def _path(call: Call) -> str:
    return wire.expand_path(call.spec.path, {name: call.args[name] for name in call.spec.placeholders})


def _scope_and_locator(call: Call) -> tuple[Scope, GuestLocator]:
    if call.runtime is None:
        return Scope(), GuestLocator(call.client)
    return call.runtime.scope, call.runtime.locator


async def _owner_allowed(scope: Scope, locator: GuestLocator, vmid: int) -> None:
    """The guest a volume belongs to: within the scope and not protected (a guest that is gone is no one's)."""
    if not scope.allows_vmid(vmid):
        raise vmid_out_of_scope(scope, vmid, "volume")
    try:
        ref = await locator.locate(vmid, fresh=True)
    except ToolCallError as exc:
        if exc.code is ErrorCode.GUEST_NOT_FOUND:
            return
        raise
    if not scope.allows_node(ref.node):
        raise node_out_of_scope(scope, ref.node, "volume", ref)
    if scope.protects(ref):
        raise protected(scope, ref)


async def delete_storage_volume(call: Call) -> Any:
    volume, node, storage = str(call.args["volume"]), str(call.args["node"]), str(call.args["storage"])
    name = volume.split(":", 1)[-1]
    image, backup = IMAGE.search(name), BACKUP.search(name)
    owner = image or backup
    if owner is not None:
        vmid = int(owner.group(1))
        scope, locator = _scope_and_locator(call)
        await _owner_allowed(scope, locator, vmid)
        ref = (await locator.guests()).get(vmid) if image is not None else None
        if ref is not None:
            where = {"node": node, "storage": storage}
            status = await call.client.get(wire.expand_path("/nodes/{node}/storage/{storage}/status", where))
            shared = isinstance(status, dict) and bool(status.get("shared"))
            if shared or ref.node == node:  # a local leftover of a guest now on another node may go
                raise ToolCallError(
                    ErrorCode.TOOL_INPUT_REJECTED,
                    f"Cannot remove image, a guest with VMID '{vmid}' exists!",
                    f"Detach the disk from {ref.describe()} and remove it there (its unused disk), or destroy"
                    " the guest; pvemcp does not delete a disk a guest may still use.",
                    details={"vmid": vmid, "node": ref.node},
                )
    data = await call.client.request("DELETE", _path(call), api_params(call))
    return {"upid": data} if isinstance(data, str) else data


def _retention(call: Call) -> dict[str, Any]:
    params = api_params(call)
    rules = [f"{key}={int(call.args[key])}" for key in KEEP_ORDER if call.args.get(key) is not None]
    if call.args.get("keep-all"):
        rules.insert(0, "keep-all=1")
    if rules:
        params["prune-backups"] = ",".join(rules)
    return params


async def prune_backups(call: Call) -> Any:
    """The dry run (GET) or the prune (DELETE); a prune of every guest's backups needs an unrestricted scope."""
    params = _retention(call)
    if call.spec.method == "GET":
        return await call.client.get(_path(call), params)
    scope, _ = _scope_and_locator(call)
    if call.args.get("vmid") is None and scope.restricted:
        raise ToolCallError(
            ErrorCode.OUT_OF_SCOPE,
            "Without vmid, pruning reaches the backups of every guest on the storage, also those outside"
            " this server's scope.",
            "Prune one guest at a time: pass vmid (a guest within the scope).",
            details={"argument": "vmid"},
        )
    data = await call.client.request("DELETE", _path(call), params)
    return {"upid": data} if isinstance(data, str) else data


HANDLERS: dict[str, Handler] = {
    "delete_storage_volume": delete_storage_volume,
    "prune_backups": prune_backups,
}
