"""/access: users, API tokens, groups, roles, realms, ACL entries and effective permissions."""

from __future__ import annotations

import re

from ..errors import fail, param_error
from ..params import FORMATS, flag, integer, split_list, text
from ..routes import Call, Route
from ..state.access import SUPERUSER
from ..state.permissions import effective_permissions, permissions
from ..state.records import Acl, Token, User
from .roles import ROLE_ROUTES

_USER = re.compile(r"^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$")
_TOKEN = re.compile(r"^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$")
_ID = re.compile(r"^[A-Za-z0-9.\-_]+$")
_ACL_PATH = re.compile(
    r"^(/|/access|/access/groups|/access/groups/[\w.\-]+|/access/realm|/access/realm/[\w.\-]+|/nodes"
    r"|/nodes/[\w.\-]+|/pool|/pool/[\w.\-]+|/sdn|/sdn/zones/[\w.\-]+(/[\w.\-]+(/\d+)?)?|/sdn/vnets/[\w.\-]+"
    r"|/storage|/storage/[\w.\-]+|/vms|/vms/[1-9][0-9]{2,}|/mapping|/mapping/(dir|notifications|pci|usb)"
    r"|/mapping/(dir|notifications|pci|usb)/[\w.\-]+)$"
)


def _userid(value: str) -> str | None:
    if len(value) < 3:
        return f"user name '{value}' is too short\n"
    return (
        None if _USER.match(value) and len(value) <= 64 else f"value '{value}' does not look like a valid user name\n"
    )


# Formats the access API declares, registered as PVE modules register theirs.
FORMATS.update(
    {
        "pve-userid": _userid,
        "pve-groupid": lambda v: None if _ID.match(v) else f"group name '{v}' contains invalid characters\n",
        "pve-roleid": lambda v: None if _ID.match(v) else f"role name '{v}' contains invalid characters\n",
        "pve-tokenid": lambda v: None if _TOKEN.match(v) else f"value '{v}' does not look like a valid token ID\n",
    }
)
USERID = text("userid", optional=False, format="pve-userid", max_length=64)
TOKENID = text("tokenid", optional=False, pattern=r"(?^:[A-Za-z][A-Za-z0-9\.\-_]+)")
USER_FIELDS = (
    text("comment", max_length=2048),
    text("email", format="email-opt", max_length=254),
    flag("enable"),
    integer("expire", minimum=0),
    text("firstname", max_length=1024),
    text("groups", format="pve-groupid-list"),
    text("keys", pattern="[0-9a-zA-Z!=]{0,4096}"),
    text("lastname", max_length=1024),
)


def _user_or_fail(c: Call, userid: str, action: str) -> User:
    user = c.state.users.get(userid)
    if user is None:
        raise fail(f"{action} failed: no such user ('{userid}')")
    return user


def _user_entry(c: Call, user: User, *, full: bool) -> dict[str, object]:
    entry: dict[str, object] = {"userid": user.userid, "enable": user.enable, "expire": user.expire}
    for key in ("firstname", "lastname", "email", "comment"):
        if value := getattr(user, key):
            entry[key] = value
    realm = c.state.access.realms.get(user.userid.rsplit("@", 1)[1])
    if realm is not None:
        entry["realm-type"] = realm.type
    if full:
        entry["groups"] = ",".join(c.state.access.groups_of(user.userid))
        entry["tokens"] = _token_entries(c, user.userid)
    return entry


def _token_entries(c: Call, userid: str) -> list[dict[str, object]]:
    entries = []
    for full_id, token in sorted(c.state.tokens.items()):
        owner, _, name = full_id.partition("!")
        if owner == userid:
            entry: dict[str, object] = {"tokenid": name, "expire": token.expire, "privsep": token.privsep}
            if token.comment:
                entry["comment"] = token.comment
            entries.append(entry)
    return entries


