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

from pydantic import SecretStr, TypeAdapter, ValidationError

from pvemcp.catalog import ALL_TOOLS
from pvemcp.config_file import SettingsText
from pvemcp.pve.client import ApiToken
from pvemcp.pve.tls import TlsConfig, normalize_fingerprint
from pvemcp.secret_input import check_secret, read_secret_file
from pvemcp.server.confirm import ConfirmMode
from pvemcp.server.inventory import Policy, hidden_by, parse_policy
from pvemcp.server.scope import Scope, parse_scope
from pvemcp.ssh.settings import DEFAULT_MAX_OUTPUT, SshSettings, parse_node_hosts, valid_host, valid_user

if TYPE_CHECKING:
    from pvemcp.http.settings import HttpSettings

LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_BOOL = TypeAdapter(bool)


class ConfigError(Exception):
    """Start-up settings are missing or malformed; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"pvemcp cannot start: {len(self.problems)} configuration problem(s):\n{lines}"


class EnvSettings(SettingsText):
    """Raw settings text; parsed and checked in `load_config` so that all problems surface together."""

    proxmox_host: str | None = None
    proxmox_port: str | None = None
    proxmox_user: str | None = None
    proxmox_realm: str | None = None
    proxmox_token_name: str | None = None
    proxmox_token_secret: SecretStr | None = None
    proxmox_token_secret_file: str | None = None
    proxmox_allow_insecure_tls: str | None = None
    proxmox_tls_ca_file: str | None = None
    proxmox_tls_fingerprint: str | None = None
    proxmox_timeout: str | None = None
    pve_access_tier: str | None = None
    pve_module_mode: str | None = None
    pve_categories: str | None = None
    pve_tool_whitelist: str | None = None
    pve_tool_blacklist: str | None = None
    pve_log_level: str | None = None
    pve_sandbox: str | None = None
    pve_aliases: str | None = None
    pve_result_max_bytes: str | None = None
    pve_confirm_mode: str | None = None
    pve_audit_log: str | None = None
    pve_audit_reads: str | None = None
    pve_allowed_nodes: str | None = None
    pve_allowed_vmids: str | None = None
    pve_protected_tag: str | None = None
    pve_ssh: str | None = None
    proxmox_ssh_host: str | None = None
    proxmox_ssh_user: str | None = None
    proxmox_ssh_key_path: str | None = None
    proxmox_ssh_port: str | None = None
    proxmox_ssh_known_hosts: str | None = None
    proxmox_ssh_trust_on_first_use: str | None = None
    proxmox_ssh_node_hosts: str | None = None
    proxmox_ssh_connect_timeout: str | None = None
    pve_ssh_command_timeout: str | None = None
    pve_ssh_max_output_bytes: str | None = None
    mcp_transport: str | None = None
    xdg_state_home: str | None = None
    home: str | None = None


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
    result_max_bytes: int = 40_000
    confirm_mode: ConfirmMode = ConfirmMode.AUTO
    scope: Scope = field(default_factory=Scope)
    audit_path: Path | None = None  # None: PVE_AUDIT_LOG=off
    audit_reads: bool = False
    ssh: SshSettings | None = None  # None: the SSH tools are hidden (PVE_SSH=off, or auto without settings)
    http: HttpSettings | None = None  # set when serving Streamable HTTP (MCP_TRANSPORT=http, --transport http)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values the log redactor must never let through."""
        own = (self.target.token.secret,) if self.target else ()
        return own + (self.http.secrets if self.http else ())


def flag_setting(name: str, value: str | None, problems: list[str]) -> bool:
    if value is None or not value.strip():
        return False
    try:
        return _BOOL.validate_python(value.strip())
    except ValidationError:
        problems.append(f"{name}={value!r} is not a boolean; use true or false")
        return False


