"""`pvemcp audit`: check the audit log's hash chain and read its latest entries.

The log is created by the first change a tool makes, so on a fresh install there is none yet: that is
said as such (tail exits 0 with nothing to show), and a missing FILE named on the command line is an error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pvemcp.config import audit_path_setting, env_settings

FILE = click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
SANDBOX = click.option("--sandbox", is_flag=True, help="The sandbox's log instead of the real cluster's.")
# Arguments that say what a call acted on when it names no guest.
SUBJECT_ARGS = ("vmid", "poolid", "userid", "storage", "node", "upid")


def configured_path(file: Path | None, sandbox: bool) -> Path:
    """FILE if given, else where `pvemcp run` writes with the same environment (PVE_AUDIT_LOG or the default)."""
    if file is not None:
        return file
    problems: list[str] = []
    values = env_settings(problems)
    sandbox = sandbox or values.flag("PVE_SANDBOX")
    path = audit_path_setting(values, sandbox, problems)
    if problems:
        raise click.UsageError("; ".join(problems))
    if path is None:
        raise click.UsageError("the audit log is off (PVE_AUDIT_LOG=off); name the FILE to read")
    return path


def _readable(path: Path, file: Path | None, sandbox: bool, *, missing_status: int) -> None:
    """Exit with `missing_status` and a message saying why, unless `path` is a log to read."""
    if path.is_file():
        return
    if file is not None:
        click.echo(f"no audit log at {path}: there is no such file", err=True)
        sys.exit(2)
    cluster = "the sandbox cluster" if sandbox else "Proxmox VE"
    message = (
        f"No audit log yet at {path}: nothing has been changed on {cluster} through pvemcp so far."
        " The first change a tool makes (start, create, delete, ...) writes it."
    )
    if not sandbox and (sandbox_log := _sandbox_log()) is not None and sandbox_log.is_file():
        message += f" The sandbox keeps its own log: pvemcp audit {click.get_current_context().info_name} --sandbox"
    click.echo(message, err=True)
    sys.exit(missing_status)


def _sandbox_log() -> Path | None:
    try:
        return configured_path(None, True)
    except click.UsageError:
        return None


def describe(line: bytes) -> str:
    """One entry on one line: time, caller, tool, target, outcome and code, UPID, duration."""
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        return f"(not an audit entry) {line[:120]!r}"
    target = entry.get("target")
    if isinstance(target, dict):
        name = f" '{target['name']}'" if target.get("name") else ""
        subject = f"{target.get('vmid')}{name} on {target.get('node')}"
    else:
        arguments = entry.get("arguments")
        args: dict[str, Any] = arguments if isinstance(arguments, dict) else {}
        subject = next((f"{key}={args[key]}" for key in SUBJECT_ARGS if args.get(key) is not None), "-")
    outcome = " ".join(str(part) for part in (entry.get("outcome", "?"), entry.get("code")) if part)
    parts = [str(entry.get("time", "?")), str(entry.get("caller", "?")), str(entry.get("tool", "?")), subject, outcome]
    if entry.get("upid"):
        parts.append(str(entry["upid"]))
    if isinstance(entry.get("duration_ms"), int | float):
        parts.append(f"{entry['duration_ms']:g} ms")
    return "  ".join(parts)


@click.group()
def audit() -> None:
    """The audit log of mutating calls (PVE_AUDIT_LOG): every change a tool made, hash-chained."""


@audit.command(short_help="Check the hash chain of the audit log.")
@FILE
@SANDBOX
def verify(file: Path | None, sandbox: bool) -> None:
    """Check the hash chain; exit 1 naming the first bad line, 2 when there is no log."""
    from pvemcp.audit import verify as verify_chain

    path = configured_path(file, sandbox)
    _readable(path, file, sandbox, missing_status=2)
    verdict = verify_chain(path)
    if not verdict.ok:
        click.echo(f"{path}: line {verdict.bad_line} {verdict.reason}", err=True)
        click.echo(f"{verdict.entries} entries before it verified.", err=True)
        sys.exit(1)
    click.echo(f"{path}: {verdict.entries} entries, chain intact.")
    if verdict.torn_line is not None:
        click.echo(
            f"line {verdict.torn_line} is torn (no newline): a write interrupted before it was acknowledged;"
            " the next append drops it.",
            err=True,
        )


@audit.command(short_help="Print the latest entries of the audit log.")
@click.option("-n", "count", default=20, show_default=True, type=click.IntRange(1, 100_000), help="How many.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON lines.")
@FILE
@SANDBOX
def tail(count: int, as_json: bool, file: Path | None, sandbox: bool) -> None:
    """Print the latest entries, oldest first; exit 0 saying so when nothing has been changed yet."""
    from pvemcp.audit import tail_lines

    path = configured_path(file, sandbox)
    _readable(path, file, sandbox, missing_status=0)
    for line in tail_lines(path, count):
        click.echo(line.decode(errors="replace") if as_json else describe(line))
