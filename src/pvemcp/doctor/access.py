"""privileges: for every tool this configuration enables, can the token actually use it?

The token's effective permissions (GET /access/permissions for its own ID, which every token may read)
are judged tool by tool (pvemcp.privileges). Failures are grouped by what is missing, because one
grant usually fixes many tools, and the fix is the pveum commands that grant it. A privilege-separated
token holds only the intersection of its own ACLs and its user's, the most common surprise: when the
token holds less than its user, or nothing at all, the report says so and why. The fix is the
least-privilege one (doctor/fixes.py): exactly the missing privileges, never a broader built-in role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pvemcp.catalog.spec import ToolSpec
from pvemcp.config import Config
from pvemcp.doctor.fixes import FixPlan, Token, find_role, plan_fix, role_table
from pvemcp.doctor.model import CheckResult, DoctorContext, copyable, green, red
from pvemcp.privileges import ToolAccess, check_tools, explain_privsep, read_privsep
from pvemcp.pve.errors import PveMcpError
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
                Group(missing.privs, need.path, need.any, need.root_only, partial_on=missing.partial_on),
            )
            if verdict.name not in group.tools:
                group.tools.append(verdict.name)
    return list(groups.values())


def _held(permissions: Permissions) -> set[tuple[str, str]]:
    return {(path, priv) for path, privs in permissions.items() for priv in privs}


async def _get(ctx: DoctorContext, path: str, params: dict[str, Any] | None = None) -> Any:
    """An answer the fix is better for but can do without (a read-only token may not list ACLs)."""
    try:
        return await ctx.client().get(path, params)
    except PveMcpError:
        return None


def privsep_note(
    token_id: str, privsep: bool | None, permissions: Permissions, user_permissions: Any
) -> tuple[bool, str | None]:
    """(detected, explanation): privilege separation keeps from the token something its user holds."""
    if privsep is False:
        return False, None
    user = token_id.split("!", 1)[0]
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
    user = token_id.split("!", 1)[0]
    user_permissions = None if privsep is False else await _get(ctx, "/access/permissions", {"userid": user})
    detected, note = privsep_note(token_id, privsep, permissions, user_permissions)
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
    roles = role_table(await _get(ctx, "/access/roles"))
    acl = await _get(ctx, "/access/acl")
    kind, ugid = ("user", user) if privsep is False else ("token", token_id)
    role = find_role(acl, roles, permissions, kind=kind, ugid=ugid)
    user_held = user_permissions if isinstance(user_permissions, dict) else None
    user_role = None if user_held is None else find_role(acl, roles, user_held, kind="user", ugid=user)
    plan = plan_fix(
        bad,
        specs,
        config.policy.tier,
        Token(token_id, privsep),
        role=role,
        user_role=user_role,
        user_permissions=user_held,
        roles=roles,
    )
    groups = group_missing(bad)
    hide = _hide(ctx, config.policy.blacklist, plan)
    data["groups"] = [
        {"missing": list(g.privileges), "path": g.path, "tools": g.tools, "partial_on": list(g.partial_on)}
        for g in groups
    ]
    data.update(
        route=plan.route,
        role=None
        if plan.role is None
        else {"name": plan.role.role, "path": plan.role.path, "custom": plan.role.custom},
        add={path: list(privs) for path, privs in plan.exact.items()},
        commands=list(plan.commands),
        blacklist=list(plan.blacklist),
    )
    lines = [f"{headline}, {len(bad)} not:"]
    for group in groups:
        lines.append(f"missing {group.label} for {len(group.tools)} tool(s): {', '.join(group.tools)}")
        if group.partial_on:
            lines.append(f"  (held only on {', '.join(group.partial_on)})")
    if note:
        lines.append(note)
    lines += plan.lines
    lines += [f"  {command}" for command in plan.commands]
    if hide:
        lines.append(hide[0])
        lines.append(f"  {hide[1]}")
    fixes = ["; ".join(c for c in plan.commands if not c.startswith("pvemcp ")) or "see above"]
    if plan.route == "bootstrap":
        fixes = [f"{plan.commands[0]}, or for this token the {len(plan.commands) - 1} pveum commands above"]
    if plan.route == "none":
        fixes = []
    if hide:
        fixes.append(hide[1])
    if plan.root_only and not hide:
        fixes.append("hide these tools with PVE_TOOL_BLACKLIST, or use a token of root@pam")
    copy = (*plan.commands, *([hide[1]] if hide else []))
    return copyable(red("privileges", "\n".join(lines), "; then ".join(fixes), **data), *copy)


def _hide(ctx: DoctorContext, listed: frozenset[str], plan: FixPlan) -> tuple[str, str] | None:
    """(why, how) to hide read tools and root-only tools, said where PVE_TOOL_BLACKLIST is set."""
    hidden = sorted(set(plan.blacklist) | set(plan.root_only))
    if not hidden:
        return None
    why = []
    if plan.blacklist:
        why.append(
            f"{', '.join(plan.blacklist)}: read tool(s) Proxmox lets work only with a privilege that can change"
            " things, which `pvemcp bootstrap` leaves out of its role"
        )
    if plan.root_only:
        why.append(f"{', '.join(plan.root_only)}: only root@pam may call them")
    value = ",".join(sorted(listed | set(hidden)))
    return f"Hide {'; '.join(why)}:", ctx.origin("PVE_TOOL_BLACKLIST").change(value)


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
