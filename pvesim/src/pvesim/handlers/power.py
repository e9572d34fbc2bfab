"""Start, stop, shutdown, reboot, reset, suspend and resume, with PVE's own preconditions.

Which checks fail the request and which fail the task follows PVE: e.g. a QEMU start on a
running VM returns a UPID whose task ends in "VM 100 already running", while an LXC start
on a running container is refused at once with "CT 200 already running". The state change
lands when the task finishes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..errors import fail, param_error
from ..params import NODE, VMID, Param, flag, integer, text
from ..routes import Call, Route
from ..state import cloudinit
from ..state.admin import apply_pending
from ..state.records import Guest, GuestType, Task

Effect = Callable[[Guest, float], str | None]
TIMEOUT = integer("timeout", minimum=0)
SKIPLOCK = flag("skiplock")
ROOT_ONLY = (
    "skiplock",
    "keepActive",
    "migratedfrom",
    "nocheck",
    "stateuri",
    "migration_type",
    "migration_network",
    "targetstorage",
    "force-cpu",
    "with-conntrack-state",
    "nets-host-mtu",
)


def _boot(c: Call, guest: Guest, at: float) -> None:
    apply_pending(c.state.admin, guest)
    cloudinit.regenerate(c.state.admin.of(guest).cloudinit, guest)  # a start writes the cloud-init drive
    guest.status = "running"
    guest.paused = False
    guest.saved_state = False
    guest.hastate = "started" if guest.hastate == "stopped" else guest.hastate  # PVE routes it through HA
    guest.started_at = at
    guest.pid = c.state.nodes[guest.node].new_pid()


def _halt(guest: Guest) -> None:
    guest.status = "stopped"
    guest.hastate = "stopped" if guest.hastate == "started" else guest.hastate  # PVE routes it through HA
    guest.paused = False
    guest.started_at = None
    guest.pid = None


def _fork(c: Call, guest: Guest, kind: str, effect: Effect) -> str:
    """Start the worker; its effect runs at completion, if the guest is still where it was."""
    node, vmid, guest_type = guest.node, guest.vmid, guest.type

    def action(task: Task) -> str | None:
        if c.state.guest_on(node, vmid, guest_type) is not guest:
            where = "qemu-server" if guest_type == "qemu" else "lxc"
            return f"Configuration file 'nodes/{node}/{where}/{vmid}.conf' does not exist"
        return effect(guest, task.end_at)

    return c.ctx.runner.start(c.node, kind, str(vmid), c.ctx.user, action=action, lock=f"vm/{vmid}").upid


def _root_only(c: Call) -> None:
    """Options PVE reserves for root@pam; an API token of root is not root@pam."""
    for name in ROOT_ONLY:
        if c.params.get(name) and c.ctx.user != "root@pam":
            raise param_error({name: "Only root may use this option."})


def qemu_action(action: str, c: Call) -> object:
    _root_only(c)
    if "statestorage" in c.params and not c.flag("todisk"):
        raise param_error({"todisk": "missing property - 'statestorage' requires this property"})
    guest = c.guest("qemu")
    vmid = guest.vmid
    not_running = f"VM {vmid} not running"

    def start(g: Guest, at: float) -> str | None:
        if g.template:
            return "you can't start a vm if it's a template"
        if g.lock and not c.flag("skiplock"):  # vm_start's check_lock: a lock left by a dead task blocks it
            return f"VM is locked ({g.lock})"
        if g.running:
            return f"VM {vmid} already running"
        _boot(c, g, at)
        return None

    def stop(g: Guest, at: float) -> str | None:
        if g.running:
            _halt(g)
        return None

    def reboot(g: Guest, at: float) -> str | None:
        if g.running:
            _boot(c, g, at)
        return None

    def reset(g: Guest, at: float) -> str | None:
        return None if g.running else not_running

    def pause(g: Guest, at: float) -> str | None:
        if not g.running:
            return not_running
        g.paused = True
        return None

    def hibernate(g: Guest, at: float) -> str | None:
        if not g.running:
            return not_running
        _halt(g)
        g.saved_state = True
        return None

    def resume(g: Guest, at: float) -> str | None:
        if g.saved_state:
            _boot(c, g, at)
        elif g.running:
            g.paused = False
        else:
            return not_running
        return None

    if action == "start":
        return _fork(c, guest, "qmstart", start)
    if action == "stop":
        return _fork(c, guest, "qmstop", stop)
    paused = guest.running and guest.paused
    if paused and (action == "reboot" or (action == "shutdown" and not c.flag("forceStop"))):
        raise fail("VM is paused - cannot shutdown")
    if action == "shutdown":
        return _fork(c, guest, "qmshutdown", stop)
    if action == "resume" and (guest.running or guest.saved_state):
        return _fork(c, guest, "qmresume", resume)
    if not guest.running:
        raise fail(not_running)
    if action == "reboot":
        return _fork(c, guest, "qmreboot", reboot)
    if action == "reset":
        return _fork(c, guest, "qmreset", reset)
    if c.flag("todisk"):
        return _fork(c, guest, "qmsuspend", hibernate)
    return _fork(c, guest, "qmpause", pause)


def lxc_action(action: str, c: Call) -> object:
    _root_only(c)
    guest = c.guest("lxc")
    vmid = guest.vmid

    def start(g: Guest, at: float) -> str | None:
        if g.template:
            return "you can't start a CT if it's a template"
        _boot(c, g, at)
        return None

    def stop(g: Guest, at: float) -> str | None:
        _halt(g)
        return None

    def reboot(g: Guest, at: float) -> str | None:
        if g.running:
            _boot(c, g, at)
        return None

    def checkpoint(g: Guest, at: float) -> str | None:
        _halt(g)
        g.saved_state = True
        return None

    def restore(g: Guest, at: float) -> str | None:
        if not g.saved_state:
            return f"command 'lxc-checkpoint -n {vmid} -r --foreground -D /var/lib/vz/dump' failed: exit code 1"
        _boot(c, g, at)
        return None

    if action in ("start", "resume"):
        if guest.running:
            raise fail(f"CT {vmid} already running")
        return _fork(c, guest, "vzstart" if action == "start" else "vzresume", start if action == "start" else restore)
    if not guest.running:
        # PVE's LXC reboot handler really says "VM" here.
        raise fail(f"{'VM' if action == 'reboot' else 'CT'} {vmid} not running")
    effects: dict[str, tuple[str, Effect]] = {
        "stop": ("vzstop", stop),
        "shutdown": ("vzshutdown", stop),
        "reboot": ("vzreboot", reboot),
        "suspend": ("vzsuspend", checkpoint),
    }
    kind, effect = effects[action]
    return _fork(c, guest, kind, effect)


QEMU_PARAMS: dict[str, tuple[Param, ...]] = {
    "start": (
        text("force-cpu"),
        text("machine"),
        text("migratedfrom", format="pve-node"),
        text("migration_network", format="CIDR"),
        text("migration_type", enum=("secure", "insecure")),
        text("nets-host-mtu", pattern=r"net\d+=\d+(,net\d+=\d+)*"),
        SKIPLOCK,
        text("stateuri", max_length=128),
        text("targetstorage", format="storage-pair-list"),
        TIMEOUT,
        flag("with-conntrack-state"),
    ),
    "stop": (
        flag("keepActive"),
        text("migratedfrom", format="pve-node"),
        flag("overrule-shutdown"),
        SKIPLOCK,
        TIMEOUT,
    ),
    "shutdown": (flag("forceStop"), flag("keepActive"), SKIPLOCK, TIMEOUT),
    "reboot": (TIMEOUT,),
    "reset": (SKIPLOCK,),
    "suspend": (SKIPLOCK, text("statestorage", format="pve-storage-id"), flag("todisk")),
    "resume": (flag("nocheck"), SKIPLOCK),
}
LXC_PARAMS: dict[str, tuple[Param, ...]] = {
    "start": (flag("debug"), SKIPLOCK),
    "stop": (flag("overrule-shutdown"), SKIPLOCK),
    "shutdown": (flag("forceStop"), TIMEOUT),
    "reboot": (TIMEOUT,),
    "suspend": (),
    "resume": (),
}


def _routes(kind: GuestType, table: dict[str, tuple[Param, ...]]) -> tuple[Route, ...]:
    handler = qemu_action if kind == "qemu" else lxc_action
    return tuple(
        Route("POST", f"/nodes/{{node}}/{kind}/{{vmid}}/status/{name}", (NODE, VMID, *extra), partial(handler, name))
        for name, extra in table.items()
    )


ROUTES = _routes("qemu", QEMU_PARAMS) + _routes("lxc", LXC_PARAMS)