def _number(name: str, value: str | None, default: float, problems: list[str], *, low: float, high: float) -> float:
    if value is None or not value.strip():
        return default
    try:
        number = float(value)
    except ValueError:
        problems.append(f"{name}={value!r} is not a number")
        return default
    if not low <= number <= high:
        problems.append(f"{name}={value!r} must be between {low:g} and {high:g}")
    return number


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


def _target(env: EnvSettings, problems: list[str]) -> ProxmoxTarget | None:
    required = {
        "PROXMOX_HOST": env.proxmox_host,
        "PROXMOX_USER": env.proxmox_user,
        "PROXMOX_REALM": env.proxmox_realm,
        "PROXMOX_TOKEN_NAME": env.proxmox_token_name,
    }
    for name, value in required.items():
        if not (value or "").strip():
            problems.append(f"{name} is not set (or use --sandbox to try pvemcp on the simulated cluster)")
    secret = env.proxmox_token_secret.get_secret_value().strip() if env.proxmox_token_secret else ""
    secret_file = (env.proxmox_token_secret_file or "").strip()
    if secret:
        check_secret("PROXMOX_TOKEN_SECRET", secret, problems)
    elif secret_file:  # the secret alone on the file's first line, so it stays out of client configs
        secret = read_secret_file("PROXMOX_TOKEN_SECRET_FILE", secret_file, problems)
    else:
        problems.append("PROXMOX_TOKEN_SECRET is not set (or name a file holding it in PROXMOX_TOKEN_SECRET_FILE)")
    host = (env.proxmox_host or "").strip()
    if host and not _valid_host(host):
        problems.append(f"PROXMOX_HOST={host!r} is not a host name or IP address (no scheme, port or path)")
    for name, value in (
        ("PROXMOX_USER", env.proxmox_user),
        ("PROXMOX_REALM", env.proxmox_realm),
        ("PROXMOX_TOKEN_NAME", env.proxmox_token_name),
    ):
        if value and value.strip() and not _NAME.fullmatch(value.strip()):
            problems.append(f"{name}={value.strip()!r} may only hold letters, digits, '.', '_' and '-'")
    port = _number("PROXMOX_PORT", env.proxmox_port, 8006, problems, low=1, high=65535)
    if not float(port).is_integer():
        problems.append(f"PROXMOX_PORT={env.proxmox_port!r} must be a whole number")
    timeout = _number("PROXMOX_TIMEOUT", env.proxmox_timeout, 20.0, problems, low=1, high=600)
    insecure = flag_setting("PROXMOX_ALLOW_INSECURE_TLS", env.proxmox_allow_insecure_tls, problems)
    fingerprint = (env.proxmox_tls_fingerprint or "").strip() or None
    if fingerprint:
        try:
            fingerprint = normalize_fingerprint(fingerprint)
        except ValueError as exc:
            problems.append(f"PROXMOX_TLS_FINGERPRINT is malformed: {exc}")
    ca_file = (env.proxmox_tls_ca_file or "").strip() or None
    if ca_file and not Path(ca_file).is_file():
        problems.append(f"PROXMOX_TLS_CA_FILE={ca_file!r} is not a readable file")
    if problems:
        return None
    user, realm, name = (str(v).strip() for v in (env.proxmox_user, env.proxmox_realm, env.proxmox_token_name))
    url_host = host if host.startswith("[") or ":" not in host else f"[{host}]"
    return ProxmoxTarget(
        base_url=f"https://{url_host}:{int(port)}",
        token=ApiToken(user=user, realm=realm, token_name=name, secret=secret),
        tls=TlsConfig(ca_file=ca_file, fingerprint=fingerprint, insecure=insecure and not fingerprint),
        timeout=timeout,
    )