def list_users(c: Call) -> object:
    enabled = c.params.get("enabled")
    users = sorted(c.state.users.values(), key=lambda u: u.userid)
    full = c.flag("full")
    return [_user_entry(c, u, full=full) for u in users if enabled is None or bool(u.enable) == bool(enabled)]


def _check_groups(c: Call, action: str) -> list[str]:
    groups = split_list(c.opt_text("groups") or "")
    for group in groups:
        if group not in c.state.access.groups:
            raise fail(f"{action} failed: no such group '{group}'")
    return groups


def _apply_fields(c: Call, user: User) -> None:
    for key in ("comment", "email", "firstname", "lastname"):
        if (value := c.opt_text(key)) is not None:
            setattr(user, key, value)
    if "enable" in c.params:
        user.enable = int(c.flag("enable"))
    if (expire := c.opt_int("expire")) is not None:
        user.expire = expire


def create_user(c: Call) -> object:
    userid = c.text("userid")
    password = c.opt_text("password")
    if password is not None and len(password) < 8:
        raise param_error({"password": "value must be at least 8 characters long"})
    if userid in c.state.users:
        raise fail(f"create user failed: user '{userid}' already exists")
    realm = userid.rsplit("@", 1)[1]
    if realm not in c.state.access.realms:
        raise fail(f"create user failed: domain '{realm}' does not exist")
    groups = _check_groups(c, "create user")
    user = User(userid)
    _apply_fields(c, user)
    c.state.users[userid] = user
    for group in groups:
        c.state.access.groups[group].members.append(userid)
    return None


def update_user(c: Call) -> object:
    userid = c.text("userid")
    user = _user_or_fail(c, userid, "update user")
    if "append" in c.params and "groups" not in c.params:
        raise param_error({"append": "missing property - 'groups' is required by 'append'"})
    groups = _check_groups(c, "update user") if "groups" in c.params else None
    _apply_fields(c, user)
    if groups is not None:
        for group in c.state.access.groups.values():
            if userid in group.members and not c.flag("append"):
                group.members.remove(userid)
            if group.groupid in groups and userid not in group.members:
                group.members.append(userid)
    return None


def delete_user(c: Call) -> object:
    userid = c.text("userid")
    _user_or_fail(c, userid, "delete user")
    del c.state.users[userid]
    for group in c.state.access.groups.values():
        if userid in group.members:
            group.members.remove(userid)
    owned = {t for t in c.state.tokens if t.partition("!")[0] == userid}
    for full_id in owned:
        del c.state.tokens[full_id]
    c.state.acls[:] = [a for a in c.state.acls if a.ugid != userid and a.ugid not in owned]
    return None


def list_tokens(c: Call) -> object:
    userid = c.text("userid")
    _user_or_fail(c, userid, "get tokens")
    return _token_entries(c, userid)


def create_token(c: Call) -> object:
    """The secret appears in this answer only; PVE keeps a hash and never shows it again."""
    userid, name = c.text("userid"), c.text("tokenid")
    user = _user_or_fail(c, userid, "generating token")
    full_id = f"{userid}!{name}"
    if full_id in c.state.tokens:
        raise fail("generating token failed: Token already exists.")
    privsep = int(c.params.get("privsep", 1))
    expire = c.opt_int("expire", user.expire) or 0
    token = Token(
        full_id,
        c.state.access.new_secret(c.state.cluster_name, full_id),
        privsep=privsep,
        expire=expire,
        comment=c.opt_text("comment") or "",
    )
    c.state.tokens[full_id] = token
    info: dict[str, object] = {"privsep": privsep, "expire": expire}
    if token.comment:
        info["comment"] = token.comment
    return {"full-tokenid": full_id, "info": info, "value": token.secret}


def delete_token(c: Call) -> object:
    userid, name = c.text("userid"), c.text("tokenid")
    _user_or_fail(c, userid, "deleting token")
    full_id = f"{userid}!{name}"
    if full_id not in c.state.tokens:
        raise fail(f"deleting token failed: no such token '{name}' for user '{userid}'")
    del c.state.tokens[full_id]
    c.state.acls[:] = [a for a in c.state.acls if a.ugid != full_id]
    return None


