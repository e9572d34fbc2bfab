"""`pvemcp bootstrap`: a Proxmox role, user and privilege-separated token holding exactly what a tier needs.

Without --apply it prints the `pveum` commands to run on a node; with --apply it does the same through
the API with the configured (admin) token and prints the new token's secret once. The role holds the
privileges the tools enabled by the configuration need at the chosen tier (privileges.role_for_tier);
it is granted on `/` to the user and to the token, since a privilege-separated token holds only what
both hold. Read-only tools that Proxmox lets work only with a privilege that can change things
(reading a storage's configuration needs Datastore.Allocate) are left out of the role unless
--grant-write-for-reads is given; the output names them.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import click

from pvemcp.catalog.spec import Tier, ToolSpec
from pvemcp.config import Config, ConfigError, load_config
from pvemcp.privileges import role_for_tier
from pvemcp.pve.tls import format_fingerprint
from pvemcp.server.inventory import Inventory

ROLE_PATH = "/"


@dataclass(frozen=True, slots=True)
class Plan:
    """What bootstrap creates: names, the role's privileges and the tools left out of it."""

    tier: Tier
    userid: str
    token_name: str
    role: str
    privs: tuple[str, ...]
    withheld: dict[str, list[str]]  # tool → the write privileges it would need

    @property
    def token_id(self) -> str:
        return f"{self.userid}!{self.token_name}"


def plan_for(
    specs: list[ToolSpec], tier: Tier, userid: str, token_name: str, role: str, *, grant_write_for_reads: bool
) -> Plan:
    privs, writers = role_for_tier(specs, tier, grant_write_for_reads=grant_write_for_reads)
    withheld = {name: sorted({p for need in needs for p in need.grant} - set(privs)) for name, needs in writers.items()}
    return Plan(tier, userid, token_name, role, privs, {k: v for k, v in withheld.items() if v})


def pveum_commands(plan: Plan) -> list[str]:
    """The exact commands, in the order they must run (the token must exist before its ACL)."""
    q = shlex.quote
    return [
        f"pveum role add {q(plan.role)} --privs {q(','.join(plan.privs))}",
        f"pveum user add {q(plan.userid)} --comment {q('pvemcp assistant')}",
        f"pveum acl modify {ROLE_PATH} --users {q(plan.userid)} --roles {q(plan.role)}",
        f"pveum user token add {q(plan.userid)} {q(plan.token_name)} --privsep 1 --comment {q('pvemcp')}",
        f"pveum acl modify {ROLE_PATH} --tokens {q(plan.token_id)} --roles {q(plan.role)}",
    ]


def render_plan(plan: Plan) -> str:
    lines = [
        f"# A role with the {len(plan.privs)} privileges pvemcp's {plan.tier.label} tools need, a user, and a",
        "# privilege-separated token (it holds only what both the token and its user are granted).",
        "# Run on any cluster node as root. If the role exists already, use `pveum role modify` instead of",
        "# `pveum role add`; `pveum acl modify` may be run again safely.",
        *pveum_commands(plan),
    ]
    lines += _withheld_lines(plan)
    return "\n".join(lines)


def _withheld_lines(plan: Plan) -> list[str]:
    if not plan.withheld:
        return []
    lines = ["#", "# Left out: read-only tools Proxmox lets work only with a privilege that can change things:"]
    lines += [f"#   {name}: {', '.join(privs)}" for name, privs in sorted(plan.withheld.items())]
    lines.append(f"# Hide them with PVE_TOOL_BLACKLIST={','.join(sorted(plan.withheld))}")
    lines.append("# or run bootstrap again with --grant-write-for-reads to include those privileges.")
    return lines


async def apply_plan(config: Config, plan: Plan) -> dict[str, Any]:
    """Create or update the role, create the user if missing, grant ACLs, create the token; return the token."""
    from pvemcp.compose import make_client

    client = make_client(config)
    try:
        roles = await client.get("/access/roles")
        privs = ",".join(plan.privs)
        if any(isinstance(r, dict) and r.get("roleid") == plan.role for r in roles or []):
            await client.request("PUT", f"/access/roles/{plan.role}", {"privs": privs})
        else:
            await client.post("/access/roles", {"roleid": plan.role, "privs": privs})
        users = await client.get("/access/users")
        if not any(isinstance(u, dict) and u.get("userid") == plan.userid for u in users or []):
            await client.post("/access/users", {"userid": plan.userid, "comment": "pvemcp assistant"})
        await client.request("PUT", "/access/acl", {"path": ROLE_PATH, "roles": plan.role, "users": plan.userid})
        tokens = await client.get(f"/access/users/{plan.userid}/token")
        if any(isinstance(t, dict) and t.get("tokenid") == plan.token_name for t in tokens or []):
            raise click.ClickException(
                f"token {plan.token_id} already exists and its secret cannot be shown again. Choose another"
                f" --token-name, or remove it first: pveum user token remove {plan.userid} {plan.token_name}"
                " (the role, user and user ACL are in place)."
            )
        created = await client.post(
            f"/access/users/{plan.userid}/token/{plan.token_name}", {"privsep": 1, "comment": "pvemcp"}
        )
        await client.request("PUT", "/access/acl", {"path": ROLE_PATH, "roles": plan.role, "tokens": plan.token_id})
        return dict(created) if isinstance(created, dict) else {}
    finally:
        await client.aclose()


