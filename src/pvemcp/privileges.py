"""What each tool needs from Proxmox's ACLs, whether a token has it, and how to grant it.

Shared by `pvemcp doctor` (is every enabled tool usable with this token?) and `pvemcp bootstrap`
(the smallest role for a tier). The rules come from catalog/permissions.py; the judgement mirrors
Proxmox's ACL model:

- A privilege held on a path reaches the paths below it only when its ACL entry propagates
  (`/access/permissions` reports the flag per privilege: 1 propagates, 0 holds only there).
- A need on a path with a placeholder (`/vms/{vmid}`, `/nodes/{node}`, `/storage/{storage}`) is judged
  for an object that has no ACL entry of its own: the nearest ancestor listed in the permissions decides
  (`/vms`, then `/`). Proxmox lists its top paths (`/`, `/vms`, `/nodes`, `/storage`, …) whenever they
  hold any privilege, so a top path missing from the listing holds nothing and stops the walk.
  A need met only on some objects (an ACL on `/vms/100` alone) is reported as partial.
- A privilege-separated token holds the intersection of its own ACLs and its user's; Proxmox already
  applies that in the token's `/access/permissions`, so the fix grants the role to both.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pvemcp.catalog.permissions import (
    PER_PARAMETER,
    AllOf,
    AnyOf,
    Perm,
    PermModify,
    RootOnly,
    Rule,
    UserAll,
    UserIdGroup,
    UserIdParam,
    World,
    rule_for,
    schema_path,
)
from pvemcp.catalog.spec import Tier, ToolSpec
from pvemcp.pve.roles import BUILTIN_ROLES

if TYPE_CHECKING:
    from pvemcp.pve.client import ProxmoxClient

Permissions = Mapping[str, Mapping[str, int]]
Status = Literal["usable", "limited", "partial", "missing", "root-only"]

# Paths Proxmox's effective-permission listing always evaluates; absent means nothing is held there.
EVALUATED_PATHS = frozenset({"/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms"})
# Built-in roles a fix may name, least powerful first: the first one holding every privilege is named.
_FIX_ROLES = tuple(
    name
    for name in (
        "PVEAuditor", "PVEPoolUser", "PVEDatastoreUser", "PVEVMUser", "PVESDNUser", "PVEMappingUser",
        "PVESysAdmin", "PVEDatastoreAdmin", "PVEVMAdmin", "PVEPoolAdmin", "PVEUserAdmin", "PVESDNAdmin",
        "PVEMappingAdmin", "PVEAdmin", "Administrator",
    )
    if name in BUILTIN_ROLES
)  # fmt: skip
_TOKEN_ID = re.compile(r"^(?P<user>[^\s:/@]+)@(?P<realm>[A-Za-z][A-Za-z0-9.\-_]+)!(?P<name>[A-Za-z][A-Za-z0-9.\-_]+)$")
GUEST_LOOKUP = "finds the guest's node in /cluster/resources"


@dataclass(frozen=True, slots=True)
class Need:
    """Privileges on one ACL path template. `any`: one is enough; `grant`: what a role should hold.

    `filters`: the endpoint is open to every user, and without this the tool works but shows or does less.
    `root_only`: no ACL grants it.
    """

    path: str
    privs: tuple[str, ...]
    any: bool = False
    filters: bool = False
    root_only: bool = False
    why: str = ""
    grant: tuple[str, ...] = ()

    @property
    def acl_path(self) -> str:
        """Where to grant it so that it reaches every object: the path up to its first placeholder."""
        return grant_path(self.path)

    def describe(self) -> str:
        joined = (" or " if self.any else ", ").join(self.privs)
        return f"{joined} on {self.path}"


@dataclass(frozen=True, slots=True)
class Missing:
    need: Need
    privs: tuple[str, ...]  # the privileges not held (for an any-of need: all of them)
    partial_on: tuple[str, ...] = ()  # concrete paths where the need is met after all
    fix: tuple[str, ...] = ()  # pveum commands that grant it


@dataclass(frozen=True, slots=True)
class ToolAccess:
    """One tool's verdict: usable, limited (works, sees less), partial, missing, or root-only."""

    name: str
    status: Status
    missing: tuple[Missing, ...] = ()

    @property
    def usable(self) -> bool:
        return self.status == "usable"

    @property
    def fixes(self) -> list[str]:
        return list(dict.fromkeys(cmd for m in self.missing for cmd in m.fix))


