"""The least-privilege fix for tools a token cannot use: exactly the missing privileges, never a broader role.

Proxmox's built-in roles hold far more than a tool needs (PVEVMAdmin for VM.Migrate brings VM.Allocate
and every VM.Config.*), and they cannot be changed. So the fix extends the token's own custom role by
exactly what is missing (`pveum role modify --append`), granting it only on paths it does not reach yet;
and a token holding a built-in role (or none that can be told) is pointed at `pvemcp bootstrap`, whose role
holds exactly what the tier needs. A read tool that only works with a privilege that can change things is
hidden rather than granted, as bootstrap does.

Which role the token holds is read from GET /access/acl when the token may see it (Proxmox lists only ACL
entries the caller may modify); otherwise it is inferred from the roles (GET /access/roles, open to every
user) whose privileges are exactly those the token holds on a path.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pvemcp.catalog.spec import Tier, ToolSpec
from pvemcp.privileges import Missing, ToolAccess, held_at, is_read_privilege, role_for_tier
from pvemcp.pve.roles import BUILTIN_ROLES

Permissions = Mapping[str, Mapping[str, int]]
Route = Literal["extend", "bootstrap", "none"]


@dataclass(frozen=True, slots=True)
class HeldRole:
    """A role the token (or its user) holds, and where."""

    role: str
    path: str
    custom: bool
    inferred: bool  # from the privileges held, not from an ACL entry seen
    propagate: bool = True

    def reaches(self, path: str) -> bool:
        below = self.path == "/" or path == self.path or path.startswith(self.path + "/")
        return below and (self.propagate or path == self.path)

    def words(self) -> str:
        kind = "a custom role" if self.custom else "a built-in role, which Proxmox does not let anyone change"
        how = "granted by an ACL entry"
        if self.inferred:
            how = f"inferred: its privileges on {self.path} are exactly that role's"
        return f"role {self.role} on {self.path} ({kind}; {how})"


@dataclass(frozen=True, slots=True)
class FixPlan:
    route: Route
    exact: dict[str, tuple[str, ...]]  # ACL path -> exactly the privileges to add there
    commands: tuple[str, ...] = ()
    blacklist: tuple[str, ...] = ()  # read tools to hide rather than grant a privilege that can change things
    root_only: tuple[str, ...] = ()
    role: HeldRole | None = None
    lines: tuple[str, ...] = ()  # what the plan means, for the report
    tier_privileges: tuple[str, ...] = field(default=())

    @property
    def privileges(self) -> tuple[str, ...]:
        return tuple(sorted({p for privs in self.exact.values() for p in privs}))


def role_table(listing: Any) -> dict[str, frozenset[str]]:
    """GET /access/roles -> role -> privileges (built-in roles as this version of Proxmox defines them)."""
    roles = {name: frozenset(privs) for name, privs in BUILTIN_ROLES.items()}
    for entry in listing if isinstance(listing, list) else []:
        if isinstance(entry, dict) and entry.get("roleid") and not entry.get("special"):
            roles[str(entry["roleid"])] = frozenset(p for p in str(entry.get("privs") or "").split(",") if p)
    return roles


def find_role(
    acl: Any, roles: Mapping[str, frozenset[str]], permissions: Permissions, *, kind: str, ugid: str
) -> HeldRole | None:
    """The role `ugid` (a token or a user) holds nearest the root: its ACL entries when listed, else inferred."""
    entries = [a for a in acl if isinstance(a, dict)] if isinstance(acl, list) else []
    own = sorted(
        (a for a in entries if a.get("type") == kind and a.get("ugid") == ugid and a.get("roleid") != "NoAccess"),
        key=lambda a: (str(a.get("path")).count("/") - (a.get("path") == "/"), a.get("roleid") in BUILTIN_ROLES),
    )
    if own:
        top = own[0]
        role = str(top["roleid"])
        return HeldRole(role, str(top["path"]), role not in BUILTIN_ROLES, False, bool(int(top.get("propagate", 1))))
    ranked = sorted(roles.items(), key=lambda item: (item[0] in BUILTIN_ROLES, item[0]))
    for path in sorted(permissions, key=lambda p: (p != "/", p.count("/"), p)):
        held = frozenset(permissions[path])
        match = next((name for name, privs in ranked if held and privs == held), None)
        if match is not None:
            propagate = all(int(flag) for flag in permissions[path].values())
            return HeldRole(match, path, match not in BUILTIN_ROLES, True, propagate)
    return None


def tier_privileges(specs: Iterable[ToolSpec], tier: Tier) -> tuple[str, ...]:
    """What `pvemcp bootstrap --tier` puts in its role for these tools (readers needing writes left out)."""
    return role_for_tier(specs, tier)[0]


def _exact(missing: Missing) -> tuple[str, ...]:
    """The privileges to add: those not held of an all-of need; the one to grant of an any-of need."""
    if missing.need.any:
        return missing.need.grant[:1] or missing.privs[:1]
    return missing.privs


def _hidden_instead(verdict: ToolAccess, spec: ToolSpec | None, role_privs: set[str]) -> bool:
    """A read tool lacking only privileges that can change things, which bootstrap's role leaves out."""
    if spec is None or spec.tier is not Tier.READ_ONLY:
        return False
    wanted = {p for m in verdict.missing if not m.need.root_only for p in _exact(m)}
    return bool(wanted) and not any(is_read_privilege(p) or p in role_privs for p in wanted)


