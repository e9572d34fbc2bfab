"""The raw API's path and parameters (pve_api_get, pve_api_call): their shape.

A raw call names its endpoint as an argument, so nothing in the catalog vouches for it. The path must
look like a Proxmox API path (segments of safe characters; no `..`, empty segment, query, fragment,
percent-escape, whitespace, absolute URL or `/api2` prefix), and the parameters' values must be
strings, integers or booleans. What the path and parameters name is read by server/reach.py
(writes by the endpoint table in server/raw_table.py) and checked by server/guard.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.errors import ErrorCode, ToolCallError

MAX_PATH = 1024
MAX_PARAMS = 100
SEGMENT = re.compile(r"[A-Za-z0-9._:@!+=-]+")
PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(?:\[n\])?")

HINT = "Pass a Proxmox API path such as /nodes/pve1/qemu/100/config, without /api2/json, query or fragment."


def rejected(message: str, hint: str = HINT) -> ToolCallError:
    return ToolCallError(ErrorCode.TOOL_INPUT_REJECTED, message, hint)


def path_problem(path: str) -> str | None:
    """Why `path` is not a Proxmox API path, or None when it is one."""
    if not path.startswith("/"):
        return "must start with '/'"
    if path.startswith("//") or "://" in path:
        return "must be a path on this cluster, not a URL"
    if len(path) > MAX_PATH:
        return f"must be at most {MAX_PATH} characters"
    segments = path[1:].split("/")
    if segments[0] == "api2":
        return "must not start with /api2: name the path below /api2/json"
    for segment in segments:
        if not segment:
            return "must not hold empty segments ('//' or a trailing '/')"
        if set(segment) == {"."}:
            return "must not hold '.' or '..' segments"
        if not SEGMENT.fullmatch(segment):
            bad = next(c for c in segment if not SEGMENT.fullmatch(c))
            return f"may only hold letters, digits and . _ : @ ! + = - between slashes (found {bad!r})"
    return None


def checked_path(path: str) -> list[str]:
    """The path's segments; TOOL_INPUT_REJECTED when it is not a Proxmox API path."""
    problem = path_problem(path)
    if problem is not None:
        raise rejected(f"path {problem} (got {path[:80]!r}).")
    return path[1:].split("/")


def checked_params(params: Any) -> dict[str, Any]:
    """The request's parameters: names as Proxmox spells them, each value a string, an integer or a boolean.

    Floats (NaN and Infinity among them), lists and objects are refused: the wire would turn 106.0 into 106
    and ["1"] into 1, so a value must already be what Proxmox will read. So are non-ASCII digits, which a
    digit check may read as a number.
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise rejected("params must be an object.", "Pass params as {name: value}.")
    if len(params) > MAX_PARAMS:
        raise rejected(f"params may hold at most {MAX_PARAMS} entries.", "Split the request.")
    hint = "Pass params as {name: value} with Proxmox's parameter names; lists as comma-separated strings."
    for name, value in params.items():
        if not PARAM_NAME.fullmatch(name):
            raise rejected(f"params: {name[:80]!r} is not a Proxmox parameter name.", hint)
        if not isinstance(value, str | int):  # bool is an int
            kind = "a list" if isinstance(value, list) else type(value).__name__
            raise rejected(f"params.{name} must be a string, an integer or a boolean, not {kind}.", hint)
        if isinstance(value, str) and has_control(value):
            raise rejected(f"params.{name} must not contain control characters.", hint)
        if isinstance(value, str) and any(c.isdecimal() and not c.isascii() for c in value):
            raise rejected(f"params.{name} must not contain non-ASCII digits.", hint)
    return dict(params)


def has_control(text: str) -> bool:
    """Control characters other than newline and tab (descriptions and scripts may span lines)."""
    return any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in text)


def method_of(spec: ToolSpec, args: Mapping[str, Any]) -> str:
    return str(args.get("method") or spec.method)


def raw_request(spec: ToolSpec, args: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(method, path, params) of a raw call, checked."""
    path = str(args.get("path", ""))
    checked_path(path)
    return method_of(spec, args), path, checked_params(args.get("params"))
