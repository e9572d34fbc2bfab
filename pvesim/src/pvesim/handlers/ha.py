"""High availability (/cluster/ha), following PVE::API2::HA: resources, rules and the manager status.

The CRM acts through worker tasks on the guest's node, owned by root@pam as in PVE: a resource added
or set to 'started' is started, one set to 'stopped' or 'disabled' is shut down, and a migrate or
relocate request moves the guest when its task ends. Until then the status shows the request.
"""

from __future__ import annotations

import hashlib
import time

from ..errors import fail, param_error
from ..params import Param, flag, integer, split_list, text
from ..routes import Call, Route
from ..state.guest_disks import move_volumes
from ..state.ha import (
    REQUEST_STATES,
    HaRequest,
    Motion,
    guest_of,
    managed,
    parse_sid,
    resource_record,
    service_state,
    sid_of,
)
from ..state.records import Guest, Task

CRM_USER = "root@pam"
SID = text("sid", optional=False, format="pve-ha-resource-or-vm-id")
COMMENT = text("comment", max_length=4096)
OPTIONS = (
    COMMENT,
    flag("failback"),
    text("group", format="pve-configid"),
    integer("max_relocate", minimum=0),
    integer("max_restart", minimum=0),
    SID,
    text("state", enum=REQUEST_STATES),
)
TARGET = Param("node", "string", optional=False, format="pve-node")
DELETABLE = frozenset({"comment", "failback", "group", "max_relocate", "max_restart", "state"})


def _stamp(at: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(at))


def _sid(c: Call) -> str:
    """The SID in its canonical form, or PVE's parameter error for one it cannot parse."""
    raw = c.text("sid")
    parsed = parse_sid(raw)
    if parsed is None:
        raise param_error({"sid": "value does not look like a valid ha resource id"})
    kind, vmid = parsed
    if kind is None:
        guest = c.state.guests.get(vmid)
        if guest is None:
            raise fail(f"unable do detect SID from VMID - VM/CT {vmid} does not exist")
        return sid_of(guest)
    return f"{kind}:{vmid}"


def _managed(c: Call, sid: str, message: str) -> Guest:
    guest = guest_of(c.state.guests, sid)
    if guest is None or guest.hastate is None:
        raise fail(message)
    return guest


def _crm(c: Call, guest: Guest) -> None:
    """Bring the guest to its requested state, as the LRM does, through a worker on its node."""
    want_running = guest.hastate == "started"
    if guest.hastate == "ignored" or want_running == guest.running or guest in c.state.ha.requests:
        return
    node, prefix = c.state.nodes[guest.node], "qm" if guest.type == "qemu" else "vz"

    def act(task: Task) -> str | None:
        if c.state.guests.get(guest.vmid) is not guest:
            return f"guest {guest.vmid} vanished"
        if want_running and not guest.running:
            guest.status, guest.started_at = "running", task.end_at
            guest.pid = c.state.nodes[guest.node].new_pid()
        elif not want_running and guest.running:
            guest.status, guest.started_at, guest.pid, guest.paused = "stopped", None, None, False
        return None

    kind = f"{prefix}start" if want_running else f"{prefix}shutdown"
    c.ctx.runner.start(node, kind, str(guest.vmid), CRM_USER, action=act, lock=f"vm/{guest.vmid}")


def _set_options(c: Call, guest: Guest) -> None:
    opts = c.state.ha.of(guest)
    if (comment := c.opt_text("comment")) is not None:
        opts.comment = comment
    if "failback" in c.params:
        opts.failback = int(c.flag("failback"))
    for name in ("max_restart", "max_relocate"):
        if name in c.params:
            setattr(opts, name, c.integer(name))
    if (state := c.opt_text("state")) is not None:
        guest.hastate = "started" if state == "enabled" else state


def list_resources(c: Call) -> object:
    kind = c.opt_text("type")
    return [resource_record(c.state.ha, g) for g in managed(c.state.guests) if kind in (None, sid_of(g).split(":")[0])]


def read_resource(c: Call) -> object:
    sid = _sid(c)
    guest = _managed(c, sid, f"no such resource '{sid}'")
    return {**resource_record(c.state.ha, guest), "digest": _digest(c)}


