"""Guest listings, status and configuration for QEMU VMs and LXC containers."""

from __future__ import annotations

from ..errors import fail
from ..params import NODE, VMID, flag, text
from ..render import config_record, guest_item, guest_status
from ..routes import Call, Route
from ..state.admin import pending_view
from ..state.records import GuestType


def _listing(c: Call, kind: GuestType) -> list[dict[str, object]]:
    node, now, full = c.text("node"), c.now, c.flag("full")
    guests = sorted((g for g in c.state.guests.values() if g.node == node and g.type == kind), key=lambda g: g.vmid)
    return [guest_item(g, now, full) for g in guests]


def qemu_list(c: Call) -> object:
    return _listing(c, "qemu")


def lxc_list(c: Call) -> object:
    return _listing(c, "lxc")


def qemu_status(c: Call) -> object:
    return guest_status(c.guest("qemu"), c.now)


def lxc_status(c: Call) -> object:
    return guest_status(c.guest("lxc"), c.now)


def _config(c: Call, kind: GuestType) -> object:
    """The config with pending changes applied, unless current=1; or a snapshot's config."""
    guest = c.guest(kind)
    snapshot = c.opt_text("snapshot")
    if snapshot is not None:
        snap = c.state.admin.of(guest).snapshots.get(snapshot)
        if snap is None:
            raise fail(f"snapshot '{snapshot}' does not exist")
        return {**snap.config, "snaptime": snap.snaptime, **({"parent": snap.parent} if snap.parent else {})}
    record = config_record(guest)
    return record if c.flag("current") else pending_view(c.state.admin, guest, record)


def qemu_config(c: Call) -> object:
    return _config(c, "qemu")


def lxc_config(c: Call) -> object:
    return _config(c, "lxc")


CONFIG_PARAMS = (NODE, VMID, flag("current"), text("snapshot", format="pve-configid", max_length=40))

ROUTES = (
    Route("GET", "/nodes/{node}/qemu", (NODE, flag("full")), qemu_list),
    Route("GET", "/nodes/{node}/qemu/{vmid}/status/current", (NODE, VMID), qemu_status),
    Route("GET", "/nodes/{node}/qemu/{vmid}/config", CONFIG_PARAMS, qemu_config),
    Route("GET", "/nodes/{node}/lxc", (NODE,), lxc_list),
    Route("GET", "/nodes/{node}/lxc/{vmid}/status/current", (NODE, VMID), lxc_status),
    Route("GET", "/nodes/{node}/lxc/{vmid}/config", CONFIG_PARAMS, lxc_config),
)