def get_user(c: Call) -> object:
    user = _user_or_fail(c, c.text("userid"), "get user")
    entry = _user_entry(c, user, full=False)
    del entry["userid"]
    entry.pop("realm-type", None)
    entry["groups"] = c.state.access.groups_of(user.userid)
    tokens = {str(t.pop("tokenid")): t for t in _token_entries(c, user.userid)}
    if tokens:
        entry["tokens"] = tokens
    return entry


def _token_or_fail(c: Call) -> tuple[str, Token]:
    userid, name = c.text("userid"), c.text("tokenid")
    _user_or_fail(c, userid, "get token")
    token = c.state.tokens.get(f"{userid}!{name}")
    if token is None:
        raise fail(f"no such token '{name}' for user '{userid}'")
    return f"{userid}!{name}", token


def _token_info(token: Token) -> dict[str, object]:
    info: dict[str, object] = {"privsep": token.privsep, "expire": token.expire}
    if token.comment:
        info["comment"] = token.comment
    return info


def get_token(c: Call) -> object:
    return _token_info(_token_or_fail(c)[1])


def update_token(c: Call) -> object:
    """PVE answers with the token's settings, plus the new secret (once) when asked to regenerate it."""
    full_id, token = _token_or_fail(c)
    for key in split_list(c.opt_text("delete") or ""):
        if key == "comment":
            token.comment = ""
    if (comment := c.opt_text("comment")) is not None:
        token.comment = comment
    if (expire := c.opt_int("expire")) is not None:
        token.expire = expire
    if "privsep" in c.params:
        token.privsep = int(c.flag("privsep"))
    info = _token_info(token)
    if c.flag("regenerate"):
        token.secret = c.state.access.new_secret(c.state.cluster_name, full_id)
        info.update({"full-tokenid": full_id, "value": token.secret})
    return info


def list_groups(c: Call) -> object:
    items = []
    for group in sorted(c.state.access.groups.values(), key=lambda g: g.groupid):
        entry: dict[str, object] = {"groupid": group.groupid, "users": ",".join(sorted(group.members))}
        if group.comment:
            entry["comment"] = group.comment
        items.append(entry)
    return items


def list_acl(c: Call) -> object:
    order = {"group": 0, "token": 1, "user": 2}
    acls = sorted(c.state.acls, key=lambda a: (a.path, order.get(a.type, 3), a.ugid, a.roleid))
    return [
        {"path": a.path, "type": a.type, "ugid": a.ugid, "roleid": a.roleid, "propagate": a.propagate} for a in acls
    ]


def _normalize(path: str) -> str | None:
    path = re.sub("/+", "/", path).rstrip("/") or "/"
    path = path if path.startswith("/") else "/" + path
    return path if re.fullmatch(r"[\w.\-/]+", path) and _ACL_PATH.match(path) else None


def update_acl(c: Call) -> object:
    """Checks everything first and then writes, as PVE writes user.cfg once at the end."""
    raw_path = c.text("path")
    path = _normalize(raw_path)
    if path is None:
        raise param_error({"path": f"invalid ACL path '{raw_path}'"})
    subjects = {
        kind: split_list(c.opt_text(name) or "")
        for kind, name in (("group", "groups"), ("user", "users"), ("token", "tokens"))
    }
    if not any(subjects.values()):
        raise param_error(
            dict.fromkeys(("users", "groups", "tokens"), "either 'users', 'groups' or 'tokens' is required.")
        )
    state = c.state
    roles = split_list(c.text("roles"))
    for role in roles:
        if role not in state.roles:
            raise fail(f"ACL update failed: role '{role}' does not exist")
    for group in subjects["group"]:
        if group not in state.access.groups:
            raise fail(f"ACL update failed: group '{group}' does not exist")
    for userid in subjects["user"]:
        if userid not in state.users:
            raise fail(f"ACL update failed: user '{userid}' does not exist")
    for tokenid in subjects["token"]:
        if tokenid not in state.tokens:
            user, _, name = tokenid.partition("!")
            raise fail(f"ACL update failed: no such token '{name}' for user '{user}'")
    propagate = int(c.params.get("propagate", 1))
    for kind, ugids in subjects.items():
        for ugid in ugids:
            for role in roles:
                state.acls[:] = [
                    a for a in state.acls if (a.path, a.type, a.ugid, a.roleid) != (path, kind, ugid, role)
                ]
                if not c.flag("delete"):
                    state.acls.append(Acl(path, ugid, kind, role, propagate))
    return None


