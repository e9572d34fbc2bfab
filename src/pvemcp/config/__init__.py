"""Configuration from the environment, validated as a whole.

Every problem is collected and reported together in one message, so a user fixes their settings in
one pass instead of one traceback at a time. Secrets are held as SecretStr and never printed.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pvemcp.catalog import ALL_TOOLS
from pvemcp.config.file import find_config_file, read_settings
from pvemcp.config.table import int_default
from pvemcp.config.values import SettingValues
from pvemcp.pve.client import ApiToken
from pvemcp.pve.tls import TlsConfig, normalize_fingerprint
from pvemcp.secret_input import check_secret, read_secret_file
from pvemcp.server.confirm import ConfirmMode
from pvemcp.server.inventory import Policy, hidden_by, parse_policy
from pvemcp.server.scope import Scope, parse_scope
from pvemcp.ssh.settings import SshSettings, parse_node_hosts, valid_host, valid_user

if TYPE_CHECKING:
    from pvemcp.audit_syslog import SyslogTarget

LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(Exception):
    """Start-up settings are missing or malformed; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"pvemcp cannot start: {len(self.problems)} configuration problem(s):\n{lines}"


@dataclass(frozen=True, slots=True)
class ProxmoxTarget:
    base_url: str
    token: ApiToken
    tls: TlsConfig
    timeout: float


@dataclass(frozen=True, slots=True)
class Config:
    sandbox: bool
    target: ProxmoxTarget | None
    policy: Policy
    log_level: int
    result_max_bytes: int = int_default("PVE_RESULT_MAX_BYTES")
    confirm_mode: ConfirmMode = ConfirmMode.AUTO
    scope: Scope = field(default_factory=Scope)
    audit_path: Path | None = None  # None: PVE_AUDIT_LOG=off
    audit_reads: bool = False
    audit_syslog: SyslogTarget | None = None  # None: PVE_AUDIT_SYSLOG unset (entries stay in the file only)
    ssh: SshSettings | None = None  # None: the SSH tools are hidden (PVE_SSH=off, or auto without settings)
    transport: str = "stdio"  # "http": serve with pvemcp.http.settings.HttpConfig, which adds the MCP_* settings

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values the log redactor must never let through."""
        return (self.target.token.secret,) if self.target else ()


@dataclass(slots=True)
class Reading:
    """Every setting read and judged, before the verdict: a layer above (the HTTP transport) may add its own
    settings' problems, so that all of them are still reported together."""

    values: SettingValues
    problems: list[str]
    transport: str
    config: Config | None  # None when the settings read so far have a problem

    def result(self) -> Config:
        if self.problems or self.config is None:
            raise ConfigError(self.problems)
        return self.config


def _valid_host(host: str) -> bool:
    """A name, an IPv4 address, or an IPv6 address with or without brackets (::1, [fd00::5]); no zone index."""
    inner = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" not in inner:
        return inner == host and _HOST.match(host) is not None
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        return False
    return "%" not in inner


def _target(values: SettingValues, problems: list[str]) -> ProxmoxTarget | None:
    found = len(problems)
    host, user = values.text("PROXMOX_HOST"), values.text("PROXMOX_USER")
    realm, name = values.text("PROXMOX_REALM"), values.text("PROXMOX_TOKEN_NAME")
    for setting, value in (
        ("PROXMOX_HOST", host),
        ("PROXMOX_USER", user),
        ("PROXMOX_REALM", realm),
        ("PROXMOX_TOKEN_NAME", name),
    ):
        if not value:
            problems.append(f"{setting} is not set (or use --sandbox to try pvemcp on the simulated cluster)")
    secret = values.text("PROXMOX_TOKEN_SECRET")
    secret_file = values.text("PROXMOX_TOKEN_SECRET_FILE")
    if secret:
        check_secret("PROXMOX_TOKEN_SECRET", secret, problems)
    elif secret_file:  # the secret alone on the file's first line, so it stays out of client configs
        secret = read_secret_file("PROXMOX_TOKEN_SECRET_FILE", secret_file, problems)
    else:
        problems.append("PROXMOX_TOKEN_SECRET is not set (or name a file holding it in PROXMOX_TOKEN_SECRET_FILE)")
    if host and not _valid_host(host):
        problems.append(f"PROXMOX_HOST={host!r} is not a host name or IP address (no scheme, port or path)")
    for setting, value in (("PROXMOX_USER", user), ("PROXMOX_REALM", realm), ("PROXMOX_TOKEN_NAME", name)):
        if value and not _NAME.fullmatch(value):
            problems.append(f"{setting}={value!r} may only hold letters, digits, '.', '_' and '-'")
    port = values.integer("PROXMOX_PORT")
    timeout = values.number("PROXMOX_TIMEOUT")
    insecure = values.flag("PROXMOX_ALLOW_INSECURE_TLS")
    fingerprint = values.text("PROXMOX_TLS_FINGERPRINT") or None
    if fingerprint:
        try:
            fingerprint = normalize_fingerprint(fingerprint)
        except ValueError as exc:
            problems.append(f"PROXMOX_TLS_FINGERPRINT is malformed: {exc}")
    ca_file = values.text("PROXMOX_TLS_CA_FILE") or None
    if ca_file and not Path(ca_file).is_file():
        problems.append(f"PROXMOX_TLS_CA_FILE={ca_file!r} is not a readable file")
    if len(problems) > found:
        return None
    url_host = host if host.startswith("[") or ":" not in host else f"[{host}]"
    return ProxmoxTarget(
        base_url=f"https://{url_host}:{port}",
        token=ApiToken(user=user, realm=realm, token_name=name, secret=secret),
        tls=TlsConfig(ca_file=ca_file, fingerprint=fingerprint, insecure=insecure and not fingerprint),
        timeout=timeout,
    )


