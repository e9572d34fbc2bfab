"""inventory, ssh and selftest: what the token sees, whether the SSH channel works, and whether the
MCP server itself answers, in-process, the way a client would call it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pvemcp.catalog.spec import ToolSpec
from pvemcp.doctor.access import enabled_specs
from pvemcp.doctor.model import CheckResult, DoctorContext, green, red, skip
from pvemcp.privileges import grant_commands
from pvemcp.pve.errors import ErrorCode, PveMcpError

SSH_OFF = (
    "SSH tools are off (no PROXMOX_SSH_HOST, or PVE_SSH=off); to run commands in containers set"
    " PROXMOX_SSH_HOST, PROXMOX_SSH_USER and PROXMOX_SSH_KEY_PATH (docs/ssh.md)"
)
SELFTEST_TOOL = "pve_list_nodes"


def _running(items: list[dict[str, Any]]) -> int:
    return sum(1 for item in items if item.get("status") == "running")


async def check_inventory(ctx: DoctorContext) -> CheckResult:
    config = ctx.config()
    client = await ctx.api()
    resources = await client.get("/cluster/resources")
    items = [r for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []
    nodes = sorted((r for r in items if r.get("type") == "node"), key=lambda r: str(r.get("node")))
    guests = [r for r in items if r.get("type") in ("qemu", "lxc") and not r.get("template")]
    vms = [g for g in guests if g.get("type") == "qemu"]
    cts = [g for g in guests if g.get("type") == "lxc"]
    names = [str(n.get("node")) for n in nodes]
    online = sum(1 for n in nodes if n.get("status") == "online")
    data = {
        "nodes": names,
        "nodes_online": online,
        "vms": len(vms),
        "vms_running": _running(vms),
        "containers": len(cts),
        "containers_running": _running(cts),
        "templates": sum(1 for r in items if r.get("template")),
    }
    token_id = config.target.token.token_id if config.target else client.token_id
    if not nodes:
        fix = "; ".join(grant_commands("/", ["Sys.Audit", "VM.Audit"], token_id, privsep=None))
        return red("inventory", f"{token_id} sees no node: it lacks Sys.Audit (and VM.Audit for guests)", fix, **data)
    detail = (
        f"{len(nodes)} node(s) ({', '.join(names)}; {online} online), {len(vms)} VM(s) ({_running(vms)} running),"
        f" {len(cts)} container(s) ({_running(cts)} running)"
    )
    if config.scope.nodes is not None:
        strangers = sorted(config.scope.nodes - set(names))
        if strangers:
            return red(
                "inventory",
                f"{detail}; PVE_ALLOWED_NODES names {', '.join(strangers)}, which is no node of this cluster",
                f"use node names (as Proxmox lists them: {', '.join(names)}), not host names, in PVE_ALLOWED_NODES",
                **data,
            )
    return green("inventory", detail, **data)


async def check_ssh(ctx: DoctorContext) -> CheckResult:
    config = ctx.config()
    if config.ssh is None:
        return skip("ssh", SSH_OFF)
    from pvemcp.ssh.client import SshChannel

    settings = config.ssh
    where = f"{settings.user}@{settings.host}:{settings.port}"
    data: dict[str, Any] = {"target": where, "known_hosts": str(settings.known_hosts)}
    # The doctor looks and records nothing: an unknown host key is reported, never written down.
    channel = SshChannel(replace(settings, trust_on_first_use=False), ctx.client())
    try:
        result = await channel.run(None, ["sh", "-c", "command -v pct"], timeout=settings.connect_timeout + 10)
    except PveMcpError as exc:
        if exc.code is ErrorCode.SSH_HOST_KEY_UNKNOWN and settings.trust_on_first_use:
            return green(
                "ssh",
                f"{where}: host key not yet known; PROXMOX_SSH_TRUST_ON_FIRST_USE records it at first use"
                " (pct is checked once it is)",
                **data,
            )
        return red(
            "ssh", f"{where}: {exc.message}", exc.hint or "check the PROXMOX_SSH_* settings", code=str(exc.code), **data
        )
    finally:
        await channel.close()
    data["node"] = result.node
    pct = result.stdout.strip()
    if result.exit_status != 0 or not pct:
        return red(
            "ssh",
            f"{where} (node {result.node}): reachable and host key trusted, but `pct` is not there",
            "point PROXMOX_SSH_HOST at a Proxmox VE node (pct runs containers' commands there)",
            **data,
        )
    data["pct"] = pct
    return green("ssh", f"{where} (node {result.node}): reachable, host key trusted, pct at {pct}", **data)


def _read_probe(specs: list[ToolSpec]) -> ToolSpec | None:
    """pve_list_nodes, or else the first exposed read that needs no argument."""
    by_name = {spec.name: spec for spec in specs}
    if SELFTEST_TOOL in by_name:
        return by_name[SELFTEST_TOOL]
    return next(
        (s for s in specs if s.read_only and s.api and not s.ssh and not any(p.required for p in s.all_params)), None
    )


async def check_selftest(ctx: DoctorContext) -> CheckResult:
    from mcp import Client

    from pvemcp.compose import make_runtime
    from pvemcp.server.app import build_server

    config = ctx.config()
    client = await ctx.api()
    # No audit lines and no SSH connections for a self-test: it reads only.
    runtime = make_runtime(replace(config, audit_path=None, ssh=None), client)
    probe = _read_probe(enabled_specs(config))
    call: tuple[str, dict[str, Any]] | None = None if probe is None else (probe.name, {})
    if probe is not None and config.policy.mode == "consolidated":
        from pvemcp.server.fronts import Fronts
        from pvemcp.server.inventory import Inventory

        call = Fronts(Inventory(config.policy)).where(probe.name) or call  # a listed tool, as a client calls it
    async with Client(build_server(runtime)) as mcp:
        listed = await mcp.list_tools()
        count = len(listed.tools)
        if count == 0:
            return red(
                "selftest", "tools/list returned no tool", "check PVE_CATEGORIES and PVE_TOOL_WHITELIST", tools=0
            )
        if probe is None or call is None:
            return green(
                "selftest", f"tools/list: {count} tools; no argument-free read tool is enabled to call", tools=count
            )
        result = await mcp.call_tool(*call)
    content = dict(result.structured_content or {})
    data = {"tools": count, "called": probe.name, "through": call[0]}
    if result.is_error:
        code, message = content.get("code", "?"), content.get("message", "")
        hint = str(content.get("hint") or "see the checks above")
        return red("selftest", f"tools/list: {count} tools; {probe.name} failed: {code} {message}", hint, **data)
    items = content.get("count", content.get("items"))
    shown = f" ({items} items)" if isinstance(items, int) else ""
    through = f" (through {call[0]} action {call[1].get('action')})" if call[0] != probe.name else ""
    return green("selftest", f"tools/list: {count} tools; {probe.name}{through} answered{shown}", **data)