def grant_path(template: str) -> str:
    head = template.split("{", 1)[0].rstrip("/")
    return head or "/"


def _rule_needs(rule: Rule, *, filters: bool = False) -> list[Need]:
    if isinstance(rule, Perm):
        return [Need(rule.path, rule.privs, rule.any, filters=filters, why="Proxmox's permission rule")]
    if isinstance(rule, AllOf):
        return [need for part in rule.rules for need in _rule_needs(part, filters=filters)]
    if isinstance(rule, AnyOf):
        # The usual way to meet an or(): its first alternative that neither means "yourself" nor an option.
        for part in rule.rules:
            if isinstance(part, UserIdParam) and part.priv == "self":
                continue
            if isinstance(part, Perm) and part.require_param:
                continue
            return _rule_needs(part, filters=filters or _has_self(rule))
        return []
    if isinstance(rule, UserAll):
        return [] if rule.useful is None else _rule_needs(rule.useful, filters=True)
    if isinstance(rule, World):
        return []
    if isinstance(rule, RootOnly):
        return [Need("/", (), root_only=True, why="only root@pam may call it")]
    if isinstance(rule, UserIdParam):
        if rule.priv == "self":
            return []
        return [Need("/access/realm/{realm}", (rule.priv,), filters=filters, why="on the user's realm")]
    if isinstance(rule, UserIdGroup):
        privs = rule.privs
        return [Need("/access/groups", privs, any=len(privs) > 1, filters=filters, why="on the user's groups")]
    if isinstance(rule, PermModify):
        # The path is the request's argument; on / the privilege covers every path a tool may change.
        return [Need("/", ("Permissions.Modify",), filters=filters, why=f"on the ACL path changed ({rule.path})")]
    raise TypeError(rule)


def _has_self(rule: AnyOf) -> bool:
    return any(isinstance(part, UserIdParam) and part.priv == "self" for part in rule.rules)


def needs(spec: ToolSpec) -> list[Need]:
    """Every privilege one tool depends on: its endpoint's rule, plus what pvemcp reads around the call.

    Tools that name a guest find its node (and re-check it before a change) in /cluster/resources,
    which lists only guests with VM.Audit. Tools pvemcp answers itself (preview, SSH) need no
    API privilege beyond that. A {guest_type} path needs what both qemu and lxc ask.
    """
    found: list[Need] = []
    if spec.api and not spec.raw:  # the raw API's privileges are those of whatever path it is given
        for method, path in schema_path(spec.method, spec.path):
            per_parameter = (method, path) in PER_PARAMETER
            for need in _rule_needs(rule_for(method, path)):
                grant = need.privs if (per_parameter or not need.any) else _least(need.privs)
                found.append(_with(need, grant=grant))
    names_guest = "vmid" in spec.placeholders or (spec.ssh and spec.param("vmid") is not None)
    if names_guest and not any(n.path == "/vms/{vmid}" and "VM.Audit" in n.privs for n in found):
        found.insert(0, Need("/vms/{vmid}", ("VM.Audit",), why=GUEST_LOOKUP, grant=("VM.Audit",)))
    return list(dict.fromkeys(found))


def is_read_privilege(priv: str) -> bool:
    """Audit and log privileges change nothing; every other privilege lets its holder change something."""
    return priv.endswith(".Audit") or priv == "Sys.Syslog"


def _least(privs: tuple[str, ...]) -> tuple[str, ...]:
    """Of an any-of list, the privilege to grant: the first read privilege, else the first."""
    return (next((p for p in privs if is_read_privilege(p)), privs[0]),)


