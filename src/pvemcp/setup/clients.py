"""MCP client configuration files: where each client keeps its servers, the entry pvemcp needs there,
and merging that entry in without losing anything else (the previous file is kept as a backup).

Claude Desktop, Cursor and Windsurf keep servers under "mcpServers"; VS Code under "servers";
Claude Code reads a project's .mcp.json. A stdio entry names the command that starts pvemcp; an HTTP
entry names the URL.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Scope = Literal["user", "project"]


@dataclass(frozen=True, slots=True)
class ClientTarget:
    key: str  # as given on the command line: claude-desktop, claude-code, vscode, cursor, windsurf
    label: str
    scope: Scope
    servers_key: str  # the JSON object holding the servers
    url_key: str = "url"  # Windsurf names an HTTP server's address serverUrl
    typed: bool = False  # entries carry "type": "stdio" | "http"

    def path(self, environ: Mapping[str, str], cwd: Path) -> Path | None:
        """The file this client reads, on this operating system; None when it cannot be placed."""
        home = Path(environ.get("HOME") or str(Path.home()))
        if self.key == "claude-desktop":
            if sys.platform == "darwin":
                return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
            if sys.platform == "win32":
                appdata = environ.get("APPDATA")
                return Path(appdata) / "Claude" / "claude_desktop_config.json" if appdata else None
            base = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
            return Path(base) / "Claude" / "claude_desktop_config.json"
        if self.key == "claude-code":
            return cwd / ".mcp.json"
        if self.key == "vscode":
            return cwd / ".vscode" / "mcp.json"
        if self.key == "cursor":
            return home / ".cursor" / "mcp.json"
        if self.key == "windsurf":
            return home / ".codeium" / "windsurf" / "mcp_config.json"
        return None


CLIENTS: tuple[ClientTarget, ...] = (
    ClientTarget("claude-desktop", "Claude Desktop", "user", "mcpServers"),
    ClientTarget("claude-code", "Claude Code (.mcp.json)", "project", "mcpServers", typed=True),
    ClientTarget("vscode", "VS Code (.vscode/mcp.json)", "project", "servers", typed=True),
    ClientTarget("cursor", "Cursor", "user", "mcpServers"),
    ClientTarget("windsurf", "Windsurf", "user", "mcpServers", url_key="serverUrl"),
)
BY_KEY = {client.key: client for client in CLIENTS}


def pvemcp_command() -> str:
    """The absolute path of this installation's `pvemcp`, so a client starts exactly this one."""
    here = Path(sys.executable).parent / ("pvemcp.exe" if sys.platform == "win32" else "pvemcp")
    if here.is_file():
        return str(here)
    return shutil.which("pvemcp") or "pvemcp"


def stdio_entry(
    client: ClientTarget, *, args: Sequence[str] = ("run",), env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "stdio"} if client.typed else {}
    entry.update({"command": pvemcp_command(), "args": list(args)})
    if env:
        entry["env"] = dict(env)
    return entry


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    backup: Path | None  # the previous file, when there was one


def merge_entry(client: ClientTarget, path: Path, name: str, entry: Mapping[str, Any]) -> Written:
    """Put `entry` under `name` in the client's file, keeping every other server and setting.

    A file that is not a JSON object is not touched (ValueError): pvemcp never overwrites what it cannot read.
    """
    document: dict[str, Any] = {}
    backup = None
    if path.is_file():
        text = path.read_text("utf-8")
        try:
            loaded = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); fix or move it first"
            ) from exc
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} does not hold a JSON object; fix or move it first")
        document = loaded
        backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        shutil.copy2(path, backup)
    servers = document.setdefault(client.servers_key, {})
    if not isinstance(servers, dict):
        raise ValueError(f"{path}: {client.servers_key} is not a JSON object; fix it first")
    servers[name] = dict(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(document, indent=2) + "\n")
        os.chmod(temp, 0o600)  # entries may carry a token or a secret in env
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Written(path, backup)


@dataclass(frozen=True, slots=True)
class FoundEntry:
    client: ClientTarget
    path: Path
    name: str
    entry: Mapping[str, Any]

    @property
    def command(self) -> str | None:
        value = self.entry.get("command")
        return value if isinstance(value, str) else None

    @property
    def url(self) -> str | None:
        value = self.entry.get(self.client.url_key)
        return value if isinstance(value, str) else None

    def runs_pvemcp(self) -> bool:
        """Whether this entry starts pvemcp (any installation) or points at a pvemcp URL."""
        command = self.command or ""
        args = self.entry.get("args")
        words = [command, *(a for a in args if isinstance(a, str))] if isinstance(args, list) else [command]
        return any(Path(word).name in ("pvemcp", "pvemcp.exe") for word in words) or "pvemcp" in self.name


def find_entries(environ: Mapping[str, str], cwd: Path) -> list[FoundEntry]:
    """Every server entry in every client file that exists here (unreadable files are skipped)."""
    found: list[FoundEntry] = []
    for client in CLIENTS:
        path = client.path(environ, cwd)
        if path is None or not path.is_file():
            continue
        try:
            document = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        servers = document.get(client.servers_key) if isinstance(document, dict) else None
        if isinstance(servers, dict):
            found += [FoundEntry(client, path, n, e) for n, e in servers.items() if isinstance(e, dict)]
    return found
