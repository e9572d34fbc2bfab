"""Proxmox's permission check, before every handler, and the filtering of what open endpoints return.

Each route's rule comes from facts/table.py (the official schema's words); it is evaluated as
PVE::RPCEnvironment evaluates it (check_api2_permissions, exec_api2_perm_check) on the ACL walk of
state/permissions.py, with the request's raw parameters filling the path templates. A refusal is
Proxmox's own: 403 "Permission check failed (/vms/103, VM.PowerMgmt)", naming the path and the
privilege (`A|B` when any one would do). root@pam, and a token of root@pam without privilege
separation, hold every privilege, so they skip the walk (the sandbox's default token is one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache

from .errors import ApiError, fail
from .facts.rules import (
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
    parse_rule,
)
from .facts.table import rule_for
from .params import split_list
from .routes import RawJSON, Reply
from .state.access import SUPERUSER
from .state.cluster import ClusterState
from .state.permissions import PoolPaths, permissions, pool_paths

_PLACEHOLDER = re.compile(r"\{([^}]+)\}")
# Open listings whose rows PVE filters by more than the one rule the endpoint's description names.
ROW_RULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/cluster/resources"): (
        "perm(/vms/{vmid}, [VM.Audit])",
        "perm(/storage/{storage}, [Datastore.Audit, Datastore.AllocateSpace], any)",
    ),
    ("GET", "/access/acl"): ("perm-modify({path})",),
}


def denied(what: str = "") -> ApiError:
    """raise_perm_exc: PVE's 403, with the path and privilege when the check names them."""
    return ApiError(403, f"Permission check failed ({what})\n" if what else "Permission check failed\n")


def all_powerful(state: ClusterState, caller: str) -> bool:
    """root@pam, or a token of root@pam sharing its privileges: every check passes."""
    if caller == SUPERUSER:
        return True
    token = state.tokens.get(caller)
    return token is not None and not token.privsep and caller.partition("!")[0] == SUPERUSER


def fill(template: str, values: Mapping[str, object]) -> str:
    """PVE::Tools::template_replace then normalize_path: a missing value becomes '-'."""
    path = _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1)) or "-"), template)
    path = re.sub("/+", "/", "/" + path).rstrip("/")
    return path or "/"


class Checker:
    """One caller's privileges, looked up per ACL path once per request."""

    def __init__(self, state: ClusterState, caller: str) -> None:
        self.state = state
        self.caller = caller
        self._pools: PoolPaths | None = None
        self._held: dict[str, dict[str, int]] = {}

    def held(self, path: str) -> dict[str, int]:
        if path not in self._held:
            if self._pools is None:
                self._pools = pool_paths(self.state)
            self._held[path] = permissions(self.state, self.caller, path, self._pools)
        return self._held[path]

    def check(self, path: str, privs: tuple[str, ...], any_of: bool, noerr: bool) -> bool:
        """RPCEnvironment::check (every privilege) or check_any (one of them)."""
        held = self.held(path)
        if any_of:
            if any(p in held for p in privs):
                return True
            if noerr:
                return False
            raise denied(f"{path}, {'|'.join(privs)}")
        for priv in privs:
            if priv not in held:
                if noerr:
                    return False
                raise denied(f"{path}, {priv}")
        return True

    def run(self, rule: Rule, params: Mapping[str, object], noerr: bool = False) -> bool:
        """exec_api2_perm_check: True when allowed; raises the 403 unless `noerr`."""
        if isinstance(rule, UserAll | World):
            return True
        if isinstance(rule, RootOnly):
            if self.caller == SUPERUSER or noerr:
                return self.caller == SUPERUSER
            raise denied(f"user != {SUPERUSER}")
        if isinstance(rule, AllOf):
            return all(self.run(part, params, noerr) for part in rule.rules)
        if isinstance(rule, AnyOf):
            if any(self.run(part, params, True) for part in rule.rules):
                return True
            if noerr:
                return False
            raise denied()
        if isinstance(rule, Perm):
            if rule.require_param and params.get(rule.require_param) is None:
                if noerr:
                    return False
                raise denied()
            return self.check(fill(rule.path, params), rule.privs, rule.any, noerr)
        if isinstance(rule, PermModify):
            return self._perm_modify(fill(rule.path, params) if params.get("path") else "", noerr)
        if isinstance(rule, UserIdParam):
            return self._userid_param(rule, str(params.get("userid") or ""), noerr)
        return self._userid_group(rule, params, noerr)

    def _user_exists(self, userid: str, noerr: bool) -> bool:
        if userid in self.state.users:
            return True
        if noerr:
            return False
        raise fail(f"no such user ('{userid}')")

    def _userid_param(self, rule: UserIdParam, userid: str, noerr: bool) -> bool:
        if rule.priv == "self":
            if not self._user_exists(userid, noerr):
                return False
            if self.caller == userid or noerr:
                return self.caller == userid
            raise denied()
        realm = userid.rpartition("@")[2]
        return self.check(f"/access/realm/{realm}", (rule.priv,), False, noerr)

    def _userid_group(self, rule: UserIdGroup, params: Mapping[str, object], noerr: bool) -> bool:
        userid = str(params.get("userid") or "")
        existing = rule.groups_param != "create"
        if existing and not self._user_exists(userid, noerr):
            return False
        if self.check("/access/groups", rule.privs, True, True):
            return True
        wanted = "|".join(rule.privs)
        groups = {g for g in self.state.access.groups if self.check(f"/access/groups/{g}", rule.privs, True, True)}
        if rule.groups_param:
            named = split_list(str(params.get("groups") or ""))
            if not named:
                raise denied(f"/access/groups, {wanted}")
            for group in named:
                if group not in groups:
                    raise denied(f"/access/groups/{group}, {wanted}")
        if existing and not any(userid in self.state.access.groups[g].members for g in groups):
            if noerr:
                return False
            raise denied()
        return True

    def _perm_modify(self, path: str, noerr: bool) -> bool:
        """check_perm_modify: Permissions.Modify, or the allocation privilege of the object's kind."""
        if not path:
            return self.check("/access", ("Permissions.Modify",), False, noerr)
        privs = ["Permissions.Modify"]
        for prefix, priv in (
            ("/storage/", "Datastore.Allocate"),
            ("/vms/", "VM.Allocate"),
            ("/pool/", "Pool.Allocate"),
        ):
            if path.startswith(prefix):
                privs.append(priv)
        return self.check(path, tuple(privs), True, noerr)


