"""The files `pvemcp setup` writes: which settings, where, and each MCP client's entry.

Planned first without touching anything (so --print-config shows exactly what would be written and a file
that cannot be merged stops the run before anything changed), then carried out.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pvemcp.config.table import SECRET_NAMES, SETUP_KEYS
from pvemcp.pve.tls import format_fingerprint
from pvemcp.setup.clients import BY_KEY, ClientTarget, merge_entry, stdio_entry
from pvemcp.setup.steps import Answers

# Every setting setup decides (the table's `setup`); one it leaves unset this time is removed (or blanked in a
# profile) so that a value from an earlier run (a pin, an SSH host) cannot linger next to the new answers.
MANAGED_KEYS = SETUP_KEYS


def settings_for(answers: Answers, *, secret_file: Path | None) -> dict[str, str]:
    """The settings to write (upper-case names → text): the secret inline, or the file that holds it."""
    settings = {
        "PROXMOX_HOST": answers.host,
        "PROXMOX_PORT": str(answers.port),
        "PROXMOX_USER": answers.user,
        "PROXMOX_REALM": answers.realm,
        "PROXMOX_TOKEN_NAME": answers.token_name,
        "PVE_ACCESS_TIER": answers.tier,
        "PVE_MODULE_MODE": answers.module,
    }
    if secret_file is not None:
        settings["PROXMOX_TOKEN_SECRET_FILE"] = str(secret_file)
    else:
        settings["PROXMOX_TOKEN_SECRET"] = answers.secret
    if answers.tls == "ca":
        settings["PROXMOX_TLS_CA_FILE"] = str(Path(answers.ca_file).expanduser().resolve())
    elif answers.tls == "fingerprint":
        settings["PROXMOX_TLS_FINGERPRINT"] = format_fingerprint(answers.fingerprint)
    elif answers.tls == "insecure":
        settings["PROXMOX_ALLOW_INSECURE_TLS"] = "true"
    if answers.ssh_host:
        settings["PROXMOX_SSH_HOST"] = answers.ssh_host
        settings["PROXMOX_SSH_USER"] = answers.ssh_user
        settings["PROXMOX_SSH_KEY_PATH"] = str(Path(answers.ssh_key).expanduser())
    return settings


def unset_keys(
    settings: Mapping[str, str], inherited: Mapping[str, str], *, profile: str | None
) -> tuple[dict[str, str], list[str]]:
    """What else to write so that only these answers apply: (blanked settings, keys to drop).

    At the top level a managed key left unset is dropped. In a profile it is dropped too, unless the top
    level holds it: then the profile gets an empty value, which hides the inherited one.
    """
    unused = [key for key in MANAGED_KEYS if key not in settings]
    if profile is None:
        return {}, unused
    blanked = {key: "" for key in unused if inherited.get(key)}
    return blanked, [key for key in unused if key not in blanked]


def secret_file_path(config_path: Path, profile: str | None) -> Path:
    return config_path.parent / f"{profile or 'default'}.token-secret"


def write_secret_file(path: Path, secret: str) -> None:
    """The secret alone on one line, mode 0600, replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(prefix=".secret-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def run_args(profile: str | None) -> list[str]:
    return ["run", "--profile", profile] if profile else ["run"]


def entry_env(config_path: Path, environ: Mapping[str, str], *, client_scope: str, config_scope: str) -> dict[str, str]:
    """PVEMCP_CONFIG for a client that would not find the file by itself, else nothing.

    A project's clients (Claude Code, VS Code) start pvemcp in the project, where the project file is found,
    and keep their file shareable; a user-wide client needs the path when the file is a project's, or when
    it is not where pvemcp looks by default.
    """
    if client_scope == "project" and config_scope == "project":
        return {}
    home = environ.get("HOME") or str(Path.home())
    default_user = Path(home) / ".config" / "pvemcp" / "config.toml"
    if config_scope == "user" and config_path == default_user:
        return {}
    return {"PVEMCP_CONFIG": str(config_path)}


def server_name(profile: str | None) -> str:
    """The entry's name in a client's file: one per profile, so several clusters sit side by side."""
    return f"pvemcp-{profile}" if profile else "pvemcp"


def unmergeable(config_path: Path, client_paths: list[Path]) -> list[str]:
    """Files that exist but cannot be merged, found before anything is written so nothing half-happens."""
    problems = []
    if config_path.is_file():
        try:
            tomllib.loads(config_path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{config_path} cannot be read as TOML ({exc}); fix or move it first")
    for path in client_paths:
        if not path.is_file():
            continue
        try:
            text = path.read_text("utf-8")
            document = json.loads(text) if text.strip() else {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{path} is not valid JSON ({exc}); fix or move it first")
            continue
        if not isinstance(document, dict):
            problems.append(f"{path} does not hold a JSON object; fix or move it first")
    return problems


GENERIC = ClientTarget("generic", "Any MCP client", "user", "mcpServers")


@dataclass(frozen=True, slots=True)
class Plan:
    """Every file setup is about to write, and what goes in it."""

    config_path: Path
    profile: str | None
    settings: dict[str, str] = field(repr=False)  # including blanked inherited keys
    drop: list[str]
    secret_path: Path | None
    name: str
    clients: list[tuple[ClientTarget, Path | None, dict[str, Any]]]  # path None: a snippet to print

    @property
    def paths(self) -> list[Path]:
        extra = [self.secret_path] if self.secret_path is not None else []
        return [*extra, self.config_path, *(path for _, path, _ in self.clients if path is not None)]


def make_plan(
    answers: Answers,
    *,
    scope: str,
    profile: str | None,
    clients: list[str],
    secret_to_file: bool,
    environ: Mapping[str, str],
    cwd: Path,
) -> Plan:
    """Decide paths and contents without touching anything; ValueError when a file cannot be placed."""
    from pvemcp.config.file import project_config_path, read_settings, user_config_path

    config_path = project_config_path(cwd) if scope == "project" else user_config_path(environ)
    if config_path is None:
        raise ValueError("HOME is not set, so the user configuration file has no place; use --scope project")
    secret_path = secret_file_path(config_path, profile) if secret_to_file else None
    settings = settings_for(answers, secret_file=secret_path)
    inherited = read_settings(config_path, None, []) if profile and config_path.is_file() else {}
    blanked, drop = unset_keys(settings, inherited, profile=profile)
    entries: list[tuple[ClientTarget, Path | None, dict[str, Any]]] = []
    for key in clients:
        target = GENERIC if key == GENERIC.key else BY_KEY[key]
        path = None if target is GENERIC else target.path(environ, cwd)
        if target is not GENERIC and path is None:
            raise ValueError(f"{target.label}'s configuration file has no known place on this system")
        env = entry_env(config_path, environ, client_scope=target.scope, config_scope=scope)
        entries.append((target, path, stdio_entry(target, args=run_args(profile), env=env)))
    return Plan(config_path, profile, {**settings, **blanked}, drop, secret_path, server_name(profile), entries)


def snippet(target: ClientTarget, name: str, entry: Mapping[str, Any]) -> str:
    return json.dumps({target.servers_key: {name: dict(entry)}}, indent=2)


def render_plan(plan: Plan) -> str:
    """What --print-config shows: the config file's part and each client's entry; the secret stays hidden."""
    from pvemcp.config.file import render_toml

    shown = {key.lower(): HIDDEN if key in SECRET_NAMES else value for key, value in plan.settings.items()}
    document: dict[str, Any] = {"profiles": {plan.profile: shown}} if plan.profile else shown
    parts = [f"# {plan.config_path}", render_toml(document)]
    if plan.secret_path is not None:
        parts.append(f"# {plan.secret_path}: the token secret alone, mode 0600\n")
    for target, path, entry in plan.clients:
        parts.append(f"# {target.label}: {path or 'paste into its MCP configuration'}")
        parts.append(snippet(target, plan.name, entry) + "\n")
    return "\n".join(parts)


HIDDEN = "<token secret: not shown>"


def carry_out(plan: Plan, secret: str) -> list[str]:
    """Write the plan; one line per file written (and each generic snippet). Raises ValueError/OSError."""
    from pvemcp.config.file import write_config

    problems = unmergeable(plan.config_path, [path for _, path, _ in plan.clients if path is not None])
    if problems:
        raise ValueError("; ".join(problems))
    lines = []
    if plan.secret_path is not None:
        write_secret_file(plan.secret_path, secret)
        lines.append(f"token secret: {plan.secret_path} (0600)")
    write_config(plan.config_path, plan.settings, profile=plan.profile, drop=plan.drop)
    table = f" [profiles.{plan.profile}]" if plan.profile else ""
    lines.append(f"configuration: {plan.config_path}{table} (0600)")
    for target, path, entry in plan.clients:
        if path is None:
            lines.append(f"{target.label}: add this to its MCP configuration:\n{snippet(target, plan.name, entry)}")
            continue
        written = merge_entry(target, path, plan.name, entry)
        backup = f"; previous file kept as {written.backup}" if written.backup else ""
        lines.append(f"{target.label}: {written.path} ({target.servers_key}.{plan.name}{backup})")
    return lines
