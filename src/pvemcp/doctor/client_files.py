"""clients: do the MCP client configurations here start this installation of pvemcp?

A client entry that names another pvemcp (an older virtualenv, a removed pipx install) or a file
that no longer exists is the classic "I changed the config and nothing happened". Entries that start
pvemcp through a launcher (uvx, pipx run) or reach it over HTTP are listed but not compared.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from pvemcp.doctor.model import CheckResult, DoctorContext, green, red, skip
from pvemcp.setup.clients import FoundEntry, find_entries, pvemcp_command

NONE_FOUND = (
    "no MCP client configuration here runs pvemcp; add one with `pvemcp setup`"
    " (Claude Desktop, Claude Code, VS Code, Cursor, Windsurf) or paste `pvemcp run --print-config`'s snippet"
)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def judge(entry: FoundEntry, environ: dict[str, str], ours: Path) -> tuple[str, str]:
    """(verdict, words): verdict is this, launcher, http, other or missing."""
    if entry.url and not entry.command:
        return "http", f"HTTP at {entry.url}"
    command = entry.command or ""
    if Path(command).name not in ("pvemcp", "pvemcp.exe"):
        return "launcher", f"started through {command or '(no command)'}; not compared"
    path = Path(command).expanduser()
    if not path.is_absolute():
        found = shutil.which(command, path=environ.get("PATH"))
        if found is None:
            return "missing", f"runs {command!r}, which is not on PATH"
        path = Path(found)
    if not path.exists():
        return "missing", f"runs {command}, which does not exist"
    if _same_file(path, ours):
        return "this", f"runs this installation ({path})"
    return "other", f"runs another pvemcp ({path})"


async def check_clients(ctx: DoctorContext) -> CheckResult:
    ours = Path(pvemcp_command())
    entries = [entry for entry in find_entries(ctx.environ, ctx.cwd) if entry.runs_pvemcp()]
    if not entries:
        return skip("clients", NONE_FOUND, this=str(ours))
    environ = dict(ctx.environ)
    rows: list[dict[str, Any]] = []
    lines: list[str] = []
    for entry in entries:
        verdict, words = judge(entry, environ, ours)
        rows.append(
            {
                "client": entry.client.key,
                "file": str(entry.path),
                "name": entry.name,
                "verdict": verdict,
                "command": entry.command,
            }
        )
        lines.append(f"{entry.client.label} {entry.path} [{entry.name}]: {words}")
    data = {"this": str(ours), "entries": rows}
    wrong = [row for row in rows if row["verdict"] in ("other", "missing")]
    if wrong:
        files = ", ".join(sorted({row["file"] for row in wrong}))
        return red(
            "clients",
            f"{len(wrong)} of {len(rows)} client entries do not start this pvemcp:\n" + "\n".join(lines),
            f'set "command" to {ours} in {files} (or rerun `pvemcp setup` for that client)',
            **data,
        )
    return green("clients", f"{len(rows)} client entr{'y' if len(rows) == 1 else 'ies'}:\n" + "\n".join(lines), **data)
