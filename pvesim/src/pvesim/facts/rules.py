"""Proxmox's permission rules as a small tree, and the parser for the notation its API schema uses.

`perm(/vms/{vmid}, [VM.PowerMgmt])`, `and(...)`, `or(...)`, `userid-param(self)`, `userid-group([...])`,
`perm-modify({path})`, `user=all` and `user=world` each become one node of the tree, which the simulator
evaluates against its ACLs and which a client can read to say what a call needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Perm:
    """Privileges on an ACL path (a template: `/vms/{vmid}`); `any`: one of them is enough."""

    path: str
    privs: tuple[str, ...]
    any: bool = False
    require_param: str | None = None  # counts only when the request names this parameter


@dataclass(frozen=True, slots=True)
class AllOf:
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class UserAll:
    """Any authenticated user may call it; `useful` is what the results or the action depend on."""

    useful: Rule | None = None


@dataclass(frozen=True, slots=True)
class World:
    """Even unauthenticated callers (the realm list for the login box)."""


@dataclass(frozen=True, slots=True)
class RootOnly:
    """Only root@pam; no ACL grants it."""


@dataclass(frozen=True, slots=True)
class UserIdParam:
    """`userid-param(self)`: the caller's own user; otherwise a privilege on the user's realm."""

    priv: str


@dataclass(frozen=True, slots=True)
class UserIdGroup:
    """`userid-group([...])`: privileges on /access/groups (or on a group the user belongs to)."""

    privs: tuple[str, ...]
    any: bool = True
    groups_param: str | None = None  # create/update: the request's `groups` must be groups the caller may use


@dataclass(frozen=True, slots=True)
class PermModify:
    """`perm-modify({path})`: the right to change permissions on the ACL path being changed."""

    path: str


Rule = Perm | AllOf | AnyOf | UserAll | World | RootOnly | UserIdParam | UserIdGroup | PermModify


class RuleSyntaxError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(\(|\)|\[|\]|,|;|[^\s()\[\],;]+)")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip():
                raise RuleSyntaxError(text)
            break
        out.append(match.group(1))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items = _tokens(text)
        self.at = 0

    def peek(self) -> str:
        return self.items[self.at] if self.at < len(self.items) else ""

    def take(self, expected: str | None = None) -> str:
        item = self.peek()
        if not item or (expected is not None and item != expected):
            raise RuleSyntaxError(f"{self.text!r}: expected {expected or 'more'} at {item!r}")
        self.at += 1
        return item

    def names(self) -> tuple[str, ...]:
        self.take("[")
        found: list[str] = []
        while self.peek() != "]":
            found.append(self.take())
            if self.peek() == ",":
                self.take(",")
        self.take("]")
        return tuple(found)

    def options(self) -> dict[str, str]:
        found: dict[str, str] = {}
        while self.peek() == ",":
            self.take(",")
            key, _, value = self.take().partition("=")
            found[key] = value
        return found

    def rule(self) -> Rule:
        head = self.take()
        if head == "user=all":
            return UserAll()
        if head == "user=world":
            return World()
        if head == "user=root":
            return RootOnly()
        self.take("(")
        rule: Rule
        if head in ("and", "or"):
            parts = [self.rule()]
            while self.peek() == ",":
                self.take(",")
                parts.append(self.rule())
            rule = AllOf(tuple(parts)) if head == "and" else AnyOf(tuple(parts))
        elif head == "perm":
            path = self.take()
            self.take(",")
            privs = self.names()
            opts = self.options()
            rule = Perm(path, privs, any="any" in opts, require_param=opts.get("require_param") or None)
        elif head == "userid-param":
            rule = UserIdParam(self.take())
        elif head == "userid-group":
            privs = self.names()
            rule = UserIdGroup(privs, groups_param=self.options().get("groups_param") or None)
        elif head == "perm-modify":
            rule = PermModify(self.take())
        else:
            raise RuleSyntaxError(f"{self.text!r}: unknown rule {head!r}")
        self.take(")")
        return rule


def parse_rule(text: str) -> Rule:
    """Parse one rule in Proxmox's notation; `a ; user=all` (a check on an open endpoint) is `a`."""
    checks = [part.strip() for part in text.split(";") if part.strip() and part.strip() != "user=all"]
    if not checks:
        return UserAll() if text.strip() else World()
    parser = _Parser(checks[0])
    rule = parser.rule()
    if parser.peek():
        raise RuleSyntaxError(f"{text!r}: trailing {parser.peek()!r}")
    return rule
