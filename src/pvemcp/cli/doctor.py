"""`pvemcp doctor`: is this configuration ready, from the settings to an MCP call? Exit 0 only if so."""

from __future__ import annotations

import shutil
import sys

import click

from pvemcp.doctor.model import CHECK_NAMES


@click.command()
@click.option(
    "--check",
    "selection",
    default=None,
    metavar="LIST",
    help=f"Run only these checks, comma-separated: {', '.join(CHECK_NAMES)}.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document instead of the table.")
@click.option("--profile", default=None, help="Check this [profiles.NAME] of the configuration file.")
@click.option("--sandbox", is_flag=True, help="Check against the embedded simulated cluster.")
def doctor(selection: str | None, as_json: bool, profile: str | None, sandbox: bool) -> None:
    """Check the configuration, connection, token, privileges, cluster, SSH, client configs and the server."""
    import anyio

    from pvemcp.doctor.model import DoctorContext
    from pvemcp.doctor.runner import parse_selection, render_json, render_table, run_checks

    names, unknown = parse_selection(selection)
    if unknown:
        raise click.UsageError(f"unknown check(s) {', '.join(unknown)}; valid checks: {', '.join(CHECK_NAMES)}")
    if not names:
        raise click.UsageError(f"--check names no check; valid checks: {', '.join(CHECK_NAMES)}")
    context = DoctorContext.from_process(profile=profile, sandbox=sandbox)
    results = anyio.run(run_checks, context, names)
    if as_json:
        click.echo(render_json(results))
    else:
        # COLUMNS, else the terminal's width; piped without COLUMNS, wide enough for the prose to stay whole.
        width = shutil.get_terminal_size((200, 40)).columns
        click.echo(render_table(results, width=width, color=sys.stdout.isatty()))
    sys.exit(0 if all(result.passed for result in results) else 1)