def _home(values: SettingValues) -> str:
    return values.text("HOME") or str(Path.home())


def ssh_settings(values: SettingValues, problems: list[str], *, wanted: bool = True) -> SshSettings | None:
    """PVE_SSH=auto (default) turns the SSH tools on when PROXMOX_SSH_HOST is set; on requires the settings.

    `wanted` is False when the tier and filters leave no SSH tool to expose: then nothing is required.
    """
    found = len(problems)
    mode = values.choice("PVE_SSH")
    host = values.text("PROXMOX_SSH_HOST")
    if len(problems) > found or mode == "off" or (mode == "auto" and not host) or not wanted:
        return None
    user = values.text("PROXMOX_SSH_USER")
    key = values.text("PROXMOX_SSH_KEY_PATH")
    for name, value in (("PROXMOX_SSH_HOST", host), ("PROXMOX_SSH_USER", user), ("PROXMOX_SSH_KEY_PATH", key)):
        if not value:
            problems.append(f"{name} is not set (the SSH tools need it; PVE_SSH=off hides them)")
    if host and not valid_host(host):
        problems.append(f"PROXMOX_SSH_HOST={host!r} is not a host name or IP address")
    if user and not valid_user(user):
        problems.append(f"PROXMOX_SSH_USER={user!r} is not a user name")
    if key and any(ord(ch) < 32 for ch in key):
        problems.append("PROXMOX_SSH_KEY_PATH contains control characters")
    known = values.text("PROXMOX_SSH_KNOWN_HOSTS")
    settings = SshSettings(
        host=host,
        user=user,
        key_path=Path(key).expanduser(),
        port=values.integer("PROXMOX_SSH_PORT"),
        known_hosts=Path(known).expanduser() if known else Path(_home(values)) / ".ssh" / "known_hosts",
        trust_on_first_use=values.flag("PROXMOX_SSH_TRUST_ON_FIRST_USE"),
        node_hosts=parse_node_hosts(values.raw("PROXMOX_SSH_NODE_HOSTS"), problems),
        max_output_bytes=values.integer("PVE_SSH_MAX_OUTPUT_BYTES"),
        connect_timeout=values.number("PROXMOX_SSH_CONNECT_TIMEOUT"),
        command_timeout=values.number("PVE_SSH_COMMAND_TIMEOUT"),
    )
    return None if len(problems) > found else settings


AUDIT_OFF = frozenset({"off", "none", "false", "0"})


def state_dir(values: SettingValues) -> Path:
    """$XDG_STATE_HOME/pvemcp, else ~/.local/state/pvemcp: where the audit log lives by default."""
    base = values.text("XDG_STATE_HOME")
    if base and os.path.isabs(base):
        return Path(base) / "pvemcp"
    return Path(_home(values)) / ".local" / "state" / "pvemcp"


def audit_path_setting(values: SettingValues, sandbox: bool, problems: list[str]) -> Path | None:
    text = values.text("PVE_AUDIT_LOG")
    if text.lower() in AUDIT_OFF:
        return None
    if not text:
        return state_dir(values) / ("sandbox-audit.jsonl" if sandbox else "audit.jsonl")
    if any(ord(ch) < 32 for ch in text):
        problems.append("PVE_AUDIT_LOG contains control characters")
        return None
    path = Path(text).expanduser()
    if path.is_dir():
        problems.append(f"PVE_AUDIT_LOG={text!r} is a directory; name a file, e.g. {path / 'audit.jsonl'}")
    return path


def audit_syslog_setting(values: SettingValues, audit_path: Path | None, problems: list[str]) -> SyslogTarget | None:
    """PVE_AUDIT_SYSLOG: where audit entries are also sent; the chained file stays the record, so it must be on."""
    text = values.text("PVE_AUDIT_SYSLOG").strip()
    if not text or text.lower() in AUDIT_OFF:
        return None
    from pvemcp.audit_syslog import parse_target  # only when set: start-up does not load it otherwise

    try:
        target = parse_target(text)
    except ValueError as exc:
        problems.append(f"PVE_AUDIT_SYSLOG={text!r} {exc}")
        return None
    if audit_path is None:
        problems.append("PVE_AUDIT_SYSLOG forwards the audit log's entries, but the audit log is off (PVE_AUDIT_LOG)")
        return None
    return target