def ssh_settings(env: EnvSettings, problems: list[str], *, wanted: bool = True) -> SshSettings | None:
    """PVE_SSH=auto (default) turns the SSH tools on when PROXMOX_SSH_HOST is set; on requires the settings.

    `wanted` is False when the tier and filters leave no SSH tool to expose: then nothing is required.
    """
    mode = (env.pve_ssh or "auto").strip().lower()
    if mode not in ("auto", "on", "off"):
        problems.append(f"PVE_SSH={env.pve_ssh!r} is not one of auto, on, off")
        return None
    host = (env.proxmox_ssh_host or "").strip()
    if mode == "off" or (mode == "auto" and not host) or not wanted:
        return None
    user = (env.proxmox_ssh_user or "").strip()
    key = (env.proxmox_ssh_key_path or "").strip()
    for name, value in (("PROXMOX_SSH_HOST", host), ("PROXMOX_SSH_USER", user), ("PROXMOX_SSH_KEY_PATH", key)):
        if not value:
            problems.append(f"{name} is not set (the SSH tools need it; PVE_SSH=off hides them)")
    if host and not valid_host(host):
        problems.append(f"PROXMOX_SSH_HOST={host!r} is not a host name or IP address")
    if user and not valid_user(user):
        problems.append(f"PROXMOX_SSH_USER={user!r} is not a user name")
    if key and any(ord(ch) < 32 for ch in key):
        problems.append("PROXMOX_SSH_KEY_PATH contains control characters")
    port = _number("PROXMOX_SSH_PORT", env.proxmox_ssh_port, 22, problems, low=1, high=65535)
    known = (env.proxmox_ssh_known_hosts or "").strip()
    tofu = flag_setting("PROXMOX_SSH_TRUST_ON_FIRST_USE", env.proxmox_ssh_trust_on_first_use, problems)
    nodes = parse_node_hosts(env.proxmox_ssh_node_hosts, problems)
    connect = _number("PROXMOX_SSH_CONNECT_TIMEOUT", env.proxmox_ssh_connect_timeout, 10, problems, low=1, high=120)
    command = _number("PVE_SSH_COMMAND_TIMEOUT", env.pve_ssh_command_timeout, 30, problems, low=1, high=3600)
    cap = _number(
        "PVE_SSH_MAX_OUTPUT_BYTES", env.pve_ssh_max_output_bytes, DEFAULT_MAX_OUTPUT, problems, low=1024, high=64 << 20
    )
    if not (host and user and key) or problems:
        return None
    home = (env.home or "").strip() or str(Path.home())
    return SshSettings(
        host=host,
        user=user,
        key_path=Path(key).expanduser(),
        port=int(port),
        known_hosts=Path(known).expanduser() if known else Path(home) / ".ssh" / "known_hosts",
        trust_on_first_use=tofu,
        node_hosts=nodes,
        max_output_bytes=int(cap),
        connect_timeout=connect,
        command_timeout=command,
    )


AUDIT_OFF = frozenset({"off", "none", "false", "0"})


def state_dir(env: EnvSettings) -> Path:
    """$XDG_STATE_HOME/pvemcp, else ~/.local/state/pvemcp: where the audit log lives by default."""
    base = (env.xdg_state_home or "").strip()
    if base and os.path.isabs(base):
        return Path(base) / "pvemcp"
    home = (env.home or "").strip() or str(Path.home())
    return Path(home) / ".local" / "state" / "pvemcp"


def audit_path_setting(env: EnvSettings, sandbox: bool, problems: list[str]) -> Path | None:
    text = (env.pve_audit_log or "").strip()
    if text.lower() in AUDIT_OFF:
        return None
    if not text:
        return state_dir(env) / ("sandbox-audit.jsonl" if sandbox else "audit.jsonl")
    if any(ord(ch) < 32 for ch in text):
        problems.append("PVE_AUDIT_LOG contains control characters")
        return None
    path = Path(text).expanduser()
    if path.is_dir():
        problems.append(f"PVE_AUDIT_LOG={text!r} is a directory; name a file, e.g. {path / 'audit.jsonl'}")
    return path


