"""A tool call as handlers see it, and the translation of its arguments into Proxmox parameters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.client import ProxmoxClient

# Arguments that steer pvemcp itself and never travel to Proxmox.
CONTROL_ARGS = frozenset({"confirm"})


@dataclass(frozen=True, slots=True)
class Call:
    spec: ToolSpec
    args: dict[str, Any]
    client: ProxmoxClient


Handler = Callable[[Call], Awaitable[Any]]


def pve_urlencode(value: str) -> str:
    """Proxmox expects some values (cloud-init sshkeys) URL-encoded like JavaScript's encodeURIComponent."""
    return quote(value, safe="-_.!~*'()")


def api_params(call: Call) -> dict[str, Any]:
    """Fixed parameters plus the caller's, under Proxmox's names, minus path and pvemcp-only ones."""
    spec = call.spec
    params: dict[str, Any] = dict(spec.fixed)
    skip = CONTROL_ARGS | set(spec.placeholders)
    for name, value in call.args.items():
        param = spec.param(name)
        if name in skip or param is None or param.local or name == "confirm":
            continue
        if param.encoding == "pve-urlencode" and isinstance(value, str):
            value = pve_urlencode(value)
        params[param.api_name] = value
    return params
