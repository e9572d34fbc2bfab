"""Reach: which nodes, guests and tasks one request names, read from the request as Proxmox will receive it.

Every request that leaves pvemcp is described here first: a catalog tool's (from the rules on its record), a
raw call's (from the endpoint table in server/raw_table.py), and each request a handler sends afterwards
(server/scoped_client.py). Values are taken as they travel on the wire (`pve/wire.encode_value`) and parsed as
Proxmox parses them, ASCII digits only, so `106.0`, `["1"]` or `١٠٦` cannot name a guest other than the one
checked. What a request names is decided here; whether the scope allows it is decided in server/guard.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pvemcp.catalog.spec import ToolSpec
from pvemcp.pve.wire import encode_value as wire_text
from pvemcp.server import raw_table
from pvemcp.server.raw_table import Kind, Span
from pvemcp.server.validation import rejected

ASCII_DIGITS = re.compile(r"[0-9]+")
NODE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
LIST_SPLIT = re.compile(r"[,;\s\x00]+")
SID = re.compile(r"(?:(?:vm|ct):)?([0-9]+)")
JOB = re.compile(r"([0-9]+)-[0-9]+")
GUEST_VOLUME = re.compile(r"(?:^|[:/])(?:vm|base|subvol|basevol)-([0-9]+)-|vzdump-(?:qemu|lxc|openvz)-([0-9]+)-")


@dataclass(frozen=True, slots=True)
class Named:
    """One thing a request names, and through what (`path`, `params.vmid`, `vmid`…), for the error."""

    value: Any
    via: str


@dataclass(slots=True)
class Reach:
    """Everything one request names. `own`: the guest whose path it is (a guest tool's vmid)."""

    own: Named | None = None
    guests: list[Named] = field(default_factory=list)  # other guests it names, existing or not
    new: list[Named] = field(default_factory=list)  # IDs a new guest would take (a restore with force overwrites)
    nodes: list[Named] = field(default_factory=list)
    tasks: list[Named] = field(default_factory=list)
    filters: list[Named] = field(default_factory=list)  # a read listing only this guest's rows
    asks: list[Named] = field(default_factory=list)  # a read asking whether this ID is free
    spans: list[tuple[Span, str, str | None]] = field(default_factory=list)  # (span, via, node of a node span)
    exclude: frozenset[int] = frozenset()
    next_id: str | None = None  # a create without an ID: Proxmox picks the next free one (the argument's name)
    backup_jobs: list[Named] = field(default_factory=list)  # existing jobs a write changes: their guests count
    unmodelled: str | None = None  # a raw write whose reach pvemcp does not model: why, and what to use


def vmid_of(text: str, via: str) -> int:
    """One VMID as Proxmox parses it; anything but ASCII digits is refused (int() takes '١٠٦' and ' 106')."""
    if not ASCII_DIGITS.fullmatch(text):
        raise rejected(f"{via}: {text[:40]!r} is not a VMID.", "Pass a VMID as ASCII digits, e.g. 101.")
    return int(text)


def vmid_list(text: str, via: str) -> list[int]:
    """A comma-separated VMID list, split as PVE::Tools::split_list does."""
    return [vmid_of(item, via) for item in LIST_SPLIT.split(text) if item]


def node_of(text: str, via: str) -> str:
    if not NODE_NAME.fullmatch(text):
        raise rejected(f"{via}: {text[:40]!r} is not a node name.", "Pass a node name as pve_list_nodes shows it.")
    return text


def sid_guest(text: str, via: str) -> int | None:
    """The guest of an HA resource ID (vm:100, ct:101, 100); None for other resource kinds, which name none."""
    match = SID.fullmatch(text)
    if match is None:
        if ":" in text and not text.startswith(("vm:", "ct:")):
            return None
        raise rejected(f"{via}: {text[:40]!r} is not an HA resource ID.", "Pass vm:<vmid> or ct:<vmid>.")
    return int(match.group(1))


def job_guest(text: str, via: str) -> int:
    match = JOB.fullmatch(text)
    if match is None:
        raise rejected(f"{via}: {text[:40]!r} is not a replication job ID.", "Pass <vmid>-<n>, e.g. 100-0.")
    return int(match.group(1))


def volume_guests(text: str) -> list[int]:
    """The guests a volume belongs to by its name (a disk or a backup; a linked clone's names its base too);
    none for ISOs, templates and the like."""
    return [int(next(group for group in m.groups() if group)) for m in GUEST_VOLUME.finditer(text)]


def add(reach: Reach, kind: Kind, text: str, via: str) -> None:
    """Record what one wire value of `kind` names."""
    if kind == "guest":
        reach.guests.append(Named(vmid_of(text, via), via))
    elif kind == "new":
        reach.new.append(Named(vmid_of(text, via), via))
    elif kind in ("guests", "exclude"):
        vmids = vmid_list(text, via)
        if kind == "exclude":
            reach.exclude = reach.exclude | frozenset(vmids)
        else:
            reach.guests.extend(Named(vmid, via) for vmid in vmids)
    elif kind in ("sid", "sids"):
        for item in LIST_SPLIT.split(text) if kind == "sids" else [text]:
            vmid = sid_guest(item, via) if item else None
            if vmid is not None:
                reach.guests.append(Named(vmid, via))
    elif kind == "job":
        reach.guests.append(Named(job_guest(text, via), via))
    elif kind == "volume":
        reach.guests.extend(Named(owner, via) for owner in volume_guests(text))
    elif kind == "acl-path":
        parts = text.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "vms":
            reach.guests.append(Named(vmid_of(parts[1], via), via))
        elif len(parts) == 2 and parts[0] == "nodes":
            reach.nodes.append(Named(node_of(parts[1], via), via))
    elif kind in ("node", "nodes", "ha-nodes"):
        items = [text] if kind == "node" else [i.split(":")[0] for i in LIST_SPLIT.split(text) if i]
        reach.nodes.extend(Named(node_of(item, via), via) for item in items)
    elif kind == "upid":
        reach.tasks.append(Named(text, via))
    elif kind == "filter":
        reach.filters.append(Named(vmid_of(text, via), via))
    elif kind == "ask":
        reach.asks.append(Named(vmid_of(text, via), via))
    elif kind == "pool":
        reach.spans.append(("cluster-guests", via, None))


def truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


# Paths. Both catalog and raw requests name things through their path the same way.


def path_reach(segments: list[str], reach: Reach) -> None:
    """What a path names: /nodes/{node}/{qemu|lxc}/{vmid}/… (the guest acted on), a task, a replication job,
    a guest's volume, an HA resource, a replication or backup job below /cluster."""
    if len(segments) > 1 and segments[0] == "nodes":
        reach.nodes.append(Named(node_of(segments[1], "path"), "path"))
        kind, ident = (segments[2], segments[3]) if len(segments) > 3 else ("", "")
        if kind in ("qemu", "lxc"):
            reach.own = Named(vmid_of(ident, "path"), "path")
        elif kind == "tasks":
            reach.tasks.append(Named(ident, "path"))
        elif kind == "replication":
            reach.guests.append(Named(job_guest(ident, "path"), "path"))
        elif kind == "storage" and len(segments) > 5 and segments[4] == "content":
            add(reach, "volume", segments[5], "path")
    elif segments[:3] == ["cluster", "ha", "resources"] and len(segments) > 3:
        add(reach, "sid", segments[3], "path")
    elif segments[:2] == ["cluster", "replication"] and len(segments) > 2:
        add(reach, "job", segments[2], "path")
    elif segments[:2] == ["cluster", "backup"] and len(segments) > 2:
        reach.backup_jobs.append(Named(segments[2], "path"))


# Catalog tools: the rules come from the tool's record, read once.

NODE_ARGS = ("node", "target")  # a node: the path's {node}, or where a migration or clone goes
NEW_GUEST_ARGS = ("vmid", "newid")  # integer, on tools without a guest of their own: the ID a new guest gets
GUEST_LIST_ARGS = ("vmid", "vms")  # string: comma-separated guest IDs (backups, pool members)
REF_ARGS = ("sid",)  # an HA resource: vm:100, ct:101 or a bare VMID
VOLUME_ARGS = ("volume", "archive")  # a volume, or a backup a guest is restored from
FILTER_ARGS = ("vmid", "guest")  # on reads without a guest of their own: list only this guest's rows


_RULES: dict[str, dict[str, Kind]] = {}


def catalog_rules(spec: ToolSpec) -> dict[str, Kind]:
    """The arguments through which a catalog tool names nodes, guests or tasks (its own guest aside); worked
    out once per tool."""
    rules = _RULES.get(spec.name)
    if rules is None:
        rules = {}
        for param in spec.all_params:
            kind = _catalog_kind(spec, param.name, param.type, param.local)
            if kind is not None:
                rules[param.name] = kind
        _RULES[spec.name] = rules
    return rules


def _catalog_kind(spec: ToolSpec, name: str, type_: str, local: bool) -> Kind | None:
    endpoint = spec.rest.path if spec.rest is not None else ""
    own_guest = spec.guest_type is not None or (spec.ssh and name == "ctid")
    if (own_guest and name in ("vmid", "ctid")) or (local and name == "node"):
        return None  # the own guest is checked apart; a local node only filters what is listed
    if name in REF_ARGS:
        return "sid"
    if name == "id" and "/replication" in endpoint:
        return "job"
    if name in NODE_ARGS:
        return "node"
    if name == "upid":
        return "upid"
    if name == "all" and type_ == "boolean" and not spec.ssh:
        return "all"
    if name in VOLUME_ARGS:
        return "volume"
    if name == "path" and endpoint.startswith("/access"):
        return "acl-path"
    if spec.read_only:
        if spec.cluster_wide or spec.ssh:
            return None
        if name == "vmid" and spec.asks_id:
            return "ask"
        return "filter" if name in FILTER_ARGS and type_ == "integer" else None
    if name in NEW_GUEST_ARGS and type_ == "integer":
        return "new"
    return "guests" if name in GUEST_LIST_ARGS and type_ == "string" else None


def catalog_reach(spec: ToolSpec, args: Mapping[str, Any]) -> Reach:
    """What a catalog call names, from its arguments as they travel on the wire."""
    reach = Reach()
    own = "ctid" if spec.ssh else "vmid"
    if (spec.guest_type is not None or spec.ssh) and own in args:
        reach.own = Named(vmid_of(wire_text(args[own]), own), own)
    for name, kind in catalog_rules(spec).items():
        value = args.get(name)
        if value is None:
            if name in spec.missing:
                reach.spans.append((cast(Span, spec.missing[name]), name, None))
            elif kind == "new" and not spec.read_only:
                reach.next_id = name
            continue
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            text = wire_text(item)
            if kind == "all":
                if truthy(text):
                    node_span = "node" in spec.placeholders
                    reach.spans.append(("node-guests" if node_span else "cluster-guests", name, args.get("node")))
            else:
                add(reach, kind, text, name)
    if spec.spans_nodes:
        reach.spans.append(("every-node", spec.name, None))
    return reach


# Raw calls: the path names what it names; a write's parameters are read by its row in server/raw_table.py,
# and a read's by the names that mean the same on every endpoint.

RAW_READ_PARAMS: dict[str, Kind] = {
    **dict.fromkeys(("vmid", "vms", "guest", "newid", "target-vmid"), "guests"),
    **dict.fromkeys(("node", "target", "target_node"), "node"),
    **dict.fromkeys(("volume", "archive", "ostemplate"), "volume"),
    "sid": "sid",
    "upid": "upid",
}
# Names that mean something more below some paths: an ACL path; a replication job ID (also when it repeats the
# one in the path, which Proxmox then refuses, but only after reading it).
RAW_PARAMS_BELOW: dict[str, dict[str, Kind]] = {"access": {"path": "acl-path"}, "replication": {"id": "job"}}


def params_below(segments: list[str]) -> dict[str, Kind]:
    return {name: kind for segment in segments[:3] for name, kind in RAW_PARAMS_BELOW.get(segment, {}).items()}


UNMODELLED_HINT = (
    "Raw writes to this endpoint need a server without PVE_ALLOWED_NODES, PVE_ALLOWED_VMIDS and"
    " PVE_PROTECTED_TAG; ask an administrator to make the change, or to run such a server for it."
)


def raw_reach(
    method: str,
    path: str,
    params: Mapping[str, Any] | Sequence[tuple[str, str]],
    segments: list[str] | None = None,
) -> Reach:
    """What a raw call names: its path, and its parameters as its table row says (writes) or by name (reads).

    params: the call's (name → value), or the wire's (name, text) pairs, where a list repeats its name.
    segments: the path's segments, decoded, when the path is percent-encoded (a volume ID may hold '/').
    A write the table does not model, or refuses, is marked `unmodelled` with the reason and the catalog tool
    that covers the endpoint; the guard refuses it whenever a scope is set.
    """
    values: dict[str, list[Any]] = {}
    for name, value in params.items() if isinstance(params, Mapping) else params:
        if value is not None:
            values.setdefault(name, []).append(value)
    segments = segments if segments is not None else path.strip("/").split("/")
    reach = Reach()
    path_reach(segments, reach)
    if method == "GET":
        below = params_below(segments)
        for name, given in values.items():
            read_kind = below.get(name) or RAW_READ_PARAMS.get(name)
            if read_kind is not None:
                for value in given:
                    add(reach, read_kind, wire_text(value), f"params.{name}")
        return reach
    row = raw_table.endpoint(method, segments)
    if row is None or row.refuse:
        why = row.refuse if row is not None else "pvemcp does not model what it reaches"
        covering = raw_table.covering_tool(method, segments)
        use = f" Use {covering.name}, which checks what it reaches." if covering is not None else ""
        reach.unmodelled = (
            f"{method} {path[:80]} is not sent while PVE_ALLOWED_NODES, PVE_ALLOWED_VMIDS or PVE_PROTECTED_TAG"
            f" is set: {why}.{use}"
        )
        return reach
    node = segments[1] if segments[0] == "nodes" and len(segments) > 1 else None
    reach.spans.extend((span, "path", node) for span in row.spans)
    below = params_below(segments)
    for name, given in values.items():  # a parameter the row does not model names by its usual meaning
        kind = row.params.get(name) or (None if name in row.ignore else below.get(name) or RAW_READ_PARAMS.get(name))
        if kind is not None:
            for value in given:
                add(reach, kind, typed(kind, name, value), f"params.{name}")
    for name, span in row.flags.items():
        if any(truthy(typed("all", name, value)) for value in values.get(name, ())):
            reach.spans.append((span, f"params.{name}", node))
    for name, span in row.missing.items():
        if name not in values:
            reach.spans.append((span, f"params.{name}", node))
    return reach


def typed(kind: Kind | Literal["all"], name: str, value: Any) -> str:
    """A modelled parameter's wire text, once its JSON type is the one its kind takes."""
    hint = "Pass the value as Proxmox's API documents it: a string, an integer or a boolean."
    if kind == "all":
        if isinstance(value, bool) or (isinstance(value, int | str) and str(value).strip() in ("0", "1")):
            return wire_text(value)
        raise rejected(f"params.{name} must be a boolean (true/false or 0/1).", hint)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise rejected(f"params.{name} must be a string or an integer.", hint)
    if isinstance(value, int) and kind not in ("guest", "new", "guests", "sid", "exclude"):
        raise rejected(f"params.{name} must be a string.", hint)
    return wire_text(value)