def gather_settings(
    environ: Mapping[str, str] | None, *, profile: str | None, cwd: Path | None, problems: list[str]
) -> tuple[dict[str, str], Path | None]:
    """The settings text pvemcp runs with: the config file's (with its profile), then the environment over it.

    environ None: the process environment, and the project file in the working directory is looked for.
    An explicit mapping (tests, tools) is read alone; cwd names where a project file may be.
    """
    from pvemcp.config_file import find_config_file, read_settings

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


def env_settings(problems: list[str], *, profile: str | None = None) -> EnvSettings:
    """The settings text of this process (configuration file, then environment), for commands that need
    a setting or two without a whole Config (e.g. where the audit log is)."""
    merged, _ = gather_settings(None, profile=profile, cwd=None, problems=problems)
    return EnvSettings.model_validate({k.lower(): v for k, v in merged.items()})


def load_config(
    environ: Mapping[str, str] | None = None,
    *,
    sandbox: bool = False,
    transport: str | None = None,
    profile: str | None = None,
    cwd: Path | None = None,
) -> Config:
    """Read and validate every setting; raise ConfigError listing all problems.

    transport: "stdio" or "http" from the command line; None reads MCP_TRANSPORT.
    profile: a [profiles.NAME] of the configuration file (--profile); None reads PVEMCP_PROFILE.
    """
    problems: list[str] = []
    merged, _ = gather_settings(environ, profile=profile, cwd=cwd, problems=problems)
    environ = merged
    env = EnvSettings.model_validate({k.lower(): v for k, v in merged.items()})
    sandbox = sandbox or flag_setting("PVE_SANDBOX", env.pve_sandbox, problems)
    policy, policy_problems = parse_policy(
        tier=env.pve_access_tier,
        module=env.pve_module_mode,
        categories=env.pve_categories,
        whitelist=env.pve_tool_whitelist,
        blacklist=env.pve_tool_blacklist,
        aliases=env.pve_aliases,
    )
    problems.extend(policy_problems)
    level_text = (env.pve_log_level or "info").strip().lower()
    if level_text not in LOG_LEVELS:
        problems.append(f"PVE_LOG_LEVEL={env.pve_log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    max_bytes = _number("PVE_RESULT_MAX_BYTES", env.pve_result_max_bytes, 40_000, problems, low=2_000, high=10_000_000)
    mode_text = (env.pve_confirm_mode or "auto").strip().lower()
    if mode_text not in {m.value for m in ConfirmMode}:
        problems.append(f"PVE_CONFIRM_MODE={env.pve_confirm_mode!r} is not one of auto, elicit, flag")
        mode_text = "auto"
    scope, scope_problems = parse_scope(env.pve_allowed_nodes, env.pve_allowed_vmids, env.pve_protected_tag)
    problems.extend(scope_problems)
    audit_reads = flag_setting("PVE_AUDIT_READS", env.pve_audit_reads, problems)
    audit_path = audit_path_setting(env, sandbox, problems)
    with_ssh = replace(policy, ssh=True)
    wanted = any(spec.ssh and hidden_by(spec, with_ssh) is None for spec in ALL_TOOLS)
    ssh = ssh_settings(env, problems, wanted=wanted)
    policy = replace(policy, ssh=ssh is not None)
    target = None if sandbox else _target(env, problems)
    http = None
    chosen = (transport or env.mcp_transport or "stdio").strip().lower()
    if chosen not in ("stdio", "http"):
        problems.append(f"MCP_TRANSPORT={env.mcp_transport!r} is not one of stdio, http")
    elif chosen == "http":
        from pvemcp.http.settings import load_http_settings  # the stdio path never pays for it

        http = load_http_settings(environ, problems)
    if problems:
        raise ConfigError(problems)
    return Config(
        sandbox=sandbox,
        target=target,
        policy=policy,
        log_level=LOG_LEVELS.get(level_text, logging.INFO),
        result_max_bytes=int(max_bytes),
        confirm_mode=ConfirmMode(mode_text),
        scope=scope,
        audit_path=audit_path,
        audit_reads=audit_reads,
        ssh=ssh,
        http=http,
    )
