"""`pvemcp token new`: a fresh bearer token and the MCP_AUTH_TOKENS_FILE entry that accepts it.

The token is printed once and stored nowhere; the entry holds only its SHA-256.
"""

from __future__ import annotations

import click

TIERS = ("read-only", "read-execute", "full")


@click.group()
def token() -> None:
    """Bearer tokens for the HTTP transport (MCP_AUTH_TOKENS_FILE, MCP_AUTH_TOKEN) and MCP_STATE_KEY."""


@token.command("new", short_help="Print a fresh bearer token and its [[tokens]] entry.")
@click.option("--name", default="assistant", show_default=True, help="The caller name the audit log shows.")
@click.option("--tier", type=click.Choice(TIERS), default="read-only", show_default=True, help="The token's ceiling.")
@click.option("--nodes", default=None, help="Only these nodes, comma-separated (e.g. pve1,pve2).")
@click.option("--vmids", default=None, help="Only these guests, like PVE_ALLOWED_VMIDS (e.g. 100-199,300).")
@click.option("--state-key", is_flag=True, help="Print a fresh MCP_STATE_KEY value instead of a token.")
def new(name: str, tier: str, nodes: str | None, vmids: str | None, state_key: bool) -> None:
    """Print a fresh token once, and the [[tokens]] entry to paste into MCP_AUTH_TOKENS_FILE."""
    from pvemcp.catalog.spec import Tier
    from pvemcp.http.tokens import entry_toml, new_token, parse_tokens

    fresh = new_token()
    if state_key:
        click.echo(fresh)
        return
    node_list = [n.strip() for n in nodes.split(",") if n.strip()] if nodes is not None else None
    entry = entry_toml(name, fresh, Tier.parse(tier), node_list, vmids.strip() if vmids is not None else None)
    _, problems = parse_tokens(entry, "the new entry")
    if problems:
        raise click.UsageError("; ".join(problems))
    click.echo(
        f"Token for {name!r} (shown once; the server keeps only its hash):\n\n"
        f"    {fresh}\n\n"
        f"Clients send it as the header  Authorization: Bearer <token>\n\n"
        f"Add this entry to the file MCP_AUTH_TOKENS_FILE names:\n\n{entry}"
    )
