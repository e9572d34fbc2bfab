"""What a request addressed: the guests and nodes its path and parameters name.

Parameters are read the way the simulator reads them: a declared format (``pve-vmid``,
``pve-node-list``, an HA SID, a replication job ID, a volume ID) says what a value names, and a
few parameters without a format name a guest or node by their role (a UPID, a volume, a backup
archive, an ACL path). A value that would not pass the format check names nothing. A vzdump or a
backup job with ``all=1`` or a ``pool`` addresses every guest it would back up, as resolved now.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from .params import Param, split_list
from .state.ha import parse_sid
from .tasks import decode_upid

if TYPE_CHECKING:
    from .recorded import Target
    from .routes import Route
    from .state.cluster import ClusterState

NODE_NAME = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?$")
VMID_TEXT = re.compile(r"^[1-9][0-9]{2,8}$")
# vm-100-disk-0, base-100-disk-0, subvol-100-disk-0, 100/vm-100-disk-0.qcow2, vzdump-qemu-100-<time>.vma.zst
VOLUME_GUEST = re.compile(
    r"(?:^|[:/])(?:(?:vm|base|subvol|basevol)-([1-9][0-9]{2,8})-|vzdump-(?:qemu|lxc|openvz)-([1-9][0-9]{2,8})-)"
)
REPLICATION_JOB = re.compile(r"^([1-9][0-9]{2,8})-\d{1,9}$")

Reader = Callable[["ClusterState", str], Iterator["Target"]]


@functools.lru_cache(maxsize=8192)
def volume_guests(volid: str) -> tuple[int, ...]:
    """The guests a volume ID names (a linked clone's names its base too)."""
    found: list[int] = []
    for match in VOLUME_GUEST.finditer(volid):
        vmid = int(match.group(1) or match.group(2))
        if vmid not in found:
            found.append(vmid)
    return tuple(found)


@functools.lru_cache(maxsize=1024)
def vmid_list(text: str) -> tuple[int, ...]:
    """The valid VMIDs of a pve-vmid-list value."""
    return tuple(int(item) for item in split_list(text) if VMID_TEXT.match(item))


def node_name(state: ClusterState, text: str) -> str | None:
    """A node as the proxy resolves it ('localhost' is the node answering), or None if not a name."""
    if text == "localhost":
        return state.local_node
    return text if NODE_NAME.match(text) else None


def _vmids(state: ClusterState, text: str) -> Iterator[Target]:
    for vmid in vmid_list(text):
        yield ("guest", vmid)


def _nodes(state: ClusterState, text: str) -> Iterator[Target]:
    for item in split_list(text):
        name = node_name(state, item)
        if name is not None:
            yield ("node", name)


def _ha_nodes(state: ClusterState, text: str) -> Iterator[Target]:
    """'pve1:2,pve2' (node with an optional priority)."""
    for item in split_list(text):
        name = node_name(state, item.split(":", 1)[0])
        if name is not None:
            yield ("node", name)


def _sids(state: ClusterState, text: str) -> Iterator[Target]:
    for item in split_list(text):
        parsed = parse_sid(item)
        if parsed is not None:
            yield ("guest", parsed[1])


def _job(state: ClusterState, text: str) -> Iterator[Target]:
    match = REPLICATION_JOB.match(text)
    if match is not None:
        yield ("guest", int(match.group(1)))


def _volume(state: ClusterState, text: str) -> Iterator[Target]:
    for vmid in volume_guests(text):
        yield ("guest", vmid)


def _upid(state: ClusterState, text: str) -> Iterator[Target]:
    info = decode_upid(text)
    if info is None:
        return
    yield ("node", info.node)
    if VMID_TEXT.match(info.id):
        yield ("guest", int(info.id))


def _acl_path(state: ClusterState, text: str) -> Iterator[Target]:
    """/vms/100 names a guest, /nodes/pve1 a node."""
    parts = text.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "vms" and VMID_TEXT.match(parts[1]):
        yield ("guest", int(parts[1]))
    elif len(parts) == 2 and parts[0] == "nodes" and NODE_NAME.match(parts[1]):
        yield ("node", parts[1])


BY_FORMAT: dict[str, Reader] = {
    "pve-vmid": _vmids,
    "pve-vmid-list": _vmids,
    "pve-node": _nodes,
    "pve-node-list": _nodes,
    "pve-ha-node-list": _ha_nodes,
    "pve-ha-resource-or-vm-id": _sids,
    "pve-ha-resource-id-list": _sids,
    "pve-replication-job-id": _job,
    "pve-volume-id": _volume,
}
# Parameters the schema gives no format, whose role still names a guest or a node.
BY_NAME: dict[str, Reader] = {
    "upid": _upid,
    "volume": _volume,
    "archive": _volume,
    "ostemplate": _volume,
    "resource": _sids,
    "path": _acl_path,
}


def reader_for(param: Param) -> Reader | None:
    """How a declared parameter's value names guests or nodes; None when it names none."""
    if param.format is not None:
        return BY_FORMAT.get(param.format)
    return BY_NAME.get(param.name)


Naming = tuple[str, Reader, bool]  # parameter name, how it names, whether it is an array

# id → (route, its naming parameters); holding the route keeps its id from being reused.
_NAMING: dict[int, tuple[Route, tuple[Naming, ...]]] = {}


def naming_params(route: Route) -> tuple[Naming, ...]:
    """The route's parameters that name guests or nodes, worked out once per route."""
    known = _NAMING.get(id(route))
    if known is None:
        found = ((param.name, reader_for(param), param.type == "array") for param in route.params)
        named = tuple((name, reader, array) for name, reader, array in found if reader is not None)
        known = _NAMING[id(route)] = (route, named)
    return known[1]


def _scalar_text(raw: object) -> str | None:
    if raw is None or isinstance(raw, bool | dict | list):
        return None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def wire_text(raw: object, *, array: bool = False) -> str | None:
    """A wire value as text, as the parameter check sees it. A JSON list is one NUL-joined value for
    an array parameter and a type error for any other, so there it names nothing; so does a boolean."""
    if isinstance(raw, list):
        items = [_scalar_text(item) for item in raw] if array else [None]
        return None if None in items else "\0".join(item for item in items if item is not None)
    return _scalar_text(raw)


def _flag(raw: object) -> bool:
    """A boolean as the check reads it: JSON true, or 1 in any numeric spelling."""
    return raw is True or _scalar_text(raw) == "1"


def backup_selection(state: ClusterState, params: Mapping[str, object], node: str | None) -> Iterator[Target]:
    """The guests ``all=1`` or ``pool`` takes in (on ``node`` when given), as vzdump resolves them."""
    every, pool = _flag(params.get("all")), wire_text(params.get("pool"))
    if not every and not pool:
        return
    excluded = set(vmid_list(wire_text(params.get("exclude")) or ""))
    for guest in state.guests.values():
        if node is not None and guest.node != node:
            continue
        if (every or guest.pool == pool) and guest.vmid not in excluded:
            yield ("guest", guest.vmid)


def _unrouted(state: ClusterState, segments: list[str]) -> Iterator[Target]:
    """A path the router does not know still names its obvious node and guest."""
    if len(segments) < 2 or segments[0] != "nodes":
        return
    if (name := node_name(state, segments[1])) is not None:
        yield ("node", name)
    if len(segments) >= 4 and segments[2] in ("qemu", "lxc") and VMID_TEXT.match(segments[3]):
        yield ("guest", int(segments[3]))


def addressed(
    state: ClusterState,
    segments: list[str],
    found: tuple[Route, dict[str, str]] | None,
    params: Mapping[str, object],
) -> set[Target]:
    """Every guest and node the request names, whether or not it then succeeds."""
    if found is None:
        return set(_unrouted(state, segments))
    route, path_values = found
    targets: set[Target] = set()
    for name, reader, array in naming_params(route):
        for source in (path_values, params):
            text = wire_text(source.get(name), array=array)
            if text:
                targets.update(reader(state, text))
    if "all" in route.declared and "pool" in route.declared:
        where = wire_text(path_values.get("node") or params.get("node"))
        targets.update(backup_selection(state, params, node_name(state, where) if where else None))
    return targets
