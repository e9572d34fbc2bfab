"""Parameter declarations and checking, following PVE::JSONSchema's rules and wording.

Query and form values arrive as strings; JSON bodies may carry numbers and booleans.
Checks run in PVE's order (type, format, pattern, length, range, enum) and stop at the
first failure for a parameter; all parameters are checked before one 400 is raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import param_error

ParamType = Literal["string", "integer", "boolean", "number", "array"]
Value = str | int | float

_INTEGER_RE = re.compile(r"^[+-]?\d+$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$")
_LIST_SPLIT_RE = re.compile(r"[,;\s\x00]+")
_INDEXED_RE = re.compile(r"^([a-z]+)(\d+)$")

MISSING = "property is missing and it is not optional"
UNKNOWN = "property is not defined in schema and the schema does not allow additional properties"


@dataclass(frozen=True, slots=True)
class Param:
    """One declared parameter, with the same facts the official schema states."""

    name: str
    type: ParamType
    optional: bool = True
    enum: tuple[str, ...] | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    format: str | None = None
    max_length: int | None = None
    pattern: str | None = None


def text(
    name: str,
    *,
    optional: bool = True,
    enum: tuple[str, ...] | None = None,
    format: str | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Param:
    return Param(name, "string", optional, enum, None, None, format, max_length, pattern)


def integer(
    name: str,
    *,
    optional: bool = True,
    minimum: int | None = None,
    maximum: int | None = None,
    format: str | None = None,
) -> Param:
    return Param(name, "integer", optional, None, minimum, maximum, format)


def flag(name: str) -> Param:
    return Param(name, "boolean")


NODE = Param("node", "string", optional=False, format="pve-node")
VMID = Param("vmid", "integer", optional=False, minimum=100, maximum=999_999_999, format="pve-vmid")
VMID_FILTER = Param("vmid", "integer", minimum=100, maximum=999_999_999, format="pve-vmid")

_NODE_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?$")
_VMID_RE = re.compile(r"^[1-9][0-9]{2,8}$")
_STORAGE_ID_RE = re.compile(r"^[a-z][a-z0-9\-_.]*[a-z0-9]$", re.IGNORECASE)
CONTENT_TYPES = ("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import")


def _node_name(value: str) -> str | None:
    return None if _NODE_RE.match(value) else "value does not look like a valid node name\n"


def _vmid(value: str) -> str | None:
    return None if _VMID_RE.match(value) else "value does not look like a valid VM ID\n"


def _storage_id(value: str) -> str | None:
    if _STORAGE_ID_RE.match(value):
        return None
    return f"storage ID '{value}' contains illegal characters\n"


def _content(value: str) -> str | None:
    return None if value in CONTENT_TYPES else f"invalid content type '{value}'\n"


# Registered formats; a '-list' suffix checks every element. Unknown formats pass.
FORMATS: dict[str, Callable[[str], str | None]] = {
    "pve-node": _node_name,
    "pve-vmid": _vmid,
    "pve-storage-id": _storage_id,
    "pve-storage-content": _content,
}


def split_list(value: str) -> list[str]:
    """PVE::Tools::split_list: commas, semicolons, whitespace and NULs separate items."""
    return [item for item in _LIST_SPLIT_RE.split(value) if item]


def _format_error(fmt: str, value: str) -> str | None:
    if fmt.endswith("-list") and fmt[:-5] in FORMATS:
        check = FORMATS[fmt[:-5]]
        for item in split_list(value):
            if (problem := check(item)) is not None:
                return problem
        return None
    check_one = FORMATS.get(fmt)
    return check_one(value) if check_one is not None else None


def _number_text(bound: int | float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _perl_text(value: object) -> str:
    """How Perl would interpolate a decoded value into a message."""
    if isinstance(value, bool):
        return "JSON::PP::Boolean"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _typed(param: Param, raw: object) -> tuple[Value | None, str | None]:
    """Type check and convert one value; returns (value, error)."""
    failed = f"type check ('{param.type}') failed"
    if param.type == "array" and not isinstance(raw, dict):
        # Form bodies repeat the key (joined with NUL on arrival); JSON bodies send a list.
        items = raw if isinstance(raw, list) else [raw]
        return "\0".join(_perl_text(item) for item in items), None
    if isinstance(raw, list | dict):
        return None, f"{failed} - got {'ARRAY' if isinstance(raw, list) else 'HASH'}"
    if param.type == "boolean":
        if isinstance(raw, bool):
            return int(raw), None
        shown = _perl_text(raw)
        if shown in ("0", "1"):
            return int(shown), None
        return None, f"{failed} - got '{shown}'"
    if isinstance(raw, bool):
        return None, f"{failed} - got JSON::PP::Boolean"
    shown = _perl_text(raw)
    if param.type == "integer":
        if _INTEGER_RE.match(shown):
            return int(shown), None
        return None, f"{failed} - got '{shown}'"
    if param.type == "number":
        if _NUMBER_RE.match(shown):
            return float(shown), None
        return None, f"{failed} - got '{shown}'"
    return shown, None


def _check(param: Param, raw: object) -> tuple[Value | None, str | None]:
    value, error = _typed(param, raw)
    if error is not None or value is None:
        return None, error
    shown = _perl_text(raw)
    if param.format is not None and (problem := _format_error(param.format, shown)) is not None:
        return None, f"invalid format - {problem}"
    # Perl writes a group with default flags as "(?^:...)" ("(?^i:...)" ignoring case); Python drops the caret.
    if param.pattern is not None and not re.fullmatch(param.pattern.replace("(?^", "(?"), shown):
        return None, "value does not match the regex pattern"
    if param.max_length is not None and len(shown) > param.max_length:
        return None, f"value may only be {param.max_length} characters long"
    if _NUMBER_RE.match(shown):
        number = float(shown)
        if param.maximum is not None and number > param.maximum:
            return None, f"value must have a maximum value of {_number_text(param.maximum)}"
        if param.minimum is not None and number < param.minimum:
            return None, f"value must have a minimum value of {_number_text(param.minimum)}"
    if param.enum is not None and shown not in param.enum:
        return None, f"value '{shown}' does not have a value in the enumeration '{', '.join(param.enum)}'"
    return value, None


def _indexed(declared: Mapping[str, Param], name: str) -> Param | None:
    """'scsi0' or 'net1': the schema declares such numbered properties once, as 'scsi[n]'."""
    match = _INDEXED_RE.match(name)
    return declared.get(f"{match.group(1)}[n]") if match else None


def validate(declared: Mapping[str, Param], given: Mapping[str, object]) -> dict[str, Value]:
    """Check ``given`` against ``declared``; raise one 400 listing every problem."""
    errors: dict[str, str] = {}
    values: dict[str, Value] = {}

    def take(name: str, param: Param, raw: object) -> None:
        value, error = _check(param, raw)
        if error is not None:
            errors[name] = error
        elif value is not None:
            values[name] = value

    for name, param in declared.items():
        raw = given.get(name)
        if raw is None:
            if not param.optional:
                errors[name] = MISSING
            continue
        take(name, param, raw)
    for name, raw in given.items():
        if name in declared:
            continue
        indexed = _indexed(declared, name)
        if indexed is None:
            errors[name] = UNKNOWN
        elif raw is not None:
            take(name, indexed, raw)
    if errors:
        raise param_error(errors)
    return values


def index(params: Iterable[Param]) -> dict[str, Param]:
    """Name → Param, refusing duplicates so a route table cannot declare one twice."""
    by_name: dict[str, Param] = {}
    for param in params:
        if param.name in by_name:
            raise ValueError(f"parameter {param.name!r} declared twice")
        by_name[param.name] = param
    return by_name
