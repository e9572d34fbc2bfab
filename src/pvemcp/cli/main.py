"""`pvemcp`: run the server, list its tools, serve the simulator.

An MCP client spawns `pvemcp run` whenever a chat opens, so this module imports nothing a command does not
need: the other commands (audit, bootstrap, doctor, setup, token) are imported only when they run or when
help lists them, and each command imports its own heavy parts inside its body.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pvemcp import __version__

if TYPE_CHECKING:
    from pvemcp.config import Config

# name → "module:attribute" of a command imported when it is first looked up.
LAZY_COMMANDS = {
    "audit": "pvemcp.cli.audit:audit",
    "bootstrap": "pvemcp.cli.bootstrap:bootstrap",
    "doctor": "pvemcp.cli.doctor:doctor",
    "setup": "pvemcp.cli.setup:setup",
    "token": "pvemcp.cli.token:token",
}
# What `pvemcp --help` says of each command: a whole sentence that fits its line (click cuts a longer one).
SUMMARIES = {
    "audit": "Check the audit log's hash chain and read its entries.",
    "bootstrap": "Print or apply the pveum commands for a least-privilege token.",
    "doctor": "Check the settings, connection, token, privileges and clients.",
    "run": "Serve MCP on stdio (the default) or over Streamable HTTP.",
    "setup": "Connect pvemcp to Proxmox VE and write the MCP client files.",
    "sim": "Serve a simulated Proxmox VE cluster to rehearse on.",
    "token": "Make bearer tokens for the HTTP transport.",
    "tools": "List the tools the current configuration exposes.",
}


class WholeSentences(click.Group):
    """A group whose command list shows each summary whole, wrapped rather than cut off with "..."."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class LazyGroup(WholeSentences):
    """A command group whose listed commands are imported on first lookup, not when the program starts."""

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            command.short_help = command.short_help or SUMMARIES.get(cmd_name)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


def _load(*, sandbox: bool, transport: str | None = None, profile: str | None = None) -> Config:
    from pvemcp.config import ConfigError, read_config

    try:
        reading = read_config(sandbox=sandbox, transport=transport, profile=profile)
        if reading.transport == "http":
            from pvemcp.http.settings import http_config  # the MCP_* settings, judged with all the others

            return http_config(reading)
        return reading.result()
    except ConfigError as exc:
        click.echo(exc.render(), err=True)
        if not sandbox and any(problem.startswith("PROXMOX_HOST is not set") for problem in exc.problems):
            click.echo(NOT_CONFIGURED, err=True)
        sys.exit(2)


NOT_CONFIGURED = (
    "Nothing is configured yet: run `pvemcp setup` to connect a Proxmox VE cluster (it checks the token and"
    " writes the configuration file), or `pvemcp run --sandbox` to try pvemcp on a simulated cluster."
)


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="pvemcp")
def cli() -> None:
    """MCP server for Proxmox VE: inventory, operate and diagnose clusters safely."""


def client_config(sandbox: bool) -> dict[str, Any]:
    launched = Path(sys.argv[0])
    command = str(launched.resolve()) if launched.is_file() else shutil.which("pvemcp") or "pvemcp"
    entry: dict[str, Any] = {"command": command, "args": ["run", "--sandbox"] if sandbox else ["run"]}
    entry["env"] = {"PVE_ACCESS_TIER": "read-execute"}
    return {"mcpServers": {"pvemcp-sandbox" if sandbox else "pvemcp": entry}}


