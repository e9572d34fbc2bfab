"""What `pvemcp setup` does, apart from asking: read the certificate a node presents, check the answers
against the live API, and turn them into the settings and client entries it writes.

Kept free of prompts so the wizard and the scripted mode share one path, and so each step can be checked
on its own against the simulator.
"""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pvemcp.pve.client import ApiToken, ProxmoxClient, RetryPolicy
from pvemcp.pve.errors import ErrorCode, PveMcpError
from pvemcp.pve.tls import TlsConfig, format_fingerprint

TlsMode = Literal["verify", "ca", "fingerprint", "insecure"]
TLS_MODES: tuple[TlsMode, ...] = ("verify", "ca", "fingerprint", "insecure")
_TOKEN_ID = re.compile(r"^(?P<user>[^\s:/@!]+)@(?P<realm>[A-Za-z][A-Za-z0-9._-]*)!(?P<name>[A-Za-z][A-Za-z0-9._-]*)$")

PRIVSEP_WORD = (
    "A token with privilege separation (the default) holds only the permissions granted to the token itself,"
    " never more than its user's: give it its own ACL entries, e.g.\n"
    "  pveum acl modify / --tokens 'monitor@pve!pvemcp' --roles PVEAuditor\n"
    "`pvemcp bootstrap` prints the commands for a minimal role."
)
# The privileges each tier typically relies on, by ACL path: enough for a first impression. `pvemcp doctor`
# reports every tool's exact needs.
TIER_PRIVILEGES: dict[str, dict[str, tuple[str, ...]]] = {
    "read-only": {"/": ("Sys.Audit", "Datastore.Audit"), "/vms": ("VM.Audit",)},
    "read-execute": {"/": ("Sys.Audit", "Datastore.Audit"), "/vms": ("VM.Audit", "VM.PowerMgmt", "VM.Backup")},
    "full": {
        "/": ("Sys.Audit", "Datastore.Audit", "Datastore.AllocateSpace"),
        "/vms": ("VM.Audit", "VM.PowerMgmt", "VM.Backup", "VM.Allocate", "VM.Config.Options", "VM.Snapshot"),
    },
}


def parse_token_id(text: str) -> tuple[str, str, str]:
    """`user@realm!tokenid` → (user, realm, tokenid); ValueError naming the expected shape."""
    found = _TOKEN_ID.match(text.strip())
    if found is None:
        raise ValueError(f"{text.strip()!r} is not a token ID like monitor@pve!pvemcp (user@realm!tokenid)")
    return found["user"], found["realm"], found["name"]


@dataclass
class Answers:
    """Everything the wizard asks, filled from flags and prompts alike."""

    host: str = ""
    port: int = 8006
    user: str = ""
    realm: str = ""
    token_name: str = ""
    secret: str = field(default="", repr=False)
    tls: TlsMode = "verify"
    ca_file: str = ""
    fingerprint: str = ""  # lowercase hex, as normalize_fingerprint returns it
    tier: str = "read-only"
    module: str = "core"
    ssh_host: str = ""
    ssh_user: str = "root"
    ssh_key: str = ""

    @property
    def token_id(self) -> str:
        return f"{self.user}@{self.realm}!{self.token_name}" if self.user else ""

    @property
    def base_url(self) -> str:
        host = self.host if self.host.startswith("[") or ":" not in self.host else f"[{self.host}]"
        return f"https://{host}:{self.port}"

    def tls_config(self) -> TlsConfig:
        return TlsConfig(
            ca_file=self.ca_file if self.tls == "ca" else None,
            fingerprint=self.fingerprint if self.tls == "fingerprint" else None,
            insecure=self.tls == "insecure",
        )


@dataclass(frozen=True, slots=True)
class Presented:
    """The node's certificate as seen before trusting it."""

    fingerprint: str  # lowercase hex sha256 of the DER certificate
    verified: bool  # the system CAs (or the CA file) vouch for it, name included
    verify_error: str | None

    @property
    def shown(self) -> str:
        return format_fingerprint(self.fingerprint)


