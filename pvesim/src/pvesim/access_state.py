"""Access control beyond the user, token and ACL records: groups, realms, built-in roles, permissions.

Built-in roles are derived the way PVE derives them: privileges fall into categories, each split
into root-only, admin, user and audit sets, and PVE<Cat>Admin, PVE<Cat>User, PVEAdmin and
PVEAuditor collect the matching sets. Effective permissions follow PVE's ACL walk: the deepest
matching entry wins, token entries over user entries over group entries, NoAccess over all.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import ClusterState

# category: (root-only, admin, user, audit), as PVE 9 groups its privileges
PRIVILEGE_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "VM": (
        (),
        (
            "VM.Allocate", "VM.Clone", "VM.Config.CPU", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
            "VM.Config.Network", "VM.Config.Options", "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.Replicate",
            "VM.Snapshot", "VM.Snapshot.Rollback",
        ),
        (
            "VM.Backup", "VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.GuestAgent.FileRead",
            "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.PowerMgmt",
        ),
        ("VM.Audit", "VM.GuestAgent.Audit"),
    ),
    "Sys": (
        ("Sys.AccessNetwork", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt"),
        ("Sys.Console", "Sys.Syslog"),
        (),
        ("Sys.Audit",),
    ),
    "Datastore": ((), ("Datastore.Allocate", "Datastore.AllocateTemplate"), ("Datastore.AllocateSpace",),
                  ("Datastore.Audit",)),
    "SDN": ((), ("SDN.Allocate", "SDN.Audit"), ("SDN.Use",), ("SDN.Audit",)),
    "User": (("Realm.Allocate",), ("Group.Allocate", "Realm.AllocateUser", "User.Modify"), (), ()),
    "Pool": ((), ("Pool.Allocate",), ("Pool.Audit",), ("Pool.Audit",)),
    "Mapping": (("Mapping.Modify",), (), ("Mapping.Use",), ("Mapping.Audit",)),
}  # fmt: skip
ALL_PRIVILEGES = tuple(
    sorted({p for sets in PRIVILEGE_GROUPS.values() for s in sets for p in s} | {"Permissions.Modify"})
)


def _builtin_roles() -> dict[str, tuple[str, ...]]:
    roles: dict[str, set[str]] = {"NoAccess": set(), "PVEAdmin": set(), "PVEAuditor": set()}
    for category, (_root, admin, user, audit) in PRIVILEGE_GROUPS.items():
        roles.setdefault(f"PVE{category}Admin", set()).update(admin, user, audit)
        roles["PVEAdmin"].update(admin, user, audit)
        if user:
            roles.setdefault(f"PVE{category}User", set()).update(user, audit)
        roles["PVEAuditor"].update(audit)
    roles["PVEMappingAdmin"].add("Mapping.Modify")  # the one admin role holding a root-only privilege
    roles["PVETemplateUser"] = {"VM.Audit", "VM.Clone"}
    roles["Administrator"] = set(ALL_PRIVILEGES)
    return {name: tuple(sorted(privs)) for name, privs in sorted(roles.items())}


BUILTIN_ROLES = _builtin_roles()
SUPERUSER = "root@pam"
# Paths every effective-permission listing looks at, besides the ones named in ACLs.
TOP_PATHS = ("/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms")


@dataclass(eq=False)
class Group:
    groupid: str
    comment: str = ""
    members: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Realm:
    realm: str
    type: str
    comment: str


REALMS = (
    Realm("pam", "pam", "Linux PAM standard authentication"),
    Realm("pve", "pve", "Proxmox VE authentication server"),
)


@dataclass(eq=False)
class AccessState:
    groups: dict[str, Group] = field(default_factory=dict)
    realms: dict[str, Realm] = field(default_factory=lambda: {r.realm: r for r in REALMS})
    tokens_issued: int = 0

    def groups_of(self, userid: str) -> list[str]:
        return sorted(g.groupid for g in self.groups.values() if userid in g.members)


def new_secret(state: ClusterState, full_id: str) -> str:
    """A token secret that is new for every creation yet the same in every run of the same cluster."""
    state.access.tokens_issued += 1
    seed = f"{state.cluster_name}|{full_id}|{state.access.tokens_issued}".encode()
    return str(uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16], version=4))


def _applies(acl_path: str, path: str) -> bool:
    return acl_path == "/" or acl_path == path or path.startswith(acl_path + "/")


def roles_at(state: ClusterState, subject: str, path: str) -> dict[str, int]:
    """Role → propagate flag for a user or token at a path (PVE::AccessControl::roles)."""
    if subject == SUPERUSER:
        return {"Administrator": 1}
    member_of = set(state.access.groups_of(subject))
    roles: dict[str, int] = {}
    for acl_path in sorted({a.path for a in state.acls if _applies(a.path, path)}):
        final = acl_path == path
        entries = [a for a in state.acls if a.path == acl_path and (final or a.propagate)]
        for kind, wanted in (("token", {subject}), ("user", {subject}), ("group", member_of)):
            found = {a.roleid: a.propagate for a in entries if a.type == kind and a.ugid in wanted}
            if found:
                roles = found
                break
    if "NoAccess" in roles:
        return {"NoAccess": roles["NoAccess"]}
    return roles


PoolPaths = dict[str, list[str]]


def pool_paths(state: ClusterState) -> PoolPaths:
    """Guest and storage paths → the pools they belong to, whose ACLs they inherit."""
    paths: PoolPaths = {}
    for guest in state.guests.values():
        if guest.pool:
            paths.setdefault(f"/vms/{guest.vmid}", []).append(guest.pool)
    for pool in state.pools.values():
        for storage in pool.storages:
            paths.setdefault(f"/storage/{storage}", []).append(pool.poolid)
    return paths


def _privileges(state: ClusterState, subject: str, path: str, pools: PoolPaths) -> dict[str, int]:
    roles = roles_at(state, subject, path)
    lent: dict[str, int] = {}  # roles a pool ACL lends its members, never propagated
    for poolid in pools.get(path, ()):
        lent.update(dict.fromkeys(roles_at(state, subject, f"/pool/{poolid}"), 0))
    if lent and "NoAccess" not in roles:
        roles = {"NoAccess": 0} if "NoAccess" in lent else {**lent, **roles}
    privs: dict[str, int] = {}
    for role, propagate in roles.items():
        for priv in state.roles.get(role, ()):
            privs[priv] = privs.get(priv, 0) or propagate
    return privs


def permissions(state: ClusterState, subject: str, path: str, pools: PoolPaths | None = None) -> dict[str, int]:
    """Privilege → propagate flag for a user or token (user@realm!name) at a path."""
    pools = pool_paths(state) if pools is None else pools
    user, _, token_name = subject.partition("!")
    if not token_name:
        if subject == SUPERUSER:
            return dict.fromkeys(state.roles.get("Administrator", ()), 1)
        return _privileges(state, subject, path, pools) if subject in state.users else {}
    token = state.tokens.get(subject)
    if token is None:
        return {}
    owner = permissions(state, user, path, pools)
    if not token.privsep:
        return owner
    own = _privileges(state, subject, path, pools)
    return {priv: int(bool(owner[priv] and flag)) for priv, flag in own.items() if priv in owner}


def effective_permissions(state: ClusterState, subject: str) -> dict[str, dict[str, int]]:
    """Every interesting path with the privileges held there; paths without any are left out."""
    pools = pool_paths(state)
    paths = set(TOP_PATHS) | {a.path for a in state.acls} | set(pools)
    result = {path: permissions(state, subject, path, pools) for path in sorted(paths)}
    return {path: dict(sorted(privs.items())) for path, privs in result.items() if privs}


def seed_access(state: ClusterState, now: float) -> None:
    """A few people, groups, tokens and ACL entries, as a small team's cluster has them (no randomness)."""
    from .state import Acl, Token, User

    access = state.access
    for groupid, comment in (
        ("admins", "Cluster administrators"),
        ("operators", "Day-to-day VM operations"),
        ("auditors", "Read-only monitoring"),
    ):
        access.groups[groupid] = Group(groupid, comment)
    people = (
        ("alice@pve", "Alice", "Martin", "admins", 1, 0, ""),
        ("bob@pve", "Bob", "Keller", "operators", 1, 0, ""),
        ("carol@pve", "Carol", "Nguyen", "auditors", 1, 0, "Monitoring service account"),
        ("dave@pve", "Dave", "Okafor", "operators", 0, int(now) - 30 * 86_400, "Left the team"),
    )
    for userid, first, last, group, enable, expire, comment in people:
        if userid in state.users:  # the simulator's own token owner keeps its record
            continue
        email = f"{first.lower()}@example.com"
        state.users[userid] = User(userid, enable, expire, comment, email=email, firstname=first, lastname=last)
        access.groups[group].members.append(userid)
    for full_id, comment in (("alice@pve!automation", "CI pipeline"), ("carol@pve!grafana", "Dashboards")):
        state.tokens.setdefault(full_id, Token(full_id, new_secret(state, full_id), privsep=1, comment=comment))
    state.acls.extend(
        [
            Acl("/", "admins", "group", "Administrator"),
            Acl("/", "auditors", "group", "PVEAuditor"),
            Acl("/vms", "operators", "group", "PVEVMUser"),
            Acl("/pool/production", "bob@pve", "user", "PVEVMAdmin"),
            Acl("/storage/local", "bob@pve", "user", "PVEDatastoreUser", propagate=0),
            Acl("/", "carol@pve!grafana", "token", "PVEAuditor"),
            Acl("/vms", "alice@pve!automation", "token", "PVEVMAdmin"),
        ]
    )
