"""Composite handlers for storage administration: volume deletion with its guest checks, and pruning
with the retention built from keep-* arguments.

Proxmox's API deletes any volume it is asked to, even the disk of an existing guest (only its web UI
refuses); pvemcp refuses like the web UI. A volume that belongs to a guest (a disk or a backup) names that
guest (server/reach.py), so the scope and the protected tag apply to it before this handler runs.
"""

from __future__ import annotations

import re
from typing import Any

from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.server.call import Call, Handler, api_params

KEEP_ORDER = ("keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
IMAGE = re.compile(r"(?:^|[:/])(?:vm|base|subvol)-(\d+)-")  # a guest's disk; its backups may go


def _path(call: Call) -> str:
    return wire.expand_path(call.spec.path, {name: call.args[name] for name in call.spec.placeholders})


async def delete_storage_volume(call: Call) -> Any:
    volume, node, storage = str(call.args["volume"]), str(call.args["node"]), str(call.args["storage"])
    name = volume.split(":", 1)[-1]
    image = IMAGE.search(name)  # the guard checked its owner against the scope (reach.py: a volume's guest)
    if image is not None:
        vmid = int(image.group(1))
        ref = (await call.locator.guests()).get(vmid)
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
    """The dry run (GET) or the prune (DELETE); without vmid it reaches every guest's backups (the guard
    refuses that under a scope: the record's `missing`)."""
    params = _retention(call)
    if call.spec.method == "GET":
        return await call.client.get(_path(call), params)
    data = await call.client.request("DELETE", _path(call), params)
    return {"upid": data} if isinstance(data, str) else data


HANDLERS: dict[str, Handler] = {
    "delete_storage_volume": delete_storage_volume,
    "prune_backups": prune_backups,
}
