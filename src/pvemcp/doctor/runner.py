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


def render_table(results: Sequence[CheckResult], *, width: int, color: bool) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_lines=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for result in results:
        detail = Text(result.detail)
        if result.fix:
            detail.append("\nfix: ", style="bold")
            detail.append(result.fix)
        table.add_row(result.name, Text(str(result.status), style=STYLES[result.status]), detail)
    counts = {status: sum(1 for r in results if r.status is status) for status in Status}
    summary = f"{counts[Status.GREEN]} passed, {counts[Status.RED]} failed, {counts[Status.SKIP]} skipped" + (
        "" if counts[Status.RED] else ": all good"
    )
    buffer = io.StringIO()
    console = Console(  # details are data: no markup and no emoji codes (a fingerprint's ":CD:") in them
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        markup=False,
        emoji=False,
    )
    console.print(table)
    console.print(summary)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip().splitlines())