def authorize(state: ClusterState, caller: str, method: str, route: str, params: Mapping[str, object]) -> None:
    """Raise Proxmox's 403 when the caller may not call this route with these parameters."""
    if all_powerful(state, caller):
        return
    try:
        rule = rule_for(method, route)
    except KeyError:
        rule = RootOnly()  # a method without a permissions block is root's alone
    if isinstance(rule, RootOnly):
        raise denied(f"user != {SUPERUSER}")
    Checker(state, caller).run(rule, params)


def visible(
    state: ClusterState, caller: str, method: str, route: str, values: Mapping[str, object], result: object
) -> object:
    """An open listing's rows, as far as the caller may see them (rows the rules do not name stay)."""
    if method != "GET" or all_powerful(state, caller):
        return result
    rules = _row_rules(method, route)
    if not rules:
        return result
    data = result.data if isinstance(result, Reply) else result
    if isinstance(data, RawJSON):
        data = json.loads(data.text)
    if not isinstance(data, list):
        return result
    checker = Checker(state, caller)
    kept = [row for row in data if not isinstance(row, dict) or _may_see(checker, rules, values, row)]
    if isinstance(result, Reply):
        return Reply(kept, len(kept) if result.total is not None else None, result.changes)
    return kept


@cache
def _row_rules(method: str, route: str) -> tuple[Rule, ...]:
    if (method, route) in ROW_RULES:
        return tuple(parse_rule(text) for text in ROW_RULES[(method, route)])
    rule = rule_for(method, route)
    return (rule.useful,) if isinstance(rule, UserAll) and rule.useful is not None else ()


def _may_see(checker: Checker, rules: tuple[Rule, ...], values: Mapping[str, object], row: dict[str, object]) -> bool:
    if row.get("user") == checker.caller or row.get("userid") == checker.caller.partition("!")[0]:
        return True  # its own tasks, its own user
    merged = {**values, **{k: v for k, v in row.items() if v is not None}}
    for rule in rules:
        if all(name in merged for name in _names(rule)) and not checker.run(rule, merged, noerr=True):
            return False
    return True


def _names(rule: Rule) -> set[str]:
    """The placeholders a rule's paths name: a row that fills none of them is not about it."""
    if isinstance(rule, AllOf | AnyOf):
        return set().union(*(_names(part) for part in rule.rules))
    if isinstance(rule, Perm | PermModify):
        return set(_PLACEHOLDER.findall(rule.path))
    return set()
