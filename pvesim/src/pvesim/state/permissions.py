"""Effective permissions, following PVE's ACL walk over the whole cluster.

The deepest matching entry wins, token entries over user entries over group entries, NoAccess
over all; a pool's ACL lends its roles to the guests and storages in it.
"""

from __future__ import annotations

from .access import SUPERUSER, TOP_PATHS
from .cluster import ClusterState


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