def settings_lines(config: Config, plan: Plan, secret: str) -> list[str]:
    """The PROXMOX_* lines that make pvemcp use the new token (same host and TLS trust as now)."""
    user, realm = plan.userid.rsplit("@", 1)
    lines: list[str] = []
    if config.target is not None:
        url = urlsplit(config.target.base_url)
        lines += [f"PROXMOX_HOST={url.hostname}", f"PROXMOX_PORT={url.port or 8006}"]
        tls = config.target.tls
        if tls.fingerprint:
            lines.append(f"PROXMOX_TLS_FINGERPRINT={format_fingerprint(tls.fingerprint)}")
        if tls.ca_file:
            lines.append(f"PROXMOX_TLS_CA_FILE={tls.ca_file}")
        if tls.insecure:
            lines.append("PROXMOX_ALLOW_INSECURE_TLS=true")
    lines += [
        f"PROXMOX_USER={user}",
        f"PROXMOX_REALM={realm}",
        f"PROXMOX_TOKEN_NAME={plan.token_name}",
        f"PROXMOX_TOKEN_SECRET={secret}",
        f"PVE_ACCESS_TIER={plan.tier.label}",
    ]
    if plan.withheld:
        lines.append(f"PVE_TOOL_BLACKLIST={','.join(sorted(plan.withheld))}")
    return lines


def _default_role(tier: Tier) -> str:
    # Proxmox reserves role names starting with "PVE" for its own roles.
    return f"pvemcp-{tier.label}"


@click.command()
@click.option("--tier", type=click.Choice(Tier.labels()), required=True, help="The access tier the token serves.")
@click.option("--user", "user", default="pvemcp", show_default=True, help="The Proxmox user to create.")
@click.option("--realm", default="pve", show_default=True, help="Its realm (pve: Proxmox's own user database).")
@click.option("--token-name", default="assistant", show_default=True, help="The API token's name.")
@click.option("--role", default=None, help="The role's name (default: pvemcp-<tier>).")
@click.option("--profile", default=None, help="Use [profiles.NAME] of the configuration file.")
@click.option("--grant-write-for-reads", is_flag=True, help="Include write privileges some read-only tools need.")
@click.option("--apply", "do_apply", is_flag=True, help="Do it through the API with the configured admin token.")
def bootstrap(
    tier: str,
    user: str,
    realm: str,
    token_name: str,
    role: str | None,
    profile: str | None,
    grant_write_for_reads: bool,
    do_apply: bool,
) -> None:
    """Print (or --apply) the pveum commands for a least-privilege pvemcp user and token."""
    chosen = Tier.parse(tier)
    try:
        config = load_config(sandbox=not do_apply, profile=profile)
    except ConfigError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(2)
    policy = replace(config.policy, tier=chosen)
    specs = [exposed.spec for exposed in Inventory(policy).by_name.values() if exposed.alias_of is None]
    userid = f"{user}@{realm}"
    plan = plan_for(
        specs, chosen, userid, token_name, role or _default_role(chosen), grant_write_for_reads=grant_write_for_reads
    )
    if not do_apply:
        click.echo(render_plan(plan))
        return
    if config.target is None:
        raise click.ClickException("--apply needs the admin connection settings (PROXMOX_HOST, the token, …)")
    import anyio

    from pvemcp.pve.errors import PveMcpError

    try:
        created = anyio.run(apply_plan, config, plan)
    except PveMcpError as exc:
        hint = f"\n{exc.hint}" if exc.hint else ""
        raise click.ClickException(f"{exc.code}: {exc.message}{hint}") from None
    secret = str(created.get("value", ""))
    click.echo(f"Created role {plan.role} ({len(plan.privs)} privileges), user {userid} and token {plan.token_id}.")
    click.echo("The token's secret is shown this once; store it now. Settings for pvemcp:")
    for line in settings_lines(config, plan, secret):
        click.echo(line)
    for line in _withheld_lines(plan):
        click.echo(line)
