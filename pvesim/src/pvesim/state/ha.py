"""High availability: HA resources, the CRM's pending requests, and HA rules (PVE 9).

A guest's requested HA state lives on the guest itself (``Guest.hastate``: started, stopped,
disabled, ignored; None when HA does not manage it), so it follows the guest: a guest that is
destroyed leaves HA with it, and starting or stopping a managed guest changes its request the
way PVE routes such calls through HA. The other options and a pending migrate or relocate hang off
the guest in weak mappings, for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from .records import Guest

SID = re.compile(r"^(?:(vm|ct):)?([1-9][0-9]{2,8})$")
SID_TYPE = {"qemu": "vm", "lxc": "ct"}
REQUEST_STATES = ("started", "stopped", "enabled", "disabled", "ignored")
Motion = Literal["migrate", "relocate"]


@dataclass(eq=False)
class HaOptions:
    """What `ha-manager add/set` stores beside the state; None: not set (Proxmox's default applies)."""

    comment: str = ""
    max_restart: int | None = None
    max_relocate: int | None = None
    failback: int | None = None


@dataclass(eq=False)
class HaRequest:
    """A migrate or relocate the CRM is carrying out: the worker's UPID and where the guest goes."""

    kind: Motion
    target: str
    upid: str


@dataclass(eq=False)
class HaRule:
    """A PVE 9 HA rule: node affinity (resources prefer or stay on nodes) or resource affinity."""

    rule: str
    type: Literal["node-affinity", "resource-affinity"]
    resources: tuple[str, ...]
    nodes: str = ""
    affinity: str = ""
    strict: bool = False
    comment: str = ""
    disable: bool = False

    def record(self, order: int) -> dict[str, object]:
        item: dict[str, object] = {
            "rule": self.rule,
            "type": self.type,
            "resources": ",".join(self.resources),
            "order": order,
        }
        if self.nodes:
            item["nodes"] = self.nodes
        if self.affinity:
            item["affinity"] = self.affinity
        if self.strict:
            item["strict"] = 1
        if self.comment:
            item["comment"] = self.comment
        if self.disable:
            item["disable"] = 1
        return item


@dataclass(eq=False)
class HaState:
    options: WeakKeyDictionary[Guest, HaOptions] = field(default_factory=WeakKeyDictionary)
    requests: WeakKeyDictionary[Guest, HaRequest] = field(default_factory=WeakKeyDictionary)
    rules: dict[str, HaRule] = field(default_factory=dict)

    def of(self, guest: Guest) -> HaOptions:
        found = self.options.get(guest)
        if found is None:
            found = self.options[guest] = HaOptions()
        return found

    def forget(self, guest: Guest) -> None:
        self.options.pop(guest, None)
        self.requests.pop(guest, None)


def sid_of(guest: Guest) -> str:
    return f"{SID_TYPE[guest.type]}:{guest.vmid}"


def parse_sid(text: str) -> tuple[str | None, int] | None:
    """('vm' | 'ct' | None, vmid) for 'vm:100', 'ct:101' or a bare '100'; None when it is no SID."""
    match = SID.match(text)
    return None if match is None else (match.group(1), int(match.group(2)))


def guest_of(guests: Mapping[int, Guest], text: str) -> Guest | None:
    """The guest a SID names, if it exists with that type (a bare VMID takes the guest's own type)."""
    parsed = parse_sid(text)
    if parsed is None:
        return None
    kind, vmid = parsed
    guest = guests.get(vmid)
    if guest is None or kind not in (None, SID_TYPE[guest.type]):
        return None
    return guest


def service_state(ha: HaState, guest: Guest) -> str:
    """What the CRM reports for a managed guest: a pending motion, else the state it keeps."""
    request = ha.requests.get(guest)
    if request is not None:
        return request.kind
    if guest.hastate in ("stopped", "disabled"):
        return "stopped"
    if guest.hastate == "ignored":
        return "ignored"
    return "started"


def resource_record(ha: HaState, guest: Guest) -> dict[str, object]:
    """One entry of /cluster/ha/resources: the section config as `ha-manager config` shows it."""
    opts = ha.options.get(guest) or HaOptions()
    item: dict[str, object] = {"sid": sid_of(guest), "type": SID_TYPE[guest.type], "state": guest.hastate}
    if opts.comment:
        item["comment"] = opts.comment
    if opts.max_restart is not None:
        item["max_restart"] = opts.max_restart
    if opts.max_relocate is not None:
        item["max_relocate"] = opts.max_relocate
    if opts.failback is not None:
        item["failback"] = opts.failback
    return item


def managed(guests: Mapping[int, Guest]) -> list[Guest]:
    return sorted((g for g in guests.values() if g.hastate is not None), key=lambda g: g.vmid)
