"""Argument checking before anything runs: the tool's JSON Schema, then identifier safety.

Identifiers (node, storage, UPID, ...) end up in URL paths and, later, in command lines. A value
that could walk the path (`/`, `..`), start a query or fragment (`?`, `#`), smuggle an option
(leading `-`) or carry control characters is refused with TOOL_INPUT_REJECTED before any request.
So are numbers JSON cannot carry (NaN, Infinity: Python's parser lets them through) and a GET's or
DELETE's parameters too long for a URL's query string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, ToolCallError
from pvemcp.server.call import wire_params

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@!=+,~-]*$")
MAX_IDENTIFIER = 256
MAX_PATH_TEXT = 1024  # free text that fills a path segment (a volume ID, an IP set's cidr)
QUERY_METHODS = frozenset({"GET", "DELETE"})  # their parameters travel in the URL
QUERY_HINT = "Shorten the longest values, or ask for less in one call: these parameters travel in the request URL."
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


def check_query(tool: str, pairs: wire.WireParams) -> None:
    """TOOL_INPUT_REJECTED when encoded GET/DELETE parameters (wire.encode_params) would not fit in a URL."""
    problem = wire.query_problem(pairs)
    if problem is not None:
        raise rejected(f"Invalid arguments for {tool}: {problem}.", QUERY_HINT)


def non_finite(value: Any, where: str) -> str | None:
    """The first NaN or infinite number in an argument (at any depth), named by its place, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} must be a finite number (got {value})"
    if isinstance(value, Mapping):
        return next(filter(None, (non_finite(v, f"{where}.{k}") for k, v in value.items())), None)
    if isinstance(value, list | tuple):
        return next(filter(None, (non_finite(v, f"{where}[{i}]") for i, v in enumerate(value))), None)
    return None


class ArgumentValidator:
    """One validator per tool; its JSON Schema validator is built at the tool's first call.

    Importing jsonschema and compiling every schema would delay the first tools/list of every start.
    """

    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        self._schema: Draft202012Validator | None = None
        self._text_params = {p.name: p.free_text for p in spec.all_params if p.type == "string"}
        self._integers = {p.name for p in spec.all_params if p.type == "integer"}

    @property
    def _validator(self) -> Draft202012Validator:
        if self._schema is None:
            from jsonschema import Draft202012Validator

            self._schema = Draft202012Validator(self.spec.input_schema())
        return self._schema

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        problem = next(filter(None, (non_finite(v, k) for k, v in arguments.items())), None)
        if problem:
            raise rejected(f"Invalid arguments for {self.spec.name}: {problem}.", "Pass a plain finite number.")
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
                if problem is None and name in self.spec.placeholders and free_text:
                    if value in (".", ".."):
                        problem = "must not be a dot segment"  # free text in a path (an IP set's cidr) must not walk it
                    elif len(value) > MAX_PATH_TEXT:
                        problem = f"must be at most {MAX_PATH_TEXT} characters"
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
        self._check_query(arguments)
        # JSON Schema counts 106.0 as an integer; scope, paging cursors and handlers then see the int 106.
        return {k: int(v) if k in self._integers and isinstance(v, float) else v for k, v in arguments.items()}

    def _check_query(self, arguments: Mapping[str, Any]) -> None:
        spec = self.spec
        if spec.raw:
            method, params = str(arguments.get("method") or spec.method), arguments.get("params")
            sent = dict(params) if isinstance(params, Mapping) else {}  # its shape is rawpath's to judge
        elif spec.api and not spec.ssh:  # an SSH tool's GET is a placeholder: nothing travels as a query
            method, sent = spec.method, wire_params(spec, arguments)
        else:
            return
        if method in QUERY_METHODS:
            check_query(spec.name, wire.encode_params(sent))
