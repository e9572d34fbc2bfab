"""Monitoring endpoints: RRD data, node facts, the journal, services, guest-agent reads, cloud-init dumps."""

from __future__ import annotations

from ..errors import fail
from ..guest_agent import fsinfo, info, network, osinfo
from ..journal import read as read_journal
from ..params import NODE, VMID, Param, integer, text
from ..routes import Call, Reply, Route
from ..rrd import guest_rows, node_rows, storage_rows
from ..state import cloudinit
from .guest_exec import agent

CF = text("cf", enum=("AVERAGE", "MAX"))
GUEST_TIMEFRAME = text("timeframe", optional=False, enum=("hour", "day", "week", "month", "year"))
NODE_TIMEFRAME = text("timeframe", optional=False, enum=("hour", "day", "week", "month", "year", "decade"))
JOURNAL_DATE = r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$"


def node_rrd(c: Call) -> object:
    return node_rows(c.state, c.node, c.text("timeframe"), c.opt_text("cf") or "AVERAGE", c.now)


def qemu_rrd(c: Call) -> object:
    return guest_rows(c.state, c.guest("qemu"), c.text("timeframe"), c.opt_text("cf") or "AVERAGE", c.now)


def lxc_rrd(c: Call) -> object:
    return guest_rows(c.state, c.guest("lxc"), c.text("timeframe"), c.opt_text("cf") or "AVERAGE", c.now)


def storage_rrd(c: Call) -> object:
    """pvestatd keeps a file per node for each storage it can use there; for any other there is none."""
    name = c.text("storage")
    storage = c.state.storages.get(name)
    if storage is None or not storage.available_on(c.node.name):
        path = f"/var/lib/rrdcached/db/pve-storage-9.0/{c.node.name}/{name}"
        raise fail(f"RRD error: opening '{path}': No such file or directory")
    return storage_rows(c.state, storage, c.node, c.text("timeframe"), c.opt_text("cf") or "AVERAGE", c.now)


def node_version(c: Call) -> object:
    s = c.state
    return {"version": s.pve_version, "release": s.release, "repoid": s.repoid}


def node_dns(c: Call) -> object:
    return cloudinit.node_dns(c.node)


def node_time(c: Call) -> object:
    """The nodes keep UTC, so local time and UNIX time agree."""
    now = int(c.now)
    return {"timezone": "UTC", "time": now, "localtime": now}


def syslog(c: Call) -> object:
    try:
        total, lines = read_journal(
            c.state,
            c.node,
            c.now,
            start=c.opt_int("start", 0) or 0,
            limit=c.opt_int("limit", 0) or 0,
            since=c.opt_text("since"),
            until=c.opt_text("until"),
            service=c.opt_text("service"),
        )
    except ValueError as exc:
        raise fail(f"command 'journalctl -o short --no-pager' failed: Failed to parse timestamp: {exc}") from exc
    return Reply(lines, total=total)