def presented_certificate(host: str, port: int, *, ca_file: str | None = None, timeout: float = 10.0) -> Presented:
    """Read the certificate the server presents, with a handshake that trusts nothing and sends nothing.

    The fingerprint is only shown for the user to compare and accept; no credential goes over this
    connection. A second, verifying handshake tells whether plain verification would work. Raises OSError
    when the host cannot be reached.
    """
    address = host.strip("[]")
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=timeout) as raw, probe.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise OSError(f"{host}:{port} presented no certificate")
    verify_error = None
    try:
        strict = ssl.create_default_context(cafile=ca_file)
        with (
            socket.create_connection((address, port), timeout=timeout) as raw,
            strict.wrap_socket(raw, server_hostname=address),
        ):
            pass
    except ssl.SSLCertVerificationError as exc:
        verify_error = exc.verify_message or str(exc)
    except (ssl.SSLError, OSError) as exc:
        verify_error = str(exc)
    return Presented(hashlib.sha256(der).hexdigest(), verify_error is None, verify_error)


@dataclass
class CheckReport:
    """The live check's findings; `error` set means pvemcp could not work with these settings."""

    version: str = ""
    nodes: list[tuple[str, str]] = field(default_factory=list)  # (name, status)
    privileges: dict[str, list[str]] = field(default_factory=dict)  # ACL path → privileges held there
    privsep: bool | None = None  # None: the token's own record could not be read
    error: PveMcpError | None = None
    failed_step: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def missing_for(self, tier: str) -> dict[str, list[str]]:
        """The tier's typical privileges this token lacks, by path."""
        wanted = TIER_PRIVILEGES.get(tier, {})
        missing = {path: [p for p in privs if p not in self.privileges.get(path, [])] for path, privs in wanted.items()}
        return {path: privs for path, privs in missing.items() if privs}


async def live_check(answers: Answers, *, timeout: float = 10.0) -> CheckReport:
    """GET /version, /nodes and /access/permissions with these answers; the first failure stops it."""
    report = CheckReport()
    token = ApiToken(answers.user, answers.realm, answers.token_name, answers.secret)
    client = ProxmoxClient(
        answers.base_url, token, tls=answers.tls_config(), timeout=timeout, retry=RetryPolicy(attempts=1)
    )
    step = "GET /version"
    try:
        version = await client.get("/version")
        report.version = _version_text(version)
        step = "GET /nodes"
        nodes = await client.get("/nodes")
        report.nodes = sorted(
            (str(n.get("node", "?")), str(n.get("status", "unknown"))) for n in nodes if isinstance(n, dict)
        )
        step = "GET /access/permissions"
        held = await client.get("/access/permissions")
        for path in ("/", "/vms"):
            privs = held.get(path) if isinstance(held, dict) else None
            if privs is None:
                privs = (await client.get("/access/permissions", {"path": path})).get(path, {})
            report.privileges[path] = sorted(dict(privs))
        report.privsep = await _privsep(client, answers)
    except PveMcpError as exc:
        report.error, report.failed_step = exc, step
    finally:
        await client.aclose()
    return report


def _version_text(data: Any) -> str:
    if not isinstance(data, dict):
        return "unknown"
    release = f" (release {data['release']})" if data.get("release") else ""
    return f"{data.get('version', 'unknown')}{release}"


async def _privsep(client: ProxmoxClient, answers: Answers) -> bool | None:
    """Whether the token is privilege-separated, read from its owner's token list (None when not visible)."""
    try:
        tokens = await client.get(f"/access/users/{answers.user}@{answers.realm}/token")
    except PveMcpError:
        return None
    for entry in tokens if isinstance(tokens, list) else []:
        if isinstance(entry, dict) and entry.get("tokenid") == answers.token_name:
            return bool(int(entry.get("privsep", 1)))
    return None


