"""Run the selected checks in order and present the verdicts as a table or a JSON document."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pvemcp import __version__
from pvemcp.doctor.access import check_privileges
from pvemcp.doctor.client_files import check_clients
from pvemcp.doctor.cluster import check_inventory, check_selftest, check_ssh
from pvemcp.doctor.connection import check_auth, check_config, check_reach, check_version
from pvemcp.doctor.model import CHECK_NAMES, BlockedError, CheckResult, DoctorContext, Status, red, skip
from pvemcp.pve.errors import PveMcpError

log = logging.getLogger("pvemcp.doctor")

Check = Callable[[DoctorContext], Awaitable[CheckResult]]
CHECKS: dict[str, Check] = {
    "config": check_config,
    "reach": check_reach,
    "version": check_version,
    "auth": check_auth,
    "privileges": check_privileges,
    "inventory": check_inventory,
    "ssh": check_ssh,
    "clients": check_clients,
    "selftest": check_selftest,
}
assert tuple(CHECKS) == CHECK_NAMES


def parse_selection(text: str | None) -> tuple[list[str], list[str]]:
    """(selected names in run order, unknown names) from `--check a,b`; None or empty selects all."""
    if text is None or not text.strip():
        return list(CHECK_NAMES), []
    asked = {name.strip().lower() for name in text.split(",") if name.strip()}
    unknown = sorted(asked - set(CHECK_NAMES))
    return [name for name in CHECK_NAMES if name in asked], unknown


async def run_checks(ctx: DoctorContext, names: Sequence[str]) -> list[CheckResult]:
    results: list[CheckResult] = []
    try:
        for name in names:
            done = {result.name: result.status for result in results}
            results.append(await _run_one(name, ctx, set(names), done))
    finally:
        await ctx.aclose()
    return results


async def _run_one(name: str, ctx: DoctorContext, selected: set[str], done: dict[str, Status]) -> CheckResult:
    try:
        return await CHECKS[name](ctx)
    except BlockedError as blocked:
        if blocked.by in selected and done.get(blocked.by, Status.RED) is Status.RED:
            # That check reports (or has reported) the failure itself, with its fix.
            return skip(name, f"not checked: {blocked.by} failed", blocked_by=blocked.by)
        # The step that failed is not on screen (--check): its failure is this check's, so it is not hidden.
        return red(name, f"cannot check: {blocked.reason}", blocked.fix, blocked_by=blocked.by)
    except PveMcpError as exc:
        return red(name, f"{exc.code}: {exc.message.strip()}", exc.hint or "see the message", code=str(exc.code))
    except Exception as exc:  # a bug in a check must not hide the others' verdicts
        log.debug("doctor check %s crashed", name, exc_info=True)
        return red(name, f"the check itself failed: {type(exc).__name__}: {exc}", "report this as a pvemcp bug")


def to_document(results: Sequence[CheckResult]) -> dict[str, Any]:
    return {
        "pvemcp": __version__,
        "ok": all(result.passed for result in results),
        "checks": [result.to_json() for result in results],
    }


def render_json(results: Sequence[CheckResult]) -> str:
    return json.dumps(to_document(results), indent=2, default=str)


STYLES = {Status.GREEN: "bold green", Status.RED: "bold red", Status.SKIP: "yellow"}


def _segments(result: CheckResult) -> list[tuple[bool, list[str]]]:
    """The detail and fix in order, as runs of prose (False) and of lines holding a value to copy (True).

    Prose goes in the table, which may wrap it; a line holding a command or a fingerprint is printed
    whole on its own, so that what is copied from the screen is what doctor meant.
    """
    text = result.detail + (f"\nfix: {result.fix}" if result.fix else "")
    runs: list[tuple[bool, list[str]]] = []
    for line in text.splitlines():
        whole = any(value in line for value in result.copy)
        if runs and runs[-1][0] == whole:
            runs[-1][1].append(line)
        else:
            runs.append((whole, [line]))
    return runs


def render_table(results: Sequence[CheckResult], *, width: int, color: bool) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(  # details are data: no markup, emoji codes (a fingerprint's ":CD:") or highlighting
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        markup=False,
        emoji=False,
        highlight=False,
    )
    name_width = max(len("check"), *(len(r.name) for r in results))
    for index, result in enumerate(results):
        named = False
        for whole, lines in _segments(result):
            if whole:  # never wrapped, however narrow the terminal: it is meant to be copied
                for line in lines:
                    text = Text("    " + line.strip(), style="bold" if line.startswith("fix: ") else "")
                    console.print(text, soft_wrap=True, no_wrap=True, crop=False, overflow="ignore")
                continue
            table = Table(box=box.SIMPLE_HEAD, show_header=index == 0 and not named, show_edge=False, expand=True)
            table.add_column("check", no_wrap=True, min_width=name_width, max_width=name_width)
            table.add_column("status", no_wrap=True, min_width=6, max_width=6)
            table.add_column("detail", overflow="fold", ratio=1)
            detail = Text("\n".join(lines))
            for at in (i for i, line in enumerate(lines) if line.startswith("fix: ")):
                offset = sum(len(line) + 1 for line in lines[:at])
                detail.stylize("bold", offset, offset + 4)
            status = Text(str(result.status), style=STYLES[result.status]) if not named else Text("")
            table.add_row(result.name if not named else "", status, detail)
            console.print(table)
            named = True
    counts = {status: sum(1 for r in results if r.status is status) for status in Status}
    summary = f"{counts[Status.GREEN]} passed, {counts[Status.RED]} failed, {counts[Status.SKIP]} skipped" + (
        "" if counts[Status.RED] else ": all good"
    )
    console.print()
    console.print(summary)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip().splitlines())