def gather_settings(
    environ: Mapping[str, str] | None, *, profile: str | None, cwd: Path | None, problems: list[str]
) -> tuple[dict[str, str], Path | None]:
    """The settings text pvemcp runs with: the config file's (with its profile), then the environment over it.

    environ None: the process environment, and the project file in the working directory is looked for.
    An explicit mapping (tests, tools) is read alone; cwd names where a project file may be.
    """
    source = dict(os.environ) if environ is None else dict(environ)
    where = Path.cwd() if environ is None and cwd is None else cwd
    chosen = profile or (source.get("PVEMCP_PROFILE") or "").strip() or None
    path = find_config_file(source, where, problems)
    merged: dict[str, str] = {}
    if path is not None:
        merged.update(read_settings(path, chosen, problems))
    elif chosen is not None:
        problems.append(f"profile {chosen!r} was asked for, but no configuration file was found")
    merged.update({key.upper(): value for key, value in source.items()})
    return merged, path


def env_settings(problems: list[str], *, profile: str | None = None) -> SettingValues:
    """The settings of this process (configuration file, then environment), for commands that need a setting
    or two without a whole Config (e.g. where the audit log is)."""
    merged, _ = gather_settings(None, profile=profile, cwd=None, problems=problems)
    return SettingValues(merged, problems)


def read_config(
    environ: Mapping[str, str] | None = None,
    *,
    sandbox: bool = False,
    transport: str | None = None,
    profile: str | None = None,
    cwd: Path | None = None,
) -> Reading:
    """Read and judge every setting this layer knows; the problems are collected, never raised."""
    problems: list[str] = []
    merged, _ = gather_settings(environ, profile=profile, cwd=cwd, problems=problems)
    values = SettingValues(merged, problems)
    sandbox = sandbox or values.flag("PVE_SANDBOX")
    policy, policy_problems = parse_policy(
        tier=values.raw("PVE_ACCESS_TIER"),
        module=values.raw("PVE_MODULE_MODE"),
        categories=values.raw("PVE_CATEGORIES"),
        whitelist=values.raw("PVE_TOOL_WHITELIST"),
        blacklist=values.raw("PVE_TOOL_BLACKLIST"),
        aliases=values.raw("PVE_ALIASES"),
        mode=values.choice("PVE_TOOL_MODE"),
    )
    problems.extend(policy_problems)
    level = LOG_LEVELS[values.choice("PVE_LOG_LEVEL")]
    max_bytes = values.integer("PVE_RESULT_MAX_BYTES")
    confirm_mode = ConfirmMode(values.choice("PVE_CONFIRM_MODE"))
    scope, scope_problems = parse_scope(
        values.raw("PVE_ALLOWED_NODES"), values.raw("PVE_ALLOWED_VMIDS"), values.raw("PVE_PROTECTED_TAG")
    )
    problems.extend(scope_problems)
    audit_reads = values.flag("PVE_AUDIT_READS")
    audit_path = audit_path_setting(values, sandbox, problems)
    audit_syslog = audit_syslog_setting(values, audit_path, problems)
    with_ssh = replace(policy, ssh=True)
    wanted = any(spec.ssh and hidden_by(spec, with_ssh) is None for spec in ALL_TOOLS)
    ssh = ssh_settings(values, problems, wanted=wanted)
    policy = replace(policy, ssh=ssh is not None)
    target = None if sandbox else _target(values, problems)
    chosen = transport.strip().lower() if transport else values.choice("MCP_TRANSPORT")
    if chosen not in ("stdio", "http"):
        problems.append(f"transport {transport!r} is not one of stdio, http")
    config = None
    if not problems:
        config = Config(
            sandbox=sandbox,
            target=target,
            policy=policy,
            log_level=level,
            result_max_bytes=max_bytes,
            confirm_mode=confirm_mode,
            scope=scope,
            audit_path=audit_path,
            audit_reads=audit_reads,
            audit_syslog=audit_syslog,
            ssh=ssh,
            transport=chosen,
        )
    return Reading(values, problems, chosen, config)


def load_config(
    environ: Mapping[str, str] | None = None,
    *,
    sandbox: bool = False,
    transport: str | None = None,
    profile: str | None = None,
    cwd: Path | None = None,
) -> Config:
    """Read and validate every setting; raise ConfigError listing all problems.

    transport: "stdio" or "http" from the command line; None reads MCP_TRANSPORT. The MCP_* settings of the
    HTTP transport are judged by pvemcp.http.settings.load_http_config, which serving over HTTP uses.
    profile: a [profiles.NAME] of the configuration file (--profile); None reads PVEMCP_PROFILE.
    """
    return read_config(environ, sandbox=sandbox, transport=transport, profile=profile, cwd=cwd).result()
