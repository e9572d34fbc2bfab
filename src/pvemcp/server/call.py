"""A tool call as handlers see it: its arguments, and how they travel to Proxmox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.context import CallContext

if TYPE_CHECKING:
    from pvemcp.server.dispatch import Runtime

# Arguments that steer pvemcp itself and never travel to Proxmox.
CONTROL_ARGS = frozenset({"confirm", "wait_seconds"})


# Arguments whose values are secrets: redacted wherever a call is described (audit log, preview).
SECRET_ARGS = frozenset(
    {
        *("password", "cipassword", "confirmation-password", "secret", "token_secret", "token"),
        *("certkey", "client-key", "eab-hmac-key", "encryption-key", "keyring"),
    }
)
REDACTED = "***"


def redacted(args: Mapping[str, Any]) -> dict[str, Any]:
    """Secrets masked, at any depth: the raw API's `params` and a preview's `arguments` hold arguments too."""
    return {key: _masked(key, value) for key, value in args.items()}


def _masked(key: str, value: Any) -> Any:
    if key in SECRET_ARGS and value is not None:
        return REDACTED
    return redacted(value) if isinstance(value, Mapping) else value


@dataclass(frozen=True, slots=True)
class Call:
    spec: ToolSpec
    args: dict[str, Any]
    client: ProxmoxClient
    runtime: Runtime | None = None  # for the tools that act on pvemcp itself (pve_preview, pve_wait_task)
    ctx: CallContext | None = None


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