def _digest(c: Call) -> str:
    """A stand-in for the config file's SHA1: changes with any resource."""
    text_value = "|".join(str(sorted(resource_record(c.state.ha, g).items())) for g in managed(c.state.guests))
    return hashlib.sha1(text_value.encode(), usedforsecurity=False).hexdigest()


def create_resource(c: Call) -> object:
    sid = _sid(c)
    kind = c.opt_text("type")
    if kind is not None and kind != sid.split(":")[0]:
        raise fail("types does not match")
    if c.opt_text("group") is not None:
        raise param_error({"group": "ha groups have been migrated to rules"})
    guest = guest_of(c.state.guests, sid)
    if guest is None:
        raise fail(f"resource '{sid}' does not exists in cluster")
    if guest.hastate is not None:
        raise fail(f"resource ID '{sid}' already defined")
    guest.hastate = "started"
    c.state.ha.forget(guest)
    _set_options(c, guest)
    _crm(c, guest)
    return None


def update_resource(c: Call) -> object:
    sid = _sid(c)
    if c.opt_text("group") is not None:
        raise param_error({"group": "ha groups have been migrated to rules"})
    guest = _managed(c, sid, f"no such resource '{sid}'")
    digest = c.opt_text("digest")
    if digest is not None and digest != _digest(c):
        raise fail("detected modified configuration - file changed by other user? Try again.")
    for key in split_list(c.opt_text("delete") or ""):
        if key not in DELETABLE:
            raise fail(f"no such option '{key}'")
        opts = c.state.ha.of(guest)
        if key == "state":
            guest.hastate = "started"
        elif key == "comment":
            opts.comment = ""
        elif key != "group":
            setattr(opts, key, None)
    _set_options(c, guest)
    _crm(c, guest)
    return None


def delete_resource(c: Call) -> object:
    sid = _sid(c)
    guest = _managed(c, sid, f"resource '{sid}' is not HA managed")
    guest.hastate = None
    c.state.ha.forget(guest)
    if c.params.get("purge", 1):  # rules no longer name it; a rule left empty goes
        for name, rule in list(c.state.ha.rules.items()):
            rule.resources = tuple(r for r in rule.resources if r != sid)
            if not rule.resources:
                del c.state.ha.rules[name]
    return None


def _motion(c: Call, kind: Motion) -> object:
    sid = _sid(c)
    guest = _managed(c, sid, f"resource '{sid}' is not HA managed")
    target = c.text("node")
    if target not in c.state.nodes:
        raise fail(f"no such cluster node '{target}'")
    request_motion(c, guest, target, kind)
    return {"sid": sid, "requested-node": target}


def request_motion(c: Call, guest: Guest, target: str, kind: Motion) -> None:
    """The CRM carries out a migrate or relocate through a worker on the guest's node, owned by root@pam
    (also what `ha-manager migrate` queues when a guest's own migrate call is handed to HA)."""
    node = c.state.nodes[target]
    if target == guest.node or guest.hastate == "ignored" or guest in c.state.ha.requests:
        return  # the CRM ignores it: already there, not its business, or already moving
    source, was_running = guest.node, guest.running
    guest.lock = "migrate"
    online = kind == "migrate" and guest.type == "qemu"

    def done(task: Task) -> str | None:
        c.state.ha.requests.pop(guest, None)
        if c.state.guests.get(guest.vmid) is not guest or guest.node != source:
            return f"guest {guest.vmid} vanished"
        guest.lock = None
        if not node.online:
            return f"migration aborted: node '{target}' is not online"
        move_volumes(c.state, guest, target, {})
        guest.node = target
        if was_running:
            guest.pid = node.new_pid()
            if not online:  # stopped on the old node, started again on the new one
                guest.started_at = task.end_at
        return None

    worker = "qmigrate" if guest.type == "qemu" else "vzmigrate"
    task = c.ctx.runner.start(
        c.state.nodes[source], worker, str(guest.vmid), CRM_USER, action=done, lock=f"vm/{guest.vmid}"
    )
    c.state.ha.requests[guest] = HaRequest(kind, target, task.upid)


