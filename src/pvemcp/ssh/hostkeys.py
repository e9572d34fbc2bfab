"""Host keys checked against known_hosts, the way OpenSSH's StrictHostKeyChecking does.

A key recorded for the host is accepted; another key for a host that has one recorded is refused, always
(a reinstall or a man in the middle: a person must decide). A host with nothing recorded is refused with the
command that would record it, or, with trust on first use, recorded and accepted.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncssh

from pvemcp.pve.errors import ErrorCode, SshError

Verdict = Literal["unknown", "changed", "unrecorded"]


def load_known_hosts(path: Path) -> asyncssh.SSHKnownHosts:
    """Read the file afresh for every connection: an entry added or removed by hand takes effect at once."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise SshError(
            ErrorCode.SSH_HOST_KEY_UNKNOWN,
            f"The known_hosts file {path} cannot be read: {exc.strerror or exc}.",
            "Make PROXMOX_SSH_KNOWN_HOSTS name a readable file.",
        ) from None
    try:
        return asyncssh.import_known_hosts(text)
    except (ValueError, asyncssh.KeyImportError) as exc:
        raise SshError(
            ErrorCode.SSH_HOST_KEY_UNKNOWN,
            f"The known_hosts file {path} has an entry that cannot be parsed: {exc}.",
            "Fix or remove the malformed line (ssh-keygen -F HOST -f FILE shows what a host has).",
        ) from None


def host_label(host: str, port: int) -> str:
    """How known_hosts names a host: bare on port 22, `[host]:port` elsewhere."""
    bare = host.strip("[]")
    return bare if port == 22 else f"[{bare}]:{port}"


class HostKeyCheck(asyncssh.SSHClient):
    """The host key decision for one connection attempt.

    asyncssh asks `trusted` for the recorded keys, accepts a presented key among them by itself, and asks
    `validate_host_public_key` about any other key; the verdict stays here so the failure can be explained.
    """

    def __init__(self, known_hosts: asyncssh.SSHKnownHosts, path: Path, *, trust_on_first_use: bool) -> None:
        self._known_hosts = known_hosts
        self._path = path
        self._tofu = trust_on_first_use
        self.recorded_keys = False
        self.verdict: Verdict | None = None
        self.fingerprint = ""
        self.note = ""

    def trusted(self, host: str, addr: str, port: int | None) -> Any:
        matched = self._known_hosts.match(host, addr, port)
        self.recorded_keys = any(matched[:3])  # trusted keys, CA keys or revoked keys name this host
        return matched

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.fingerprint = key.get_fingerprint("sha256")
        if self.recorded_keys:
            self.verdict = "changed"
            return False
        if not self._tofu:
            self.verdict = "unknown"
            return False
        try:
            record(self._path, host_label(host, port), key)
        except OSError as exc:
            self.verdict = "unrecorded"
            self.note = exc.strerror or str(exc)
            return False
        return True


def record(path: Path, label: str, key: asyncssh.SSHKey) -> None:
    """Append `label keytype base64` to known_hosts (created 0600, its directory 0700, when missing)."""
    kind, blob = key.export_public_key("openssh").decode().split()[:2]
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        if handle.tell() > 0 and not path.read_bytes().endswith(b"\n"):
            handle.write("\n")
        handle.write(f"{label} {kind} {blob}\n")


@dataclass(frozen=True, slots=True)
class Where:
    """The host a refused key came from, and how a person would reach it to check."""

    host: str
    port: int
    known_hosts: Path
    via: str | None = None  # "user@entry" when the host is reached through the entry host


def refusal(check: HostKeyCheck, where: Where, reason: str) -> SshError:
    label = host_label(where.host, where.port)
    details = {"host": label, "known_hosts": str(where.known_hosts)}
    if check.fingerprint:
        details["fingerprint"] = check.fingerprint
    known = shlex.quote(str(where.known_hosts))
    if check.verdict == "unknown":
        scan = f"ssh-keyscan -p {where.port} {where.host.strip('[]')}"
        if where.via is not None:
            scan = f"ssh -p {where.port} {where.via} {scan}"
        return SshError(
            ErrorCode.SSH_HOST_KEY_UNKNOWN,
            f"The host key of {label} ({check.fingerprint}) is not in {where.known_hosts}; nothing was sent.",
            f"Check the fingerprint on the node (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then run"
            f" `{scan} >> {known}`, or set PROXMOX_SSH_TRUST_ON_FIRST_USE=true to record it on first connection.",
            details=details,
        )
    if check.verdict == "unrecorded":
        return SshError(
            ErrorCode.SSH_HOST_KEY_UNKNOWN,
            f"The host key of {label} could not be recorded in {where.known_hosts}: {check.note}; nothing was sent.",
            "Make PROXMOX_SSH_KNOWN_HOSTS name a writable file, or add the key by hand.",
            details=details,
        )
    return SshError(
        ErrorCode.SSH_HOST_KEY_CHANGED,
        f"The host key of {label} does not match the one recorded in {where.known_hosts} ({reason});"
        " the connection was refused.",
        "Find out why the key changed (a reinstalled node, or someone in the middle) before removing the old"
        f" entry with `ssh-keygen -R {shlex.quote(label)} -f {known}`.",
        details=details,
    )