def write_needs_of_readers(specs: Iterable[ToolSpec]) -> dict[str, list[Need]]:
    """Read-only tools that Proxmox lets work only with a privilege that can change things.

    Reading a storage's configuration needs Datastore.Allocate; the ACL listing shows only what the
    caller may modify. A role for a read-only assistant should rather go without these tools.
    """
    found: dict[str, list[Need]] = {}
    for spec in specs:
        if spec.tier is Tier.READ_ONLY:
            writes = [n for n in needs(spec) if not n.root_only and not all(map(is_read_privilege, n.grant))]
            if writes:
                found[spec.name] = writes
    return found


def _with(need: Need, *, grant: tuple[str, ...]) -> Need:
    return Need(need.path, need.privs, need.any, need.filters, need.root_only, need.why, grant)


def held_at(permissions: Permissions, path: str) -> dict[str, int]:
    """Privileges reaching a concrete path: its own entry, else the nearest ancestor's propagated ones."""
    if not path.startswith("/"):
        raise ValueError(f"not an ACL path: {path!r}")
    if path in permissions:
        return dict(permissions[path])
    if path in EVALUATED_PATHS:
        return {}
    parent = path
    while parent != "/":
        parent = parent.rsplit("/", 1)[0] or "/"
        if parent in permissions:
            return {priv: 1 for priv, flag in permissions[parent].items() if flag}
        if parent in EVALUATED_PATHS:
            return {}
    return {}


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def _met(need: Need, privs: Mapping[str, int]) -> bool:
    have = [p for p in need.privs if p in privs]
    return bool(have) if need.any else len(have) == len(need.privs)


def _judge(need: Need, permissions: Permissions) -> tuple[bool, tuple[str, ...]]:
    """(met for an object without an ACL entry of its own, concrete paths where it is met anyway)."""
    met = _met(need, held_at(permissions, _unlisted_object(need.path)))
    if "{" not in need.path:
        return met, ()
    pattern = _template_regex(need.path)
    return met, tuple(sorted(p for p in permissions if pattern.match(p) and _met(need, permissions[p])))


def _unlisted_object(template: str) -> str:
    """The template with a name no ACL path can hold: an object without an ACL entry of its own."""
    return re.sub(r"\{[a-z_]+\}", "\0", template)


def check_tools(
    specs: Iterable[ToolSpec],
    permissions: Permissions,
    *,
    token_id: str | None = None,
    privsep: bool | None = True,
    role: str | None = None,
) -> list[ToolAccess]:
    """Judge every tool against a token's GET /access/permissions (path → privilege → propagate).

    token_id and privsep shape the fix commands (`--tokens` and, with privilege separation, `--users`
    for its user too); role: name this role in the fixes (extended with `pveum role modify --append`)
    instead of the smallest fitting built-in role.
    """
    results: list[ToolAccess] = []
    for spec in specs:
        lacking: list[Missing] = []
        for need in needs(spec):
            if need.root_only:
                lacking.append(Missing(need, ()))
                continue
            met, partial = _judge(need, permissions)
            if not met:
                have = held_at(permissions, _unlisted_object(need.path))
                privs = tuple(p for p in need.privs if p not in have)
                fix = grant_commands(need.acl_path, need.grant or need.privs, token_id, privsep=privsep, role=role)
                lacking.append(Missing(need, privs or need.privs, partial, tuple(fix)))
        results.append(ToolAccess(spec.name, _status(lacking), tuple(lacking)))
    return results


def _status(lacking: Sequence[Missing]) -> Status:
    if not lacking:
        return "usable"
    if any(m.need.root_only for m in lacking):
        return "root-only"
    hard = [m for m in lacking if not m.need.filters]
    if not hard:
        return "limited"
    return "partial" if all(m.partial_on for m in hard) else "missing"


def role_for(privs: Iterable[str]) -> str:
    """The smallest built-in role holding every one of these privileges (Administrator at worst)."""
    wanted = set(privs)
    return next((name for name in _FIX_ROLES if wanted <= set(BUILTIN_ROLES[name])), "Administrator")


