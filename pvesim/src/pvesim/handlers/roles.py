"""/access/roles: built-in roles, and custom roles created, changed and deleted as PVE does."""

from __future__ import annotations

from ..errors import fail, param_error
from ..params import FORMATS, flag, split_list, text
from ..routes import Call, Route
from ..state.access import ALL_PRIVILEGES, BUILTIN_ROLES

FORMATS["pve-priv"] = lambda v: None if v in ALL_PRIVILEGES else f"invalid privilege name '{v}'\n"
ROLEID = text("roleid", optional=False, format="pve-roleid")
PRIVS = text("privs", format="pve-priv-list")


def _privs(c: Call) -> tuple[str, ...]:
    return tuple(sorted(set(split_list(c.opt_text("privs") or ""))))


def create_role(c: Call) -> object:
    roleid = c.text("roleid")
    if roleid in c.state.roles:
        raise fail(f"create role failed: role '{roleid}' already exists")
    c.state.roles[roleid] = _privs(c)
    return None


def get_role(c: Call) -> object:
    roleid = c.text("roleid")
    if roleid not in c.state.roles:
        raise fail(f"role '{roleid}' does not exist")
    return dict.fromkeys(c.state.roles[roleid], 1)


def update_role(c: Call) -> object:
    roleid = c.text("roleid")
    if "append" in c.params and "privs" not in c.params:
        raise param_error({"append": "missing property - 'privs' is required by 'append'"})
    if roleid not in c.state.roles:
        raise fail(f"update role failed: role '{roleid}' does not exist")
    if roleid in BUILTIN_ROLES:
        raise fail(f"update role failed: cannot modify built-in role '{roleid}'")
    kept = set(c.state.roles[roleid]) if c.flag("append") else set()
    c.state.roles[roleid] = tuple(sorted(kept | set(_privs(c))))
    return None


def delete_role(c: Call) -> object:
    """Removing a role also removes every ACL entry that grants it, as PVE does."""
    roleid = c.text("roleid")
    if roleid not in c.state.roles:
        raise fail(f"delete role failed: role '{roleid}' does not exist")
    if roleid in BUILTIN_ROLES:
        raise fail(f"delete role failed: cannot delete built-in role '{roleid}'")
    del c.state.roles[roleid]
    c.state.acls[:] = [a for a in c.state.acls if a.roleid != roleid]
    return None


def list_roles(c: Call) -> object:
    return [
        {"roleid": role, "privs": ",".join(privs), "special": 1 if role in BUILTIN_ROLES else 0}
        for role, privs in sorted(c.state.roles.items())
    ]


ROLE_ROUTES: tuple[Route, ...] = (
    Route("GET", "/access/roles", (), list_roles),
    Route("POST", "/access/roles", (ROLEID, PRIVS), create_role),
    Route("GET", "/access/roles/{roleid}", (ROLEID,), get_role),
    Route("PUT", "/access/roles/{roleid}", (ROLEID, PRIVS, flag("append")), update_role),
    Route("DELETE", "/access/roles/{roleid}", (ROLEID,), delete_role),
)
