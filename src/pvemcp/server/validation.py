"""Argument checking before anything runs: the tool's JSON Schema, then identifier safety.

Identifiers (node, storage, UPID, ...) end up in URL paths and, later, in command lines. A value
that could walk the path (`/`, `..`), start a query or fragment (`?`, `#`), smuggle an option
(leading `-`) or carry control characters is refused with TOOL_INPUT_REJECTED before any request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, ToolCallError

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@!=+,~-]*$")
MAX_IDENTIFIER = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def identifier_problem(value: str) -> str | None:
    """Why a string is unsafe as an identifier, or None when it is fine."""
    if not value:
        return "must not be empty"
    if len(value) > MAX_IDENTIFIER:
        return f"must be at most {MAX_IDENTIFIER} characters"
    if value.startswith("-"):
        return "must not start with '-'"
    if _CONTROL.search(value):
        return "must not contain control characters"
    if ".." in value:
        return "must not contain '..'"
    if not _IDENTIFIER.match(value):
        return "may only hold letters, digits and . _ : @ ! = + , ~ -"
    return None


def text_problem(value: str) -> str | None:
    if value.startswith("-"):
        return "must not start with '-'"
    if _CONTROL.search(value.replace("\n", "").replace("\t", "")):
        return "must not contain control characters"
    return None


def rejected(message: str, hint: str) -> ToolCallError:
    return ToolCallError(ErrorCode.TOOL_INPUT_REJECTED, message, hint)


class ArgumentValidator:
    """One compiled validator per tool, built at start-up."""

    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        self._validator = Draft202012Validator(spec.input_schema())
        self._text_params = {p.name: p.free_text for p in spec.all_params if p.type == "string"}

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        errors = sorted(self._validator.iter_errors(dict(arguments)), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = ".".join(str(p) for p in first.path) or "arguments"
            problems = "; ".join(f"{'.'.join(str(p) for p in e.path) or 'arguments'}: {e.message}" for e in errors[:5])
            raise rejected(
                f"Invalid arguments for {self.spec.name}: {problems}",
                f"Fix '{where}' to match the tool's input schema and call again.",
            )
        for name, free_text in self._text_params.items():
            value = arguments.get(name)
            if isinstance(value, str):
                problem = text_problem(value) if free_text else identifier_problem(value)
                if problem is None and value in (".", "..") and name in self.spec.placeholders:
                    problem = "must not be a dot segment"  # free text in a path (an IP set's cidr) must not walk it
                if problem:
                    raise rejected(
                        f"Invalid arguments for {self.spec.name}: {name} {problem} (got {value[:80]!r}).",
                        f"Pass the plain {name} as listed by Proxmox.",
                    )
        if self.spec.at_least_one and not any(arguments.get(n) is not None for n in self.spec.at_least_one):
            raise rejected(
                f"{self.spec.name} needs at least one of: {', '.join(self.spec.at_least_one)}.",
                "Pass the settings to change; the others stay as they are.",
            )
        if self.spec.only_one and sum(arguments.get(n) is not None for n in self.spec.only_one) != 1:
            raise rejected(
                f"{self.spec.name} takes exactly one of: {', '.join(self.spec.only_one)}.",
                "Pass one of them, not both and not neither.",
            )
        return dict(arguments)
