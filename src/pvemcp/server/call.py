"""A tool call as handlers see it: its arguments, and how they travel to Proxmox."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.upstream import Upstream
from pvemcp.server.context import CallContext, WaitClock
from pvemcp.server.resolve import GuestRef, Locator
from pvemcp.server.scope import Scope
from pvemcp.ssh.channel import RemoteRunner

# Arguments that steer pvemcp itself and never travel to Proxmox.
CONTROL_ARGS = frozenset({"confirm", "wait_seconds"})


# Words that make a key name a secret's, matched against its parts (split on "-", "_", "." and camelCase, in
# lower case): "key" redacts encryption-key, eab-hmac-key and a certificate upload's key, not keep-last or sshkeys.
SECRET_PARTS = frozenset(
    {
        *("key", "password", "passwd", "pass", "secret", "token", "passphrase", "private", "privkey", "certkey"),
        *("hmac", "keyring", "cookie", "ticket", "csrf", "authorization", "credential", "credentials"),
        *("otp", "totp", "apikey"),
    }
)
# Words that mark a secret inside a longer part too (cipassword, clientsecret, vncticket).
SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "ticket", "privkey", "keyring")
_PARTS = re.compile(r"[-_.\s]+|(?<=[a-z0-9])(?=[A-Z])")
# A private key in PEM form is a secret under any name (a certificate chain pasted together with its key).
PRIVATE_KEY_PEM = "PRIVATE KEY-----"
REDACTED = "***"


def secret_name(key: str) -> bool:
    """Does this parameter name, by its words, carry a secret? Public keys (sshkeys, ssh-public-keys) do not."""
    parts = [part.lower() for part in _PARTS.split(key) if part]
    return any(part in SECRET_PARTS or any(word in part for word in SECRET_WORDS) for part in parts)


def _marked() -> frozenset[str]:
    """Every catalog parameter marked secret, under its own name and Proxmox's. A name means one thing
    throughout the catalog (tests/test_redaction.py holds it to that), so the mark applies wherever it is used."""
    from pvemcp.catalog import ALL_TOOLS

    return frozenset(name for spec in ALL_TOOLS for p in spec.all_params if p.secret for name in (p.name, p.api_name))


# Arguments whose values are secrets by the catalog's mark; Proxmox's own secret names (confirmation-password,
# certkey, eab-hmac-key, ...) are known by their words.
SECRET_ARGS = _marked()


def is_secret(key: str, value: Any) -> bool:
    if value is None:
        return False
    if key in SECRET_ARGS or secret_name(key):
        return True
    return isinstance(value, str) and PRIVATE_KEY_PEM in value


def redacted(args: Mapping[str, Any]) -> dict[str, Any]:
    """Secrets masked at any depth: the one redaction of the audit log and pve_preview.

    Masked: a name the catalog marks `secret`; any key whose words name a secret, for the raw API's `params`,
    a preview's `arguments` and other mappings inside have no catalog record to go by; a PEM private key
    under any name. Public keys (sshkeys) stay on record: which key was let in is worth auditing.
    """
    return {key: _masked(str(key), value) for key, value in args.items()}


def _masked(key: str, value: Any) -> Any:
    if is_secret(key, value):
        return REDACTED
    if isinstance(value, Mapping):
        return redacted(value)
    if isinstance(value, list | tuple):
        return [_masked("", item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class Call:
    """One checked call, and exactly what a handler may use to carry it out."""

    spec: ToolSpec
    args: dict[str, Any]  # validated, node filled in from the guest's location
    client: Upstream  # checks every request against the scope before it leaves (server/scoped_client.py)
    ctx: CallContext
    scope: Scope
    locator: Locator
    clock: WaitClock  # task waiting: real time, or the simulator's clock in tests
    ssh: RemoteRunner  # the SSH channel, or one that says it is not set up (ssh.channel.NoChannel)
    max_result_bytes: int
    target: GuestRef | None = None  # the guest the scope guard found the call acts on (server/guard.py)


Handler = Callable[[Call], Awaitable[Any]]


def pve_urlencode(value: str) -> str:
    """Proxmox expects some values (cloud-init sshkeys) URL-encoded like JavaScript's encodeURIComponent."""
    return quote(value, safe="-_.!~*'()")


def api_params(call: Call) -> dict[str, Any]:
    """Fixed parameters plus the caller's, under Proxmox's names, minus path and pvemcp-only ones."""
    return wire_params(call.spec, call.args)


def wire_params(spec: ToolSpec, args: Mapping[str, Any]) -> dict[str, Any]:
    """What api_params sends for these arguments (validation measures a query with it before any call)."""
    params: dict[str, Any] = dict(spec.fixed)
    skip = CONTROL_ARGS | set(spec.placeholders)
    for name, value in args.items():
        param = spec.param(name)
        if name in skip or param is None or param.local or name == "confirm":
            continue
        if param.encoding == "pve-urlencode" and isinstance(value, str):
            value = pve_urlencode(value)
        params[param.api_name] = value
    return params
