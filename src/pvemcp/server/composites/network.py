"""Composite handlers for network tools."""

from __future__ import annotations

from typing import Any

from pvemcp.pve import wire
from pvemcp.server.call import Call, Handler, api_params

# Proxmox recomputes an interface's method (static or manual) from the addresses sent with each
# update, so an update that leaves them out would turn the interface's addresses off.
KEPT_ADDRESSES = {"cidr": ("address", "netmask"), "cidr6": ("address6", "netmask6")}


def _current_address(config: dict[str, Any], cidr_key: str) -> str | None:
    if config.get(cidr_key):
        return str(config[cidr_key])
    address_key, mask_key = KEPT_ADDRESSES[cidr_key]
    if config.get(address_key) and config.get(mask_key) is not None:
        return f"{config[address_key]}/{config[mask_key]}"
    return None


def _names(value: Any) -> list[str]:
    """A Proxmox list argument (commas, semicolons or spaces) as its items."""
    return [item for item in str(value or "").replace(";", ",").replace(" ", ",").split(",") if item]


async def update_network(call: Call) -> Any:
    """PUT needs the interface type; read it (and the addresses to keep) from the current config."""
    path_values = {"node": call.args["node"], "iface": call.args["iface"]}
    current = await call.client.get(wire.expand_path("/nodes/{node}/network/{iface}", path_values))
    config: dict[str, Any] = current if isinstance(current, dict) else {}
    params = api_params(call)
    params["type"] = call.args.get("type") or config.get("type")
    deleted = set(_names(params.get("delete")))
    for cidr_key in KEPT_ADDRESSES:
        if cidr_key in params or cidr_key in deleted or KEPT_ADDRESSES[cidr_key][0] in deleted:
            continue
        kept = _current_address(config, cidr_key)
        if kept is not None:
            params[cidr_key] = kept
    return await call.client.request("PUT", wire.expand_path(call.spec.path, path_values), params)


HANDLERS: dict[str, Handler] = {"update_network": update_network}
