"""Settings from a TOML file, under the environment: `./.pvemcp/config.toml` (project), then
`~/.config/pvemcp/config.toml` (user), or exactly the file PVEMCP_CONFIG names.

Keys are the setting names in lower case (`proxmox_host = "pve1"`, `pve_access_tier = "read-execute"`);
`[profiles.NAME]` tables hold per-cluster settings that override the top level for `--profile NAME`
(or PVEMCP_PROFILE). Every value is checked the same way as its environment variable, after merging; here
only the file itself is checked: its path, size, syntax, keys and value types. Nothing falls back
silently: a named file that is missing, an unknown key or a wrong type is a problem reported with the rest.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pvemcp.config.table import FILE_KEYS

MAX_BYTES = 64 * 1024
PROJECT_DIR = ".pvemcp"
FILE_NAME = "config.toml"
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def user_config_path(environ: Mapping[str, str]) -> Path | None:
    base = (environ.get("XDG_CONFIG_HOME") or "").strip()
    if base and os.path.isabs(base):
        return Path(base) / "pvemcp" / FILE_NAME
    home = (environ.get("HOME") or "").strip()
    return Path(home) / ".config" / "pvemcp" / FILE_NAME if home else None


def project_config_path(cwd: Path) -> Path:
    return cwd / PROJECT_DIR / FILE_NAME


def find_config_file(environ: Mapping[str, str], cwd: Path | None, problems: list[str]) -> Path | None:
    """PVEMCP_CONFIG when set (it must name a readable file), else the project file, else the user file.

    cwd None: no project file is looked for (tests and callers that pass their own settings).
    """
    if "PVEMCP_CONFIG" in environ:
        text = environ["PVEMCP_CONFIG"]
        if not text.strip():
            problems.append("PVEMCP_CONFIG is set but empty; name a file or unset it")
            return None
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            problems.append("PVEMCP_CONFIG contains control characters")
            return None
        path = Path(text.strip()).expanduser()
        if not path.is_file():
            problems.append(f"PVEMCP_CONFIG={text.strip()!r} is not a readable file")
            return None
        return path
    candidates = [project_config_path(cwd)] if cwd is not None else []
    user = user_config_path(environ)
    if user is not None:
        candidates.append(user)
    return next((path for path in candidates if path.is_file()), None)


def _suggest(key: str, keys: frozenset[str]) -> str:
    close = difflib.get_close_matches(key, sorted(keys), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _value(where: str, key: str, value: Any, problems: list[str]) -> str | None:
    """A TOML value as the text its environment variable would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str | int) and not isinstance(item, bool) for item in value):
        return ",".join(str(item) for item in value)
    kind = type(value).__name__
    problems.append(f"{where}: {key} must be a string, number, boolean or list of strings, not a {kind}")
    return None


def _settings(where: str, table: Mapping[str, Any], problems: list[str]) -> dict[str, str]:
    keys = FILE_KEYS  # the table's settings in lower case, but those that say where files are
    out: dict[str, str] = {}
    for raw_key, value in table.items():
        key = raw_key.lower()
        if key not in keys:
            problems.append(f"{where}: unknown key {raw_key!r}{_suggest(key, keys)}")
            continue
        text = _value(where, raw_key, value, problems)
        if text is not None:
            out[key.upper()] = text
    return out


def read_settings(path: Path, profile: str | None, problems: list[str]) -> dict[str, str]:
    """The file's settings (upper-case names → text) with `profile` applied; every problem appended."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            problems.append(f"{path} is {size} bytes; a configuration file may hold at most {MAX_BYTES}")
            return {}
        document = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        problems.append(f"{path} cannot be read: {exc.strerror or exc}")
        return {}
    except UnicodeDecodeError:
        problems.append(f"{path} is not UTF-8 text")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path} is not valid TOML: {exc}")
        return {}
    profiles = document.pop("profiles", {})
    settings = _settings(str(path), document, problems)
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        problems.append(f"{path}: profiles must be tables, e.g. [profiles.lab]")
        profiles = {}
    for name, table in profiles.items():
        found = _settings(f"{path} [profiles.{name}]", table, problems)
        if name == profile:
            settings.update(found)
    if profile is not None and profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        problems.append(f"profile {profile!r} is not in {path} (profiles there: {known})")
    return settings


def write_config(
    path: Path, settings: Mapping[str, str], *, profile: str | None = None, drop: Iterable[str] = ()
) -> None:
    """Merge `settings` (setting names → text) into the file at `path`, written 0600 and atomically.

    Existing keys and profiles are kept; the given ones replace theirs and those named in `drop` are
    removed (a setting that no longer applies, e.g. a pin after switching to a CA file). A project-scope
    file's folder is added to the project's .gitignore, since the file may hold a token secret.
    """
    document: dict[str, Any] = {}
    if path.is_file():
        document = tomllib.loads(path.read_text("utf-8"))
    target = document
    if profile is not None:
        target = document.setdefault("profiles", {}).setdefault(profile, {})
    for key in drop:
        target.pop(key.lower(), None)
    for key, value in settings.items():
        target[key.lower()] = value
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render_toml(document))
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if path.parent.name == PROJECT_DIR:
        ignore_in_git(path.parent)


def ignore_in_git(folder: Path) -> None:
    """Add `.pvemcp/` to the .gitignore next to it (created when missing), once."""
    gitignore = folder.parent / ".gitignore"
    line = f"{PROJECT_DIR}/"
    existing = gitignore.read_text("utf-8") if gitignore.is_file() else ""
    if line in existing.splitlines():
        return
    separator = "" if not existing or existing.endswith("\n") else "\n"
    gitignore.write_text(existing + separator + line + "\n", "utf-8")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def render_toml(document: Mapping[str, Any]) -> str:
    """Top-level settings, then one [profiles.NAME] table each (all this file format has)."""
    lines = ["# pvemcp configuration: setting names in lower case; the environment overrides them."]
    profiles = document.get("profiles", {})
    lines += [f"{key} = {_toml_value(value)}" for key, value in document.items() if key != "profiles"]
    for name, table in profiles.items():
        lines += ["", f"[profiles.{name if BARE_KEY.match(name) else json.dumps(name)}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"