def grant_commands(
    acl_path: str, privs: Sequence[str], token_id: str | None, *, privsep: bool | None = True, role: str | None = None
) -> list[str]:
    """The pveum commands that grant these privileges on acl_path to the token (and its user when needed)."""
    token = token_id or "USER@REALM!TOKEN"
    user = token.split("!", 1)[0]
    commands: list[str] = []
    if role is not None:
        commands.append(f"pveum role modify {shlex.quote(role)} --append 1 --privs {shlex.quote(','.join(privs))}")
    chosen = role or role_for(privs)
    if privsep is None or privsep:
        commands.append(f"pveum acl modify {shlex.quote(acl_path)} --tokens '{token}' --roles {shlex.quote(chosen)}")
    commands.append(f"pveum acl modify {shlex.quote(acl_path)} --users '{user}' --roles {shlex.quote(chosen)}")
    return commands


def role_for_tier(
    specs: Iterable[ToolSpec], tier: Tier, *, grant_write_for_reads: bool = False
) -> tuple[tuple[str, ...], dict[str, list[Need]]]:
    """What `pvemcp bootstrap --tier` puts in its role: the privileges, and the read tools it leaves out because
    they would need a privilege that can change things (unless grant_write_for_reads)."""
    enabled = [s for s in specs if s.tier <= tier]
    writers = {} if grant_write_for_reads else write_needs_of_readers(enabled)
    kept = [s for s in enabled if s.name not in writers]
    return tuple(sorted({p for held in minimal_privileges(kept).values() for p in held})), writers


def minimal_privileges(specs: Iterable[ToolSpec]) -> dict[str, set[str]]:
    """ACL path → the privileges a role there needs so that every one of these tools is fully usable."""
    result: dict[str, set[str]] = {}
    for spec in specs:
        for need in needs(spec):
            if not need.root_only:
                result.setdefault(need.acl_path, set()).update(need.grant or need.privs)
    return dict(sorted(result.items()))


@dataclass(frozen=True, slots=True)
class TokenId:
    user: str
    realm: str
    name: str

    @property
    def userid(self) -> str:
        return f"{self.user}@{self.realm}"

    @property
    def full(self) -> str:
        return f"{self.userid}!{self.name}"

    @property
    def api_path(self) -> str:
        """GET it for the token's record, privsep included."""
        return f"/access/users/{self.userid}/token/{self.name}"


def parse_token_id(text: str) -> TokenId:
    """'user@realm!name' → its parts; ValueError naming the expected form otherwise."""
    match = _TOKEN_ID.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a token ID of the form user@realm!name (e.g. pvemcp@pve!assistant)")
    return TokenId(match["user"], match["realm"], match["name"])


def explain_privsep(token_id: str, privsep: bool | None) -> str:
    """Why a token may lack what its user has, in the words an admin acts on."""
    user = token_id.split("!", 1)[0]
    if privsep is None:
        return (
            f"Could not read whether {token_id} is privilege-separated. If it is (the default), it holds only"
            f" what ACLs grant the token itself AND its user {user} holds: grant roles with --tokens and --users."
        )
    if privsep:
        return (
            f"{token_id} is privilege-separated: it holds only what ACLs grant the token itself, and only where"
            f" its user {user} holds it too (the intersection). Grant roles to both: --tokens '{token_id}' and"
            f" --users '{user}'."
        )
    return (
        f"{token_id} is not privilege-separated: it holds everything its user {user} holds, and ACLs naming the"
        f" token are ignored. Grant roles with --users '{user}'; for a token limited to pvemcp's needs, create"
        " one with `pveum user token add ... --privsep 1` (see `pvemcp bootstrap`)."
    )


async def read_privsep(client: ProxmoxClient, token_id: str) -> bool | None:
    """The token's privsep flag from its own record; None when the token may not read it."""
    from pvemcp.pve.errors import PveMcpError

    try:
        record = await client.get(parse_token_id(token_id).api_path)
    except (PveMcpError, ValueError):
        return None
    if isinstance(record, dict) and "privsep" in record:
        return bool(int(record["privsep"]))
    return None
