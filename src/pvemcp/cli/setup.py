"""`pvemcp setup`: from nothing to a connected assistant, interactively or with every answer as a flag.

Steps: connection and TLS trust, the API token, tier and module, optional SSH, a live check with exactly
these settings, then the configuration file and the chosen MCP clients' files. The wizard lets the user
fix an answer and check again; the scripted mode (--yes) exits 1 instead. The token secret never comes
from the command line and never goes into a client's file.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from pvemcp.catalog.spec import Tier
from pvemcp.cli import console
from pvemcp.cli.console import say
from pvemcp.config.table import bounds, default_of, int_default
from pvemcp.pve.tls import format_fingerprint
from pvemcp.setup.clients import BY_KEY
from pvemcp.setup.plan import GENERIC, secret_file_path
from pvemcp.setup.steps import PRIVSEP_WORD, TLS_MODES, Answers, CheckReport, TlsMode, parse_token_id, read_secret_file

CLIENT_KEYS = (*BY_KEY, GENERIC.key)
# The API port's range and every default below are the settings table's.
PORT = click.IntRange(int(bounds("PROXMOX_PORT")[0]), int(bounds("PROXMOX_PORT")[1]))
DEFAULT_PORT = int_default("PROXMOX_PORT")
DEFAULT_TIER = str(default_of("PVE_ACCESS_TIER"))
DEFAULT_MODULE = str(default_of("PVE_MODULE_MODE"))
_PROFILE = re.compile(r"^[A-Za-z0-9_-]+$")
# What each way of trusting the node's certificate means, shown before the wizard asks.
TLS_MEANINGS: dict[TlsMode, str] = {
    "verify": "a CA this system trusts signed it (a public or your company's CA)",
    "ca": "a CA certificate file (PEM) you give signed it",
    "fingerprint": "pin this exact certificate by its SHA-256 fingerprint (self-signed)",
    "insecure": "no check at all: anyone in between can read the token",
}
WHERE_FINGERPRINT = (
    "Compare it with the node's: web UI > node > System > Certificates > pve-ssl.pem > View Certificate,"
    " or `pvenode cert info` on the node."
)


@dataclass
class Destination:
    """Where the answers go."""

    scope: str
    profile: str | None
    clients: list[str]
    secret_to_file: bool


@click.command()
@click.option("--host", help="A node's host name or IP address (no scheme or port).")
@click.option("--port", type=PORT, help=f"The API port ({DEFAULT_PORT}).")
@click.option("--user", help="The token's user, e.g. monitor (with --realm and --token-name).")
@click.option("--realm", help="The user's realm: pve, pam, or an LDAP/AD realm.")
@click.option("--token-name", help="The token's ID after the '!'.")
@click.option("--token-id", help="The whole token ID instead: user@realm!tokenid.")
@click.option("--secret-stdin", is_flag=True, help="Read the token secret from the first line of stdin (with --yes).")
@click.option("--secret-file", type=click.Path(exists=True, dir_okay=False), help="Read the token secret from a file.")
@click.option("--secret-to-file", is_flag=True, help="Keep the secret in its own 0600 file next to the config.")
@click.option(
    "--tls",
    "tls_mode",
    type=click.Choice(TLS_MODES),
    help="How to trust the node's certificate. Default: fingerprint with --fingerprint or --accept-fingerprint,"
    " ca with --ca-file, else verify (the wizard proposes one from what the server presents).",
)
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="The CA certificate (PEM) for --tls ca.")
@click.option("--fingerprint", help="The certificate's SHA-256 fingerprint to pin (AA:BB:…).")
@click.option("--accept-fingerprint", is_flag=True, help="Pin the fingerprint the server presents now.")
@click.option("--tier", type=click.Choice(Tier.labels()), help=f"The access tier ({DEFAULT_TIER} when not given).")
@click.option(
    "--module", type=click.Choice(["core", "advanced"]), help=f"The tool module ({DEFAULT_MODULE} when not given)."
)
@click.option("--ssh-host", help="Turn the SSH tools on, through this host.")
@click.option("--ssh-user", help="The SSH user (root).")
@click.option("--ssh-key", help="The SSH private key (~/.ssh/id_ed25519).")
@click.option("--profile", help="Write a [profiles.NAME] table, run with `pvemcp run --profile NAME`.")
@click.option(
    "--scope",
    type=click.Choice(["user", "project"]),
    help="Where the config goes: user (~/.config/pvemcp, the default) or project (./.pvemcp).",
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    type=click.Choice(CLIENT_KEYS),
    help="An MCP client to set up; repeat for several (--client cursor --client vscode).",
)
@click.option("--print-config", is_flag=True, help="Print the config and client entries; write nothing.")
@click.option("--no-check", is_flag=True, help="Skip the live check (to prepare a config offline).")
@click.option("--yes", "-y", "scripted", is_flag=True, help="Ask nothing: every answer comes from the flags.")
def setup(**flags: Any) -> None:
    """Connect pvemcp to Proxmox VE: ask (or read flags), check live, write the config and client files."""
    answers = _answers_from_flags(flags)
    where = Destination(flags["scope"] or "user", flags["profile"], list(flags["clients"]), flags["secret_to_file"])
    if flags["scripted"]:
        if flags["secret_stdin"]:
            if flags["secret_file"]:
                raise click.UsageError("give --secret-stdin or --secret-file, not both")
            answers.secret = sys.stdin.readline().strip()
        _complete_scripted(answers, flags)
        if not flags["no_check"] and not _check(answers).ok:
            fail("Nothing was written. Fix the settings above and run pvemcp setup again.")
    else:
        if flags["secret_stdin"]:
            raise click.UsageError("--secret-stdin reads the secret without asking; use it with --yes")
        _wizard(answers, check=not flags["no_check"])
        where = _ask_destination(where)
    _write(answers, where, print_only=flags["print_config"], ask=not flags["scripted"])


def fail(message: str, code: int = 1) -> NoReturn:
    say(message, err=True)
    sys.exit(code)


def _answers_from_flags(flags: dict[str, Any]) -> Answers:
    answers = Answers()
    if flags["token_id"]:
        if flags["user"] or flags["realm"] or flags["token_name"]:
            raise click.UsageError("give --token-id, or --user, --realm and --token-name, not both")
        try:
            answers.user, answers.realm, answers.token_name = parse_token_id(flags["token_id"])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--token-id") from None
    else:
        answers.user, answers.realm = (flags["user"] or "").strip(), (flags["realm"] or "").strip()
        answers.token_name = (flags["token_name"] or "").strip()
    answers.host = (flags["host"] or "").strip()
    answers.port = flags["port"] or DEFAULT_PORT
    answers.tier = flags["tier"] or DEFAULT_TIER
    answers.module = flags["module"] or DEFAULT_MODULE
    answers.ssh_host = (flags["ssh_host"] or "").strip()
    answers.ssh_user = (flags["ssh_user"] or "root").strip()
    answers.ssh_key = (flags["ssh_key"] or ("~/.ssh/id_ed25519" if answers.ssh_host else "")).strip()
    if flags["profile"] is not None and not _PROFILE.match(flags["profile"]):
        raise click.BadParameter("letters, digits, '_' and '-' only", param_hint="--profile")
    if flags["fingerprint"]:
        answers.fingerprint = _fingerprint(flags["fingerprint"], "--fingerprint")
    if flags["ca_file"]:
        answers.ca_file = str(Path(flags["ca_file"]).resolve())
    tls: TlsMode | None = flags["tls_mode"]
    if tls is None:
        pinned = flags["fingerprint"] or flags["accept_fingerprint"]
        tls = "fingerprint" if pinned else "ca" if flags["ca_file"] else "verify"
    answers.tls = tls
    if flags["secret_file"]:
        try:
            answers.secret = read_secret_file(Path(flags["secret_file"]))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--secret-file") from None
    return answers


def _fingerprint(text: str, hint: str) -> str:
    from pvemcp.pve.tls import normalize_fingerprint

    try:
        return normalize_fingerprint(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _complete_scripted(answers: Answers, flags: dict[str, Any]) -> None:
    """Scripted mode: every required answer present, the presented pin fetched when asked for."""
    missing = [
        flag
        for flag, value in (
            ("--host", answers.host),
            ("--token-id (or --user, --realm, --token-name)", answers.user and answers.realm and answers.token_name),
            ("--secret-stdin or --secret-file", answers.secret),
        )
        if not value
    ]
    if answers.tls == "ca" and not answers.ca_file:
        missing.append("--ca-file")
    if answers.tls == "fingerprint" and not answers.fingerprint and not flags["accept_fingerprint"]:
        missing.append("--fingerprint or --accept-fingerprint")
    if missing:
        raise click.UsageError(f"--yes needs {', '.join(missing)}")
    if answers.tls == "insecure":
        say("Warning: certificate checks are off; anyone in the path can read the token.", err=True)
    if answers.tls == "fingerprint" and flags["accept_fingerprint"]:
        presented = _presented(answers)
        if presented is None:
            fail("Nothing was written: the certificate could not be read.")
        if answers.fingerprint and answers.fingerprint != presented.fingerprint:
            fail(f"The server presents {presented.shown}, not the --fingerprint given. Nothing was written.")
        answers.fingerprint = presented.fingerprint
        say(f"Pinned the certificate the server presents, SHA-256:\n  {presented.shown}")
    _validate_or_exit(answers)


def _validate(answers: Answers) -> list[str]:
    """The problems `pvemcp run` would report for these answers, in its own words."""
    from pvemcp.config import ConfigError, load_config
    from pvemcp.setup.plan import settings_for

    try:
        load_config({**settings_for(answers, secret_file=None), "PVE_AUDIT_LOG": "off"}, cwd=None)
    except ConfigError as exc:
        return exc.problems
    return []


def _validate_or_exit(answers: Answers) -> None:
    problems = _validate(answers)
    if problems:
        fail("These settings would not work:\n" + "\n".join(f"  - {p}" for p in problems), code=2)


def _presented(answers: Answers) -> Any:
    from pvemcp.setup.steps import presented_certificate

    try:
        return presented_certificate(answers.host, answers.port, ca_file=answers.ca_file or None)
    except OSError as exc:
        say(f"Cannot reach {answers.host}:{answers.port}: {exc.strerror or exc}", err=True)
        return None


def _wizard(answers: Answers, *, check: bool) -> None:
    """Ask every step; after a failed check, let the user fix any answer or retry as is."""
    say("pvemcp setup: connect pvemcp to a Proxmox VE cluster. Enter keeps the value in brackets.\n")
    ask = True
    while True:
        if ask:
            _ask_connection(answers)
            _ask_token(answers)
            _ask_access(answers)
            _ask_ssh(answers)
        problems = _validate(answers)
        if problems:
            say("These settings would not work:\n" + "\n".join(f"  - {p}" for p in problems))
            ask = True
            continue
        if not check or _check(answers).ok:
            return
        choice = click.prompt(
            "What now? fix: answer again (Enter keeps each value); retry: check again as is; quit",
            type=click.Choice(["fix", "retry", "quit"]),
            default="fix",
        )
        if choice == "quit":
            fail("Nothing was written.")
        ask = choice == "fix"


def _ask_connection(answers: Answers) -> None:
    while True:
        answers.host = click.prompt("Proxmox host (a node's name or IP)", default=answers.host or None).strip()
        answers.port = click.prompt("API port", type=PORT, default=answers.port)
        presented = _presented(answers)
        if presented is not None or click.confirm("Keep this host anyway?", default=False):
            break
    if presented is not None:
        verdict = "the system CAs trust" if presented.verified else f"nothing trusts yet ({presented.verify_error})"
        say(f"The server presents a certificate {verdict}. Its SHA-256 fingerprint:\n  {presented.shown}")
    default: TlsMode = "verify" if presented is not None and presented.verified else "fingerprint"
    default = answers.tls if answers.tls != "verify" else default
    while True:
        say(tls_question(default))
        mode = click.prompt("Trust by", type=click.Choice(TLS_MODES), default=default, show_choices=False)
        if mode == "ca":
            answers.ca_file = str(
                Path(
                    click.prompt(
                        "CA certificate file (PEM)",
                        type=click.Path(exists=True, dir_okay=False, path_type=str),
                        default=answers.ca_file or None,
                    )
                ).resolve()
            )
        elif mode == "fingerprint":
            if presented is None:
                answers.fingerprint = click.prompt(
                    "The certificate's SHA-256 fingerprint (AA:BB:…)",
                    default=format_fingerprint(answers.fingerprint) if answers.fingerprint else None,
                    value_proc=lambda text: _fingerprint(text, "fingerprint"),
                )
            elif answers.fingerprint != presented.fingerprint:
                say(f"Its SHA-256 fingerprint:\n  {presented.shown}\n{WHERE_FINGERPRINT}")
                if not click.confirm("Does it match, and do you trust this certificate?", default=False):
                    continue
                answers.fingerprint = presented.fingerprint
        elif mode == "insecure":
            say("Warning: with checks off, anyone between you and the node can read the token.")
            if not click.confirm("Turn certificate checks off anyway?", default=False):
                continue
        answers.tls = mode
        return


def tls_question(default: TlsMode) -> str:
    """The choices, each explained, the default marked: the prompt itself then only names the default."""
    lines = ["How should pvemcp trust the node's certificate?"]
    lines += [
        f"  {mode:<11}  {meaning}{'  (default)' if mode == default else ''}" for mode, meaning in TLS_MEANINGS.items()
    ]
    return "\n".join(lines)


def _token_id(text: str) -> tuple[str, str, str]:
    try:
        return parse_token_id(text)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _ask_token(answers: Answers) -> None:
    say(
        "\nThe API token: create one under Datacenter > Permissions > API Tokens, or with"
        " `pveum user token add USER@REALM NAME`.\n" + PRIVSEP_WORD
    )
    answers.user, answers.realm, answers.token_name = click.prompt(
        "Token ID (user@realm!tokenid)", default=answers.token_id or None, value_proc=_token_id
    )
    keep = " (Enter keeps the one given)" if answers.secret else ""
    answers.secret = click.prompt(
        f"Token secret{keep}", hide_input=True, default=answers.secret or None, show_default=False
    ).strip()


def _ask_access(answers: Answers) -> None:
    say(
        "\nTiers: read-only lists and reads; read-execute also starts, stops, migrates and backs up guests;"
        " full also creates, changes and deletes. Module core is the everyday set; advanced adds the rest."
    )
    answers.tier = click.prompt("Access tier", type=click.Choice(Tier.labels()), default=answers.tier)
    answers.module = click.prompt("Tool module", type=click.Choice(["core", "advanced"]), default=answers.module)


def _ask_ssh(answers: Answers) -> None:
    wanted = click.confirm(
        "Set up SSH for the tools that run commands on nodes and in containers (pct)?", default=bool(answers.ssh_host)
    )
    if not wanted:
        answers.ssh_host = ""
        return
    answers.ssh_host = click.prompt("SSH host", default=answers.ssh_host or answers.host).strip()
    answers.ssh_user = click.prompt("SSH user", default=answers.ssh_user or "root").strip()
    answers.ssh_key = click.prompt("SSH private key", default=answers.ssh_key or "~/.ssh/id_ed25519").strip()
    if not Path(answers.ssh_key).expanduser().is_file():
        say(f"Note: {answers.ssh_key} does not exist yet; `pvemcp doctor` checks SSH once it does.")
    if Tier.parse(answers.tier) < Tier.READ_EXECUTE:
        say("Note: the SSH tools need tier read-execute or higher; with read-only they stay hidden.")


def _check(answers: Answers) -> CheckReport:
    """Run the live check and show its summary, or the failure explained."""
    import anyio

    from pvemcp.setup.steps import live_check, render_report

    say(f"\nChecking {answers.base_url} as {answers.token_id} …")
    report = anyio.run(live_check, answers)
    click.echo(render_report(answers, report, width=console.width()), nl=False)
    return report


def _ask_destination(where: Destination) -> Destination:
    say(
        "\nWhere to keep the settings: user = ~/.config/pvemcp/config.toml (for all your projects);"
        " project = ./.pvemcp/config.toml (this folder only, kept out of git)."
    )
    scope = click.prompt("Scope", type=click.Choice(["user", "project"]), default=where.scope)
    profile = click.prompt(
        "Profile name for this cluster (Enter for none)",
        default=where.profile or "",
        show_default=bool(where.profile),
        value_proc=_profile_name,
    )
    secret_to_file = _ask_secret_place(scope, profile or None)
    labels = ", ".join(f"{key} ({BY_KEY[key].label})" for key in BY_KEY) + f", {GENERIC.key} (print a snippet)"
    say(f"MCP clients: {labels}.")
    clients = click.prompt(
        "Add pvemcp to which clients? (comma-separated, or none)",
        default=",".join(where.clients) or "none",
        value_proc=_client_list,
    )
    return Destination(scope, profile or None, clients, secret_to_file)


def _ask_secret_place(scope: str, profile: str | None) -> bool:
    """Own file by default: the configuration then holds no secret, so it can be shown, shared or compared."""
    folder = "./.pvemcp" if scope == "project" else "~/.config/pvemcp"
    say(
        "\nWhere to keep the token secret: file = its own file, only the secret, mode 0600:\n"
        f"  {folder}/{secret_file_path(Path('config.toml'), profile)}\n"
        "named by the configuration (PROXMOX_TOKEN_SECRET_FILE), so config.toml holds no secret and can be"
        " shown or shared; inline = in config.toml itself (also 0600)."
    )
    place = click.prompt("Keep the secret", type=click.Choice(["file", "inline"]), default="file")
    return bool(place == "file")


def _profile_name(text: str) -> str:
    text = text.strip()
    if text and not _PROFILE.match(text):
        raise click.UsageError("a profile name holds letters, digits, '_' and '-' only")
    return text


def _client_list(text: str) -> list[str]:
    keys = [key.strip().lower() for key in text.split(",") if key.strip()]
    if keys in ([], ["none"]):
        return []
    unknown = [key for key in keys if key not in CLIENT_KEYS]
    if unknown:
        raise click.UsageError(f"unknown client(s) {', '.join(unknown)}; choose from {', '.join(CLIENT_KEYS)}")
    return list(dict.fromkeys(keys))


def _write(answers: Answers, where: Destination, *, print_only: bool, ask: bool) -> None:
    """Plan every file, then print the plan (--print-config) or write it and say what was written."""
    from pvemcp.setup.plan import carry_out, make_plan, render_plan

    try:
        plan = make_plan(
            answers,
            scope=where.scope,
            profile=where.profile,
            clients=where.clients,
            secret_to_file=where.secret_to_file,
            environ=dict(os.environ),
            cwd=Path.cwd(),
        )
    except ValueError as exc:
        fail(f"Nothing was written: {exc}")
    if print_only:
        click.echo(render_plan(plan), nl=False)
        say("Nothing was written (--print-config); the token secret is not shown.", err=True)
        return
    say("\nAbout to write:\n" + "\n".join(f"  {path}" for path in plan.paths))
    if ask and not click.confirm("Write these files?", default=True):
        fail("Nothing was written.")
    try:
        lines = carry_out(plan, answers.secret)
    except (ValueError, OSError) as exc:
        fail(f"Writing failed: {exc}")
    say("Wrote:\n" + "\n".join(f"  {line}" for line in lines))
    again = f" --profile {plan.profile}" if plan.profile else ""
    say(
        f"\nNext: `pvemcp doctor{again}` checks every tool against the token's privileges;"
        " restart your MCP client to load pvemcp."
    )