@dataclass(frozen=True, slots=True)
class Token:
    token_id: str
    privsep: bool | None

    @property
    def user(self) -> str:
        return self.token_id.split("!", 1)[0]

    def acl(self, path: str, role: str, *, who: Literal["token", "user"]) -> str:
        flag, name = ("--tokens", self.token_id) if who == "token" else ("--users", self.user)
        return f"pveum acl modify {shlex.quote(path)} {flag} {shlex.quote(name)} --roles {shlex.quote(role)}"


def plan_fix(
    bad: Sequence[ToolAccess],
    specs: Sequence[ToolSpec],
    tier: Tier,
    token: Token,
    *,
    role: HeldRole | None,
    user_role: HeldRole | None,
    user_permissions: Permissions | None,
    roles: Mapping[str, frozenset[str]],
) -> FixPlan:
    by_name = {spec.name: spec for spec in specs}
    needed = tier_privileges(specs, tier)
    blacklist = tuple(v.name for v in bad if _hidden_instead(v, by_name.get(v.name), set(needed)))
    root_only = tuple(v.name for v in bad if v.status == "root-only")
    exact: dict[str, set[str]] = {}
    for verdict in bad:
        if verdict.name in blacklist or verdict.name in root_only:
            continue
        for missing in verdict.missing:
            exact.setdefault(missing.need.acl_path, set()).update(_exact(missing))
    paths = {path: tuple(sorted(privs)) for path, privs in sorted(exact.items())}
    common: dict[str, Any] = {"blacklist": blacklist, "root_only": root_only, "role": role, "tier_privileges": needed}
    if not paths:
        return FixPlan("none", paths, **common)
    if role is not None and role.custom:
        return _extend(paths, token, role, user_role, user_permissions, common)
    return _bootstrap(paths, token, tier, role, roles, needed, common)


def _extend(
    paths: dict[str, tuple[str, ...]],
    token: Token,
    role: HeldRole,
    user_role: HeldRole | None,
    user_permissions: Permissions | None,
    common: dict[str, Any],
) -> FixPlan:
    privs = ",".join(sorted({p for held in paths.values() for p in held}))
    commands = [f"pveum role modify {shlex.quote(role.role)} --append 1 --privs {shlex.quote(privs)}"]
    separated = token.privsep is not False
    for path, wanted in paths.items():
        if not role.reaches(path):
            commands.append(token.acl(path, role.role, who="token" if separated else "user"))
        if separated and not _user_covered(path, wanted, role.role, user_role, user_permissions):
            commands.append(token.acl(path, role.role, who="user"))
    lines = (
        f"{token.token_id} holds {role.words()}.",
        f"Add exactly the {len(privs.split(','))} missing privilege(s) to it"
        + (", and grant it where it does not reach yet:" if len(commands) > 1 else ":"),
    )
    return FixPlan("extend", paths, tuple(commands), lines=lines, **common)


def _user_covered(
    path: str, wanted: tuple[str, ...], role: str, user_role: HeldRole | None, user_permissions: Permissions | None
) -> bool:
    """A privilege-separated token also needs its user to hold what it is given."""
    if user_role is not None and user_role.role == role and user_role.reaches(path):
        return True  # the appended privileges come with the role the user holds
    if user_permissions is None:
        return False
    here = held_at(user_permissions, path + "/\0" if path != "/" else "/")
    return all(p in here for p in wanted)


def _bootstrap(
    paths: dict[str, tuple[str, ...]],
    token: Token,
    tier: Tier,
    role: HeldRole | None,
    roles: Mapping[str, frozenset[str]],
    needed: tuple[str, ...],
    common: dict[str, Any],
) -> FixPlan:
    name = f"pvemcp-{tier.label}"
    privs = shlex.quote(",".join(needed))
    create = f"pveum role {'modify' if name in roles else 'add'} {name} --privs {privs}"
    commands = [f"pvemcp bootstrap --tier {tier.label}", create, token.acl("/", name, who="token")]
    if token.privsep is False:
        commands = [*commands[:2], token.acl("/", name, who="user")]
    elif token.privsep is None or token.privsep:
        commands.append(token.acl("/", name, who="user"))
    held = f"{token.token_id} holds {role.words()}." if role else f"No custom role of {token.token_id} was found."
    lines = (
        held,
        f"The bootstrap command below prints a role {name} with exactly the {len(needed)} privileges the tier"
        " needs, with a new user and token for it; or give that role to this token with the pveum commands:",
    )
    return FixPlan("bootstrap", paths, tuple(commands), lines=lines, **common)