def list_domains(c: Call) -> object:
    return [{"realm": r.realm, "type": r.type, "comment": r.comment} for r in c.state.access.realms.values()]


def _may_read_permissions_of(c: Call, subject: str) -> bool:
    """Anyone may read their own permissions and those of their tokens; others need Sys.Audit on /access."""
    caller = c.ctx.user
    caller_user = caller.partition("!")[0]
    if subject == caller or (subject.partition("!")[0] == caller and "!" in subject):
        return True
    if "!" not in caller and subject.partition("!")[0] == caller_user:
        return True
    return caller_user == SUPERUSER or "Sys.Audit" in permissions(c.state, caller, "/access")


def get_permissions(c: Call) -> object:
    subject = c.opt_text("userid") or c.ctx.user
    if not _may_read_permissions_of(c, subject):
        raise fail("Permission check failed (/access, Sys.Audit)", 403)
    path = c.opt_text("path")
    if path:
        return {path: dict(sorted(permissions(c.state, subject, path).items()))}
    return effective_permissions(c.state, subject)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/access/users", (flag("enabled"), flag("full")), list_users),
    Route("POST", "/access/users", (USERID, *USER_FIELDS, text("password", max_length=64)), create_user),
    Route("PUT", "/access/users/{userid}", (USERID, *USER_FIELDS, flag("append")), update_user),
    Route("DELETE", "/access/users/{userid}", (USERID,), delete_user),
    Route("GET", "/access/users/{userid}/token", (USERID,), list_tokens),
    Route(
        "POST",
        "/access/users/{userid}/token/{tokenid}",
        (USERID, TOKENID, text("comment"), integer("expire", minimum=0), flag("privsep")),
        create_token,
    ),
    Route("DELETE", "/access/users/{userid}/token/{tokenid}", (USERID, TOKENID), delete_token),
    Route("GET", "/access/users/{userid}", (USERID,), get_user),
    Route("GET", "/access/users/{userid}/token/{tokenid}", (USERID, TOKENID), get_token),
    Route(
        "PUT",
        "/access/users/{userid}/token/{tokenid}",
        (
            USERID,
            TOKENID,
            text("comment"),
            text("delete", format="pve-configid-list"),
            integer("expire", minimum=0),
            flag("privsep"),
            flag("regenerate"),
        ),
        update_token,
    ),
    *ROLE_ROUTES,
    Route("GET", "/access/groups", (), list_groups),
    Route("GET", "/access/acl", (), list_acl),
    Route(
        "PUT",
        "/access/acl",
        (
            text("path", optional=False),
            text("roles", optional=False, format="pve-roleid-list"),
            text("users", format="pve-userid-list"),
            text("groups", format="pve-groupid-list"),
            text("tokens", format="pve-tokenid-list"),
            flag("propagate"),
            flag("delete"),
        ),
        update_acl,
    ),
    Route("GET", "/access/domains", (), list_domains),
    Route(
        "GET",
        "/access/permissions",
        (
            text("path"),
            text(
                "userid",
                pattern=r"(?^:^(?^:[^\s:/]+)\@(?^:[A-Za-z][A-Za-z0-9\.\-_]+)(?:!(?^:[A-Za-z][A-Za-z0-9\.\-_]+))?$)",
            ),
        ),
        get_permissions,
    ),
)
