"""The tool record: one declarative `ToolSpec` per tool, and the `Param`s it takes.

A plain REST tool is data, not code: the generic handler expands `path` from the arguments, sends
the rest as query (GET/DELETE) or form body (POST/PUT) and shapes the answer. Only composite tools
name a custom `handler`. Input schemas, annotations and listings are derived from these records once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any, Literal

ParamType = Literal["string", "integer", "boolean", "number", "array", "object"]
Method = Literal["GET", "POST", "PUT", "DELETE"]
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class Tier(IntEnum):
    """Access tiers, ordered: a configured tier is a ceiling that nothing raises."""

    READ_ONLY = 0
    READ_EXECUTE = 1
    FULL = 2

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def labels(cls) -> list[str]:
        return [t.label for t in cls]

    @classmethod
    def parse(cls, text: str) -> Tier:
        for tier in cls:
            if tier.label == text.strip().lower():
                return tier
        raise ValueError(text)


class Module(StrEnum):
    CORE = "core"
    ADVANCED = "advanced"


@dataclass(frozen=True, slots=True)
class Param:
    """One tool argument. `free_text` allows '/', spaces and the like; identifiers never do."""

    name: str
    type: ParamType
    description: str
    required: bool = False
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    items: ParamType | None = None
    free_text: bool = False
    local: bool = False  # used by pvemcp itself (filtering, shaping), never sent to Proxmox
    wire: str | None = None  # Proxmox's name for it, when the tool's name differs (archive → ostemplate)
    encoding: Literal["pve-urlencode"] | None = None  # extra encoding Proxmox demands (cloud-init sshkeys)
    secret: bool = False  # carries a secret (a password, a private key): redacted in the audit log and previews

    @property
    def api_name(self) -> str:
        return self.wire or self.name

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.items is not None:
            schema["items"] = {"type": self.items}
        return schema


CONFIRM = Param("confirm", "boolean", "true only once the user agreed to this change.")

# Added to every tool that starts a Proxmox task; pvemcp waits for the task (server/waiting.py).
WAIT_DEFAULT, WAIT_MAX = 30, 600
WAIT = Param(
    "wait_seconds",
    "integer",
    f"Wait this long for the task (default {WAIT_DEFAULT}; 0: return at once).",
    minimum=0,
    maximum=WAIT_MAX,
    local=True,
)


# Added to every `paged` tool; pvemcp applies them itself (Proxmox never sees them).
PAGING = (
    Param("fields", "array", "Keep only these keys of each item.", items="string", local=True),
    Param("limit", "integer", "Page size; default: what fits.", minimum=1, local=True),
    Param("cursor", "string", "next_cursor of the last page.", local=True),
)


@dataclass(frozen=True, slots=True)
class Rest:
    """One Proxmox endpoint: the generic handler (or the tool's composite) sends the call there."""

    method: Method
    path: str  # {name} placeholders are filled from the arguments of the same name


@dataclass(frozen=True, slots=True)
class Ssh:
    """argv lists run over the SSH channel (ssh/commands.py, ssh/checks.py); no Proxmox endpoint."""

    writes: bool  # can change the container or node it runs on: not read-only, audited


@dataclass(frozen=True, slots=True)
class Local:
    """pvemcp answers itself (pve_preview); it sends no request of its own."""


@dataclass(frozen=True, slots=True)
class Raw:
    """The caller names the endpoint: `path` (and `method`, when there is a choice) are arguments, whose shape
    server/rawpath.py checks and whose reach server/reach.py and server/raw_table.py work out."""

    methods: tuple[Method, ...]


# What a tool is, as far as anything leaving pvemcp goes.
Target = Rest | Ssh | Local | Raw
RAW_PATH = "/{path}"  # a raw tool's path is its `path` argument


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """Everything pvemcp knows about one tool: one record, from which schemas and listings are derived."""

    name: str
    category: str
    tier: Tier
    title: str
    description: str
    target: Target
    params: tuple[Param, ...] = ()
    module: Module = Module.CORE
    destructive: bool = False
    confirm: bool = False
    idempotent: bool | None = None
    aliases: tuple[str, ...] = ()
    deprecated: bool = False
    returns_task: bool = False
    handler: str | None = None
    fixed: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    result_key: str = "value"
    paged: bool = False  # a list that grows with the cluster: adds fields/limit/cursor, pages within the budget
    page_key: str | None = None  # item key that orders pages stably (e.g. "id", "vmid", "volid")
    at_least_one: tuple[str, ...] = ()  # update tools: at least one of these arguments must be given
    only_one: tuple[str, ...] = ()  # alternatives: exactly one of these arguments must be given
    differs: str = ""  # how this tool differs from nandi-proxmox-mcp's tool of the same name (docs only)
    # What the tool reaches beyond its arguments (server/reach.py): cluster-wide objects that are neither a guest
    # nor a node; a read asking whether a VMID is free; an action that runs on every node; what leaving an
    # argument out reaches (prune without vmid: every guest's backups on the storage).
    cluster_wide: bool = False
    asks_id: bool = False
    spans_nodes: bool = False
    missing: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # An answer of the consolidated surface (catalog/fronts.py) with no tool of its own in nandi's listing:
    # callable by name in every mode, listed as a tool only in the consolidated one, as an action there.
    catalog_listing: bool = True
    # Draws its result as a picture too when the call asks (chart=true): a renderer's name in server/charts.py.
    picture: str | None = None

    @property
    def rest(self) -> Rest | None:
        """The tool's own Proxmox endpoint, if it has one."""
        return self.target if isinstance(self.target, Rest) else None

    @property
    def ssh(self) -> bool:
        """Runs over the SSH channel (hidden unless it is configured)."""
        return isinstance(self.target, Ssh)

    @property
    def raw(self) -> bool:
        return isinstance(self.target, Raw)

    @property
    def api(self) -> bool:
        """Sends its call to the Proxmox API: an endpoint of its own, or one the caller names."""
        return isinstance(self.target, Rest | Raw)

    @property
    def method(self) -> Method:
        """The endpoint's method; a raw tool's first (the `method` argument chooses among several)."""
        target = self.target
        if isinstance(target, Rest):
            return target.method
        if isinstance(target, Raw):
            return target.methods[0]
        raise TypeError(f"{self.name} sends no request of its own to Proxmox ({type(target).__name__})")

    @property
    def path(self) -> str:
        """The endpoint's path template; a raw tool's is its `path` argument."""
        target = self.target
        if isinstance(target, Rest):
            return target.path
        if isinstance(target, Raw):
            return RAW_PATH
        raise TypeError(f"{self.name} sends no request of its own to Proxmox ({type(target).__name__})")

    @property
    def read_only(self) -> bool:
        """Changes nothing: a GET that is not destructive, a read-only SSH command, pvemcp's own answer."""
        target = self.target
        if isinstance(target, Rest):
            return target.method == "GET" and not self.destructive
        if isinstance(target, Raw):
            return target.methods == ("GET",)
        if isinstance(target, Ssh):
            return not target.writes
        return True

    @property
    def is_idempotent(self) -> bool:
        return self.read_only if self.idempotent is None else self.idempotent

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(PLACEHOLDER.findall(self.path)) if self.api else ()

    @property
    def guest_type(self) -> Literal["qemu", "lxc", "any"] | None:
        """Which guests the vmid of the endpoint's path may name: one type, "any" (a {guest_type} path), or None."""
        path = self.rest.path if self.rest is not None else ""
        if "/qemu/{vmid}" in path:
            return "qemu"
        if "/lxc/{vmid}" in path:
            return "lxc"
        if "/{guest_type}/{vmid}" in path:
            return "any"
        return None

    @property
    def all_params(self) -> tuple[Param, ...]:
        """The tool's own parameters plus the ones pvemcp adds (paging, confirm)."""
        return (
            self.params
            + (PAGING if self.paged else ())
            + ((WAIT,) if self.returns_task else ())
            + ((CONFIRM,) if self.confirm else ())
        )

    def param(self, name: str) -> Param | None:
        return next((p for p in self.all_params if p.name == name), None)

    def input_schema(self) -> dict[str, Any]:
        params = self.all_params
        schema: dict[str, Any] = {"type": "object", "properties": {p.name: p.json_schema() for p in params}}
        required = [p.name for p in params if p.required]
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema


# Shared parameters: one wording everywhere, so the model learns it once. Identifier length and
# characters are checked by the server (validation.py), which keeps these schemas short.
NODE = Param("node", "string", "Node name, e.g. pve1.", required=True)
NODE_FOR_GUEST = Param("node", "string", "Default: the vmid's node.")
NODE_FOR_TASK = Param("node", "string", "Default: the UPID's node.")
VMID = Param("vmid", "integer", "Guest ID (VMID).", required=True, minimum=100)
UPID = Param("upid", "string", "Task ID (UPID).", required=True)
STORAGE = Param("storage", "string", "Storage ID, e.g. local-lvm.", required=True)
GUEST_TYPE = Param("guest_type", "string", "Default: from vmid.", enum=("qemu", "lxc"))


def reader(category: str, module: Module = Module.CORE) -> Callable[..., ToolSpec]:
    """A builder for one category's read-only GET tools, so each record states only what varies."""

    def build(name: str, title: str, description: str, path: str, *params: Param, **extra: Any) -> ToolSpec:
        return ToolSpec(
            name=name,
            category=category,
            tier=Tier.READ_ONLY,
            title=title,
            description=description,
            target=Rest("GET", path),
            params=params,
            module=module,
            **extra,
        )

    return build


def writer(category: str, module: Module = Module.CORE, tier: Tier = Tier.FULL) -> Callable[..., ToolSpec]:
    """A builder for one category's write tools; confirm=True makes a tool destructive and confirmed at once,
    since a destructive tool always confirms."""

    def build(
        name: str,
        title: str,
        description: str,
        method: Literal["POST", "PUT", "DELETE"],
        path: str,
        *params: Param,
        confirm: bool = False,
        **extra: Any,
    ) -> ToolSpec:
        return ToolSpec(
            name=name,
            category=category,
            tier=tier,
            title=title,
            description=description,
            target=Rest(method, path),
            params=params,
            module=module,
            destructive=confirm,
            confirm=confirm,
            **extra,
        )

    return build