SETUP_HINTS: dict[ErrorCode, str] = {
    ErrorCode.PROXMOX_AUTH_FAILED: "Check the token ID (user@realm!tokenid) and paste the secret again.",
    ErrorCode.TLS_ERROR: (
        "Pin the certificate the node presents (the wizard's fingerprint choice, or --tls fingerprint"
        " --accept-fingerprint), or give the CA that signed it."
    ),
    ErrorCode.PROXMOX_ACL_FORBIDDEN: (
        "The token cannot read this. A privilege-separated token needs its own ACL entry, e.g."
        " pveum acl modify / --tokens 'USER@REALM!TOKEN' --roles PVEAuditor"
    ),
}


def read_secret_file(path: Path) -> str:
    """The secret on the file's first line (how PROXMOX_TOKEN_SECRET_FILE holds it too); ValueError if none."""
    try:
        lines = path.read_text("utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if not lines or not lines[0].strip():
        raise ValueError(f"{path} is empty")
    return lines[0].strip()


def summary_rows(answers: Answers, report: CheckReport | None) -> list[tuple[str, str]]:
    """The settings, and what the live check found, as (label, value) rows; the secret is never shown."""
    trust = {
        "verify": "system CAs",
        "ca": f"CA file {answers.ca_file}",
        "fingerprint": f"pinned {format_fingerprint(answers.fingerprint)}" if answers.fingerprint else "pinned",
        "insecure": "NOT VERIFIED (insecure)",
    }[answers.tls]
    rows = [
        ("API", answers.base_url),
        ("TLS", trust),
        ("Token", answers.token_id),
        ("Secret", "set (hidden)" if answers.secret else "missing"),
        ("Tier / module", f"{answers.tier} / {answers.module}"),
        ("SSH", f"{answers.ssh_user}@{answers.ssh_host}, key {answers.ssh_key}" if answers.ssh_host else "off"),
    ]
    if report is not None and report.ok:
        rows.append(("Proxmox VE", report.version))
        rows.append(("Nodes", ", ".join(f"{n} ({s})" for n, s in report.nodes) or "none visible"))
        wanted = TIER_PRIVILEGES.get(answers.tier, {})
        for path, privs in report.privileges.items():
            marks = ", ".join(f"{p} {'✓' if p in privs else '✗'}" for p in wanted.get(path, ()))
            rows.append((f"Privileges at {path}", f"{len(privs)} held; {answers.tier} needs {marks}"))
        if report.privsep is not None:
            rows.append(("Privilege separation", "on (the token's own ACL entries apply)" if report.privsep else "off"))
    return rows


def render_report(answers: Answers, report: CheckReport, *, width: int = 100) -> str:
    """The settings and findings as label and value lines, then ✓, ✗ (with the error's hints) and ! lines.

    Plain text, filled at spaces only: values are data, printed as they are (a fingerprint's ":CD:" is no
    emoji code, a "[name]" no markup), and a fingerprint too long for its column goes whole on its own line.
    """
    from pvemcp.setup.text import pairs, wrap

    lines = [pairs(summary_rows(answers, report), width)]
    if report.error is not None:
        error = report.error
        lines.append(f"✗ {report.failed_step} failed [{error.code}]: {error.message}")
        lines += [f"  hint: {hint}" for hint in (error.hint, SETUP_HINTS.get(error.code, "")) if hint]
        return wrap("\n".join(lines), width) + "\n"
    lines.append(f"✓ Proxmox VE {report.version}; {len(report.nodes)} node(s) visible.")
    for path, privs in report.missing_for(answers.tier).items():
        own = " (it is privilege-separated: grant them to the token itself)" if report.privsep else ""
        lines.append(f"! Tier {answers.tier} usually needs {', '.join(privs)} on {path}; the token lacks them{own}.")
    if "Permissions.Modify" in report.privileges.get("/", []):
        lines.append(
            "! This token may change permissions (administrator rights). One holding only what the tier needs"
            f" is safer: `pvemcp bootstrap --tier {answers.tier}` prints the commands."
        )
    if report.privsep is not False and not any(report.privileges.values()):
        # Proxmox lets a token read its own record only with User.Modify: a bare token cannot tell.
        known = "is privilege-separated and " if report.privsep else ""
        lines.append(f"! The token {known}holds nothing at / or /vms.\n" + PRIVSEP_WORD)
    return wrap("\n".join(lines), width) + "\n"
