"""Where each setting's value came from: the environment, the configuration file (which key, which
profile), or the default.

A fix must be made where the value lives: a server started by an MCP client never sees a shell's
export, so "set PROXMOX_TLS_FINGERPRINT=…" is wrong advice when the pin is a key of the file, and a
variable that overrides the file explains why editing the file changed nothing.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pvemcp.config.file import find_config_file, read_settings
from pvemcp.config.table import BY_NAME

Source = Literal["environment", "file", "default"]


@dataclass(frozen=True, slots=True)
class Origin:
    name: str  # the setting, e.g. PROXMOX_PORT
    source: Source
    file: Path | None = None  # the configuration file in use, if any
    profile: str | None = None  # the [profiles.NAME] table the value came from, if it did
    file_value: str | None = None  # the file's value, when the environment overrides it

    @property
    def key(self) -> str:
        """The setting's key in the file, with its table when that is a profile's."""
        key = self.name.lower()
        return f"[profiles.{self.profile}] {key}" if self.profile else key

    @property
    def secret(self) -> bool:
        setting = BY_NAME.get(self.name)
        return setting is not None and setting.secret

    def describe(self) -> str:
        """e.g. 'from the environment, overriding proxmox_port = 8006 in /home/a/.config/pvemcp/config.toml'."""
        if self.source == "file":
            return f"from {self.key} in {self.file}"
        if self.source == "default":
            return "the default"
        if self.file_value is None:
            return "from the environment"
        shown = "…" if self.secret else _toml(self.file_value)
        return f"from the environment, overriding {self.key} = {shown} in {self.file}"

    def change(self, value: str) -> str:
        """How to make the setting `value`, said for where it is set now."""
        entry = f"{self.key} = {_toml(value)}"
        if self.source == "file":
            return f"in {self.file}, set {entry}"
        if self.source == "environment":
            also = f" (it overrides {self.key} in {self.file})" if self.file_value is not None else ""
            return f"set {self.name}={value} where pvemcp is started: the MCP client's server entry (env){also}"
        if self.file is not None:
            return f"in {self.file}, add {entry}"
        return f"set {self.name}={value} in the MCP client's server entry (env), or run `pvemcp setup`"


def _toml(value: str) -> str:
    return value if value.isdigit() or value in ("true", "false") else json.dumps(value)


def _profile_keys(path: Path, profile: str | None) -> frozenset[str]:
    if profile is None:
        return frozenset()
    try:
        tables = tomllib.loads(path.read_text("utf-8")).get("profiles", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return frozenset()
    table = tables.get(profile) if isinstance(tables, dict) else None
    return frozenset(str(k).upper() for k in table) if isinstance(table, dict) else frozenset()


def setting_origins(environ: Mapping[str, str], *, profile: str | None, cwd: Path | None) -> dict[str, Origin]:
    """Every setting of the table, with where `pvemcp run` here would take its value from."""
    chosen = profile or (environ.get("PVEMCP_PROFILE") or "").strip() or None
    path = find_config_file(environ, cwd, [])
    in_file = read_settings(path, chosen, []) if path is not None else {}
    from_profile = _profile_keys(path, chosen) if path is not None else frozenset()
    env = {key.upper() for key in environ}
    found: dict[str, Origin] = {}
    for name in BY_NAME:
        table = chosen if name in from_profile else None
        if name in env:
            found[name] = Origin(name, "environment", path, table, in_file.get(name))
        elif name in in_file:
            found[name] = Origin(name, "file", path, table)
        else:
            found[name] = Origin(name, "default", path)
    return found