def list_rules(c: Call) -> object:
    kind, resource = c.opt_text("type"), c.opt_text("resource")
    rules = sorted(c.state.ha.rules.values(), key=lambda r: r.rule)
    return [
        rule.record(order)
        for order, rule in enumerate(rules, start=1)
        if kind in (None, rule.type) and resource in (None, *rule.resources)
    ]


def read_rule(c: Call) -> object:
    name = c.text("rule")
    rules = sorted(c.state.ha.rules.values(), key=lambda r: r.rule)
    for order, rule in enumerate(rules, start=1):
        if rule.rule == name:
            return {**rule.record(order), "digest": _digest(c)}
    raise fail(f"no such ha rule '{name}'")


def ha_status(c: Call) -> object:
    """Quorum always; the manager, each node's LRM and every HA resource once HA is in use."""
    state, now = c.state, int(c.now)
    nodes = list(state.nodes.values())
    quorate = sum(n.online for n in nodes) * 2 > len(nodes)
    items: list[dict[str, object]] = [
        {"id": "quorum", "type": "quorum", "node": state.local_node, "quorate": int(quorate), "status": "OK"}
    ]
    guests = managed(state.guests)
    if not guests:
        return items
    master = next((n.name for n in nodes if n.online), state.local_node)
    status = f"{master} (active, {_stamp(now)})"
    items.append({"id": "master", "type": "master", "node": master, "status": status, "timestamp": now})
    busy = {g.node for g in guests}
    for node in nodes:
        mode = ("active" if node.name in busy else "idle") if node.online else "old timestamp - dead?"
        status = f"{node.name} ({mode}, {_stamp(now)})"
        items.append({"id": f"lrm:{node.name}", "type": "lrm", "node": node.name, "status": status, "timestamp": now})
    for guest in guests:
        items.append(_service(c, guest))
    return items


def _service(c: Call, guest: Guest) -> dict[str, object]:
    sid, current = sid_of(guest), service_state(c.state.ha, guest)
    opts = c.state.ha.of(guest)
    item: dict[str, object] = {
        "id": f"service:{sid}",
        "type": "service",
        "sid": sid,
        "node": guest.node,
        "state": current,
        "request_state": guest.hastate,
        "crm_state": current,
        "max_restart": 1 if opts.max_restart is None else opts.max_restart,
        "max_relocate": 1 if opts.max_relocate is None else opts.max_relocate,
        "failback": 1 if opts.failback is None else opts.failback,
        "status": f"{sid} ({guest.node}, {current})",
    }
    request = c.state.ha.requests.get(guest)
    if request is not None:
        item["status"] = f"{sid} ({guest.node}, {current} to {request.target})"
    return item


ROUTES: tuple[Route, ...] = (
    Route("GET", "/cluster/ha/status/current", (), ha_status),
    Route("GET", "/cluster/ha/resources", (text("type", enum=("ct", "vm")),), list_resources),
    Route("POST", "/cluster/ha/resources", (*OPTIONS, text("type", enum=("ct", "vm"))), create_resource),
    Route("GET", "/cluster/ha/resources/{sid}", (SID,), read_resource),
    Route(
        "PUT",
        "/cluster/ha/resources/{sid}",
        (*OPTIONS, text("delete", format="pve-configid-list", max_length=4096), text("digest", max_length=64)),
        update_resource,
    ),
    Route("DELETE", "/cluster/ha/resources/{sid}", (SID, flag("purge")), delete_resource),
    Route("POST", "/cluster/ha/resources/{sid}/migrate", (SID, TARGET), lambda c: _motion(c, "migrate")),
    Route("POST", "/cluster/ha/resources/{sid}/relocate", (SID, TARGET), lambda c: _motion(c, "relocate")),
    Route(
        "GET",
        "/cluster/ha/rules",
        (text("resource"), text("type", enum=("node-affinity", "resource-affinity"))),
        list_rules,
    ),
    Route("GET", "/cluster/ha/rules/{rule}", (text("rule", optional=False, format="pve-configid"),), read_rule),
)