# service → (unit description, systemd sub-state, active state, unit file state) on a healthy node
SERVICES: dict[str, tuple[str, str, str, str]] = {
    "chrony": ("chrony, an NTP client/server", "running", "active", "enabled"),
    "corosync": ("Corosync Cluster Engine", "running", "active", "enabled"),
    "cron": ("Regular background program processing daemon", "running", "active", "enabled"),
    "ksmtuned": ("Kernel Samepage Merging (KSM) Tuning Daemon", "running", "active", "enabled"),
    "lxcfs": ("FUSE filesystem for LXC", "running", "active", "enabled"),
    "postfix": ("Postfix Mail Transport Agent", "exited", "active", "enabled"),
    "proxmox-firewall": ("Proxmox nftables firewall", "dead", "inactive", "disabled"),
    "pve-cluster": ("The Proxmox VE cluster filesystem", "running", "active", "enabled"),
    "pve-firewall": ("Proxmox VE firewall", "running", "active", "enabled"),
    "pve-ha-crm": ("PVE Cluster HA Resource Manager Daemon", "running", "active", "enabled"),
    "pve-ha-lrm": ("PVE Local HA Resource Manager Daemon", "running", "active", "enabled"),
    "pve-lxc-syscalld": ("Proxmox VE LXC Syscall Daemon", "running", "active", "enabled"),
    "pvedaemon": ("PVE API Daemon", "running", "active", "enabled"),
    "pvefw-logger": ("Proxmox VE firewall logger", "running", "active", "enabled"),
    "pveproxy": ("PVE API Proxy Server", "running", "active", "enabled"),
    "pvescheduler": ("Proxmox VE scheduler", "running", "active", "enabled"),
    "pvestatd": ("PVE Status Daemon", "running", "active", "enabled"),
    "qmeventd": ("PVE Qemu Event Daemon", "running", "active", "enabled"),
    "spiceproxy": ("PVE SPICE Proxy Server", "running", "active", "enabled"),
    "sshd": ("OpenBSD Secure Shell server", "running", "active", "enabled"),
    "syslog": ("syslog.service", "dead", "inactive", "not-found"),
    "systemd-journald": ("Journal Service", "running", "active", "static"),
    "systemd-timesyncd": ("systemd-timesyncd.service", "dead", "inactive", "not-found"),
}
UNIT_NAMES = {"sshd": "ssh"}


def services(c: Call) -> object:
    """A single node has no corosync.conf, so corosync's start condition fails there."""
    clustered = len(c.state.nodes) > 1
    items = []
    for service, (desc, state, active, unit) in SERVICES.items():
        if service == "corosync" and not clustered:
            state, active = "dead", "inactive"
        state, active = c.state.node_admin.service_state(c.node, service, c.now, (state, active))
        items.append(
            {
                "service": service,
                "name": UNIT_NAMES.get(service, service),
                "desc": desc,
                "state": state,
                "active-state": active,
                "unit-state": unit,
            }
        )
    return items


def cloudinit_dump(c: Call) -> object:
    return cloudinit.dump(c.guest("qemu"), c.node, c.text("type"))


RRD_PARAMS: tuple[Param, ...] = (NODE, VMID, GUEST_TIMEFRAME, CF)
AGENT_ROUTES = {
    "info": lambda g, c: info(g),
    "network-get-interfaces": lambda g, c: network(g, c.node, c.now),
    "get-osinfo": lambda g, c: osinfo(g),
    "get-fsinfo": lambda g, c: fsinfo(g),
}

ROUTES = (
    Route("GET", "/nodes/{node}/rrddata", (NODE, NODE_TIMEFRAME, CF), node_rrd),
    Route("GET", "/nodes/{node}/qemu/{vmid}/rrddata", RRD_PARAMS, qemu_rrd),
    Route("GET", "/nodes/{node}/lxc/{vmid}/rrddata", RRD_PARAMS, lxc_rrd),
    Route(
        "GET",
        "/nodes/{node}/storage/{storage}/rrddata",
        (NODE, text("storage", optional=False, format="pve-storage-id"), GUEST_TIMEFRAME, CF),
        storage_rrd,
    ),
    Route("GET", "/nodes/{node}/version", (NODE,), node_version),
    Route("GET", "/nodes/{node}/dns", (NODE,), node_dns),
    Route("GET", "/nodes/{node}/time", (NODE,), node_time),
    Route(
        "GET",
        "/nodes/{node}/syslog",
        (
            NODE,
            integer("limit", minimum=0),
            integer("start", minimum=0),
            text("since", pattern=JOURNAL_DATE),
            text("until", pattern=JOURNAL_DATE),
            text("service", max_length=128),
        ),
        syslog,
    ),
    Route("GET", "/nodes/{node}/services", (NODE,), services),
    *(
        Route("GET", f"/nodes/{{node}}/qemu/{{vmid}}/agent/{cmd}", (NODE, VMID), agent(fn))
        for cmd, fn in AGENT_ROUTES.items()
    ),
    Route(
        "GET",
        "/nodes/{node}/qemu/{vmid}/cloudinit/dump",
        (NODE, VMID, text("type", optional=False, enum=("user", "network", "meta"))),
        cloudinit_dump,
    ),
)
