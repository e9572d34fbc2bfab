"""privileges: for every tool this configuration enables, can the token actually use it?

The token's effective permissions (GET /access/permissions for its own ID, which every token may read)
are judged tool by tool (pvemcp.privileges). Failures are grouped by what is missing, because one
grant usually fixes many tools, and the fix is the pveum commands that grant it. A privilege-separated
token holds only the intersection of its own ACLs and its user's, the most common surprise: when the
token holds less than its user, or nothing at all, the report says so and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pvemcp.catalog.spec import ToolSpec
from pvemcp.config import Config
from pvemcp.doctor.model import CheckResult, DoctorContext, green, red
from pvemcp.privileges import (
    Missing,
    ToolAccess,
    check_tools,
    explain_privsep,
    grant_commands,
    read_privsep,
    role_for,
)
from pvemcp.pve.errors import PveMcpError
from pvemcp.pve.roles import BUILTIN_ROLES
from pvemcp.server.inventory import Inventory

Permissions = Mapping[str, Mapping[str, int]]


def enabled_specs(config: Config) -> list[ToolSpec]:
    """The tools `pvemcp run` would expose with this configuration (aliases counted once, as their tool)."""
    return [exposed.spec for exposed in Inventory(config.policy).by_name.values() if exposed.alias_of is None]


@dataclass
class Group:
    """Tools that all lack the same privileges on the same path."""

    privileges: tuple[str, ...]
    path: str
    any_of: bool
    root_only: bool
    tools: list[str] = field(default_factory=list)
    fix: tuple[str, ...] = ()
    partial_on: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.root_only:
            return "only root@pam may call it"
        joined = (" or " if self.any_of else ", ").join(self.privileges)
        return f"{joined} on {self.path}"


def group_missing(verdicts: Sequence[ToolAccess]) -> list[Group]:
    groups: dict[tuple[Any, ...], Group] = {}
    for verdict in verdicts:
        for missing in verdict.missing:
            need = missing.need
            key = (missing.privs, need.path, need.any, need.root_only)
            group = groups.setdefault(
                key,
                Group(
                    missing.privs, need.path, need.any, need.root_only, fix=missing.fix, partial_on=missing.partial_on
                ),
            )
            if verdict.name not in group.tools:
                group.tools.append(verdict.name)
    return list(groups.values())


def consolidated_fix(missing: Sequence[Missing], token_id: str, privsep: bool | None) -> list[str]:
    """One grant per ACL path covering everything missing there (the smallest built-in role that holds it)."""
    by_path: dict[str, set[str]] = {}
    for item in missing:
        if not item.need.root_only:
            by_path.setdefault(item.need.acl_path, set()).update(item.need.grant or item.privs)
    commands: list[str] = []
    for path in sorted(by_path):
        above = [a for a in by_path if a != path and (a == "/" or path.startswith(a + "/"))]
        if any(by_path[path] <= set(BUILTIN_ROLES[role_for(by_path[a])]) for a in above):
            continue  # the role granted higher up propagates here and already holds it
        commands += grant_commands(path, sorted(by_path[path]), token_id, privsep=privsep)
    return commands


def _held(permissions: Permissions) -> set[tuple[str, str]]:
    return {(path, priv) for path, privs in permissions.items() for priv in privs}


async def privsep_note(
    ctx: DoctorContext, token_id: str, privsep: bool | None, permissions: Permissions
) -> tuple[bool, str | None]:
    """(detected, explanation): privilege separation keeps from the token something its user holds."""
    if privsep is False:
        return False, None
    user = token_id.split("!", 1)[0]
    try:
        user_permissions = await ctx.client().get("/access/permissions", {"userid": user})
    except PveMcpError:
        user_permissions = None
    withheld: set[tuple[str, str]] = set()
    if isinstance(user_permissions, dict):
        withheld = _held(user_permissions) - _held(permissions)
    if withheld:
        example = ", ".join(f"{priv} on {path}" for path, priv in sorted(withheld)[:3])
        lead = f"privilege separation: {user} holds {len(withheld)} privilege(s) the token does not (e.g. {example})."
        return True, f"{lead} {explain_privsep(token_id, True if privsep is None else privsep)}"
    if not _held(permissions):
        lead = "privilege separation: the token holds no privilege at all, as when no ACL names the token itself."
        return True, f"{lead} {explain_privsep(token_id, privsep)}"
    return False, None


async def check_privileges(ctx: DoctorContext) -> CheckResult:
    config = ctx.config()
    client = await ctx.api()
    token_id = config.target.token.token_id if config.target else client.token_id
    specs = enabled_specs(config)
    permissions = await client.get("/access/permissions", {"userid": token_id})
    if not isinstance(permissions, dict):
        permissions = {}
    privsep = await read_privsep(client, token_id)
    verdicts = check_tools(specs, permissions, token_id=token_id, privsep=privsep)
    bad = [v for v in verdicts if not v.usable]
    detected, note = await privsep_note(ctx, token_id, privsep, permissions)
    data: dict[str, Any] = {
        "token_id": token_id,
        "privsep": privsep,
        "privsep_detected": detected,
        "tools": len(verdicts),
        "usable": len(verdicts) - len(bad),
        "not_usable": len(bad),
        "red": [_tool_json(v) for v in bad],
    }
    headline = f"{len(verdicts) - len(bad)} of {len(verdicts)} enabled tools usable by {token_id}"
    if not bad:
        return green("privileges", headline, **data)  # what separation withholds is not needed
    groups = group_missing(bad)
    fix = consolidated_fix([m for v in bad for m in v.missing], token_id, privsep)
    data["groups"] = [
        {
            "missing": list(g.privileges),
            "path": g.path,
            "tools": g.tools,
            "fix": list(g.fix),
            "partial_on": list(g.partial_on),
        }
        for g in groups
    ]
    data["commands"] = fix
    lines = [f"{headline}, {len(bad)} not:"]
    for group in groups:
        lines.append(f"missing {group.label} for {len(group.tools)} tool(s): {', '.join(group.tools)}")
        if group.partial_on:
            lines.append(f"  (held only on {', '.join(group.partial_on)})")
        lines += [f"  grant: {command}" for command in group.fix]
    if note:
        lines.append(note)
    return red(
        "privileges",
        "\n".join(lines),
        "; ".join(fix) if fix else "hide these tools with PVE_TOOL_BLACKLIST, or use a token of root@pam",
        **data,
    )


def _tool_json(verdict: ToolAccess) -> dict[str, Any]:
    return {
        "name": verdict.name,
        "status": verdict.status,
        "missing": [
            {
                "privileges": list(m.privs),
                "path": m.need.path,
                "acl_path": m.need.acl_path,
                "any_of": m.need.any,
                "fix": list(m.fix),
            }
            for m in verdict.missing
        ],
    }