@cli.command(short_help=SUMMARIES["run"])
@click.option("--sandbox", is_flag=True, help="Serve the embedded simulated cluster instead of a real one.")
@click.option("--print-config", is_flag=True, help="Print a ready-to-paste MCP client config on stderr first.")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default=None,
    help="stdio (default) or Streamable HTTP (MCP_HOST, MCP_PORT, MCP_AUTH_*); overrides MCP_TRANSPORT.",
)
@click.option("--profile", default=None, help="Use [profiles.NAME] of the configuration file (or PVEMCP_PROFILE).")
def run(sandbox: bool, print_config: bool, transport: str | None, profile: str | None) -> None:
    """Serve MCP on stdio or Streamable HTTP (configure with PROXMOX_*, PVE_* and MCP_* variables).

    Ctrl-C (or SIGTERM) stops it, closing the audit log; so does the end of input on stdio.
    """
    import anyio

    from pvemcp.cli.counts import runtime_listing
    from pvemcp.logs import configure_logging

    config = _load(sandbox=sandbox, transport=transport, profile=profile)
    configure_logging(config.log_level, config.secrets)
    if config.audit_path is not None:
        from pvemcp.audit import AuditLog

        probe = AuditLog(config.audit_path)
        try:
            probe.open()
            probe.close()
        except OSError as exc:
            click.echo(f"pvemcp cannot start: PVE_AUDIT_LOG={config.audit_path} cannot be written: {exc}", err=True)
            sys.exit(2)
    if config.transport == "http":
        from pvemcp.http.serve import ListenError, serve_http
        from pvemcp.http.settings import HttpConfig

        assert isinstance(config, HttpConfig)
        served = config
        try:
            with contextlib.suppress(KeyboardInterrupt):
                anyio.run(lambda: serve_http(served, runtime_listing, print_config=print_config))
        except ListenError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        return
    from pvemcp.stdio import serve_stdio

    if print_config:
        click.echo(
            "pvemcp is serving the sandbox cluster on stdio. To use it from an MCP client (Claude Desktop,"
            " Cursor, VS Code), add this to the client's MCP configuration:\n"
            + json.dumps(client_config(config.sandbox), indent=2)
            + "\nPress Ctrl-C to stop.",
            err=True,
        )
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(serve_stdio, config, runtime_listing)


@cli.command(short_help=SUMMARIES["tools"])
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--all", "show_all", is_flag=True, help="The whole catalog, not only what this configuration exposes.")
@click.option("--operations", is_flag=True, help="The catalog operations, not the consolidated tools listing them.")
@click.option("--markdown", is_flag=True, help="Print docs/TOOLS.md (the whole catalog) and exit.")
@click.option("--errors", is_flag=True, help="Print docs/errors.md (every error code) and exit.")
def tools(as_json: bool, show_all: bool, operations: bool, markdown: bool, errors: bool) -> None:
    """List the tools the current configuration exposes (tab-separated when piped)."""
    if markdown or errors:
        from pvemcp.cli.docs import render_errors_markdown, render_markdown

        click.echo(render_errors_markdown() if errors else render_markdown(), nl=False)
        return
    from pvemcp.cli.tools import render_tools

    config = _load(sandbox=True)
    click.echo(render_tools(config.policy, as_json=as_json, show_all=show_all, operations=operations))


@cli.group(cls=WholeSentences, short_help=SUMMARIES["sim"])
def sim() -> None:
    """The simulated Proxmox VE cluster (pvesim): rehearse setup, doctor and run on it before a real one."""


@sim.command("serve", short_help="Serve a fresh simulated cluster over HTTPS on loopback.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option(
    "--port", default=8006, show_default=True, type=click.IntRange(0, 65535), help="The API port; 0 picks a free one."
)
@click.option(
    "--nodes", default=3, show_default=True, type=click.IntRange(1, 500), help="How many cluster members (pve1, …)."
)
@click.option(
    "--guests",
    default=16,
    show_default=True,
    type=click.IntRange(0, 100_000),
    help="How many VMs and containers, spread over the nodes.",
)
@click.option(
    "--latency-ms",
    default=0,
    show_default=True,
    type=click.IntRange(0, 60_000),
    help="A delay before every answer, to feel a slow or distant cluster.",
)
def sim_serve(host: str, port: int, nodes: int, guests: int, latency_ms: int) -> None:
    """Serve a fresh simulated cluster over HTTPS with a new self-signed certificate, until Ctrl-C.

    It first prints `export PROXMOX_...=...` lines (host, port, user, realm, token name and secret,
    certificate fingerprint): paste them into another shell, and `pvemcp doctor` or `pvemcp run` there
    reach this cluster. Its token is an administrator's.
    """
    from pvemcp.cli.simserve import serve_simulator

    serve_simulator(host=host, port=port, nodes=nodes, guests=guests, latency_ms=latency_ms)


def main() -> None:
    cli()
