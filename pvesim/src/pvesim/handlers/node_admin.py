"""Node administration: services, the APT package lists, disks and SMART, certificates, the journal,
the subscription and the node config."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from ..errors import fail
from ..journal import Entry, entries, line
from ..params import NODE, Param, flag, integer, text
from ..routes import Call, Route
from ..state.node_admin import Disk, certificates, disks_of, subscription
from ..state.records import Node, Task
from .monitoring import SERVICES, UNIT_NAMES

SERVICE = text("service", optional=False, enum=tuple(SERVICES))
# pveproxy and pvedaemon serve the API itself: PVE only restarts them.
RESTART_ONLY = ("pvedaemon", "pveproxy")
SERVICES_PM_LINE = 145
CURSOR = re.compile(r"(?:^|;)i=([0-9a-f]+)(?:;|$)")
NODE_CONFIG_KEYS = (
    "acme", *(f"acmedomain{i}" for i in range(6)), "ballooning-target", "description",
    "startall-onboot-delay", "wakeonlan",
)  # fmt: skip


def _service(c: Call, service: str) -> dict[str, object]:
    desc, sub, active, unit = SERVICES[service]
    if service == "corosync" and len(c.state.nodes) < 2:
        sub, active = "dead", "inactive"
    sub, active = c.state.node_admin.service_state(c.node, service, c.now, (sub, active))
    name = UNIT_NAMES.get(service, service)
    return {"service": service, "name": name, "desc": desc, "state": sub, "active-state": active, "unit-state": unit}


def service_index(c: Call) -> object:
    return [{"subdir": s} for s in ("state", "start", "stop", "restart", "reload")]


def service_state(c: Call) -> object:
    return _service(c, c.text("service"))


def service_command(command: str, kind: str) -> Callable[[Call], object]:
    """A systemctl worker (srvstart, srvstop, srvrestart); the unit changes state when it ends."""

    def handler(c: Call) -> object:
        service, node = c.text("service"), c.node
        records = c.state.node_admin.of(node, c.now)
        default = SERVICES[service]

        def act(task: Task) -> str | None:
            if service in RESTART_ONLY and command != "restart":
                where = f"/usr/share/perl5/PVE/API2/Services.pm line {SERVICES_PM_LINE}."
                return f"invalid service cmd '{service} {command}': ERROR at {where}"
            unit = UNIT_NAMES.get(service, service)
            if default[3] == "not-found":
                task.log.append(f"Failed to {command} {unit}.service: Unit {unit}.service not found.")
                return f"command 'systemctl {command} {unit}' failed: exit code 5"
            if command == "stop":
                records.services[service] = ("dead", "inactive")
            else:
                running = default[1] if default[2] == "active" else "running"
                records.services[service] = (running, "active")
            return None

        return c.ctx.runner.start(node, kind, service, c.ctx.user, action=act).upid

    return handler


def apt_list(c: Call) -> object:
    return c.state.node_admin.updates(c.node, c.now)


def apt_refresh(c: Call) -> object:
    """apt-get update: the node sees what the repositories published up to the task's end."""
    node = c.node
    records = c.state.node_admin.of(node, c.now)
    lines = [
        "starting apt-get update",
        "Hit:1 http://security.debian.org/debian-security trixie-security InRelease",
        "Hit:2 http://deb.debian.org/debian trixie InRelease",
        "Get:3 http://deb.debian.org/debian trixie-updates InRelease [47.3 kB]",
        "Get:4 http://download.proxmox.com/debian/pve trixie InRelease [2,771 B]",
        "Get:5 http://download.proxmox.com/debian/pve trixie/pve-no-subscription amd64 Packages [412 kB]",
        "Fetched 462 kB in 1s (389 kB/s)",
        "Reading package lists...",
    ]

    def act(task: Task) -> str | None:
        records.apt_refreshed = task.end_at
        return None

    return c.ctx.runner.start(node, "aptupdate", "", c.ctx.user, action=act, lines=lines).upid


def _disk_item(disk: Disk, smart: bool) -> dict[str, object]:
    item: dict[str, object] = {
        "devpath": disk.devpath,
        "size": disk.size,
        "model": disk.model,
        "serial": disk.serial,
        "vendor": "ATA" if disk.kind == "hdd" else "unknown",
        "wwn": "unknown",
        "type": disk.kind,
        "rpm": disk.rpm,
        "gpt": 1 if disk.parts else 0,
        "mounted": 0,
        "osdid": -1,
        "osdid-list": None,
        "by_id_link": f"/dev/disk/by-id/{'nvme' if disk.kind == 'nvme' else 'ata'}-{disk.model}_{disk.serial}",
    }
    if disk.used is not None:
        item["used"] = disk.used
    if smart:
        item["health"] = disk.health
        item["wearout"] = disk.wearout
    return item


def _partitions(disk: Disk) -> list[dict[str, object]]:
    sep = "p" if disk.kind == "nvme" else ""
    return [
        {
            "devpath": f"{disk.devpath}{sep}{number}",
            "parent": disk.devpath,
            "size": size,
            "used": used,
            "type": "partition",
            "gpt": 1,
            "mounted": 1 if used == "EFI" else 0,
            "osdid": -1,
            "osdid-list": None,
            "wwn": "unknown",
        }
        for number, size, used in disk.parts
    ]


def disks_list(c: Call) -> object:
    """PVE's filters: 'unused' drops disks in use; 'journal_disks' keeps unused, LVM and GPT-partitioned ones."""
    kind, smart = c.opt_text("type"), not c.flag("skipsmart")
    items: list[dict[str, object]] = []
    for disk in disks_of(c.node):
        if kind == "unused" and disk.used is not None:
            continue
        if (
            kind == "journal_disks"
            and disk.used not in (None, "LVM")
            and not (disk.used == "partitions" and disk.parts)
        ):
            continue
        items.append(_disk_item(disk, smart))
        if c.flag("include-partitions"):
            items += _partitions(disk)
    return items


ATA_ATTRIBUTES = (
    (1, "Raw_Read_Error_Rate", "POSR--", 6),
    (5, "Reallocated_Sector_Ct", "PO--CK", 10),
    (9, "Power_On_Hours", "-O--CK", 0),
    (194, "Temperature_Celsius", "-O---K", 0),
    (197, "Current_Pending_Sector", "-O--C-", 0),
    (198, "Offline_Uncorrectable", "----C-", 0),
)


def _smart(disk: Disk, healthonly: bool) -> dict[str, object]:
    if healthonly:
        return {"health": disk.health}
    if disk.kind == "nvme":
        lines = [
            "SMART/Health Information (NVMe Log 0x02)",
            "Critical Warning:                   0x00",
            "Temperature:                        41 Celsius",
            "Available Spare:                    100%",
            "Available Spare Threshold:          10%",
            f"Percentage Used:                    {100 - int(disk.wearout)}%",
            f"Power On Hours:                     {disk.hours:,}",
            "Unsafe Shutdowns:                   7",
            "Media and Data Integrity Errors:    0",
            "Error Information Log Entries:      0",
        ]
        return {"health": disk.health, "type": "text", "text": "\n".join(lines) + "\n"}
    bad = disk.health == "FAILED"
    raw = {9: disk.hours, 194: 34, 5: 1912 if bad else 0, 197: 48 if bad else 0, 198: 48 if bad else 0}
    attributes = []
    for number, name, flags, threshold in ATA_ATTRIBUTES:
        value = 3 if bad and number == 5 else 100 if number != 194 else 34
        attributes.append(
            {
                "id": f"{number:>3}",
                "name": name,
                "value": value,
                "worst": value,
                "threshold": threshold,
                "fail": "NOW" if value <= threshold else "-",
                "flags": flags,
                "raw": str(raw.get(number, 0)),
                "normalized": value,
            }
        )
    return {"health": disk.health, "type": "ata", "attributes": attributes}


def disks_smart(c: Call) -> object:
    path = c.text("disk")
    disk = next((d for d in disks_of(c.node) if d.devpath == path), None)
    if disk is None:
        raise fail("not a valid block device")
    return _smart(disk, c.flag("healthonly"))


def certificates_info(c: Call) -> object:
    admin = c.state.node_admin
    admin.of(c.node, c.now)
    assert admin.anchor is not None
    return certificates(c.node, c.state.cluster_name, admin.anchor)


def node_subscription(c: Call) -> object:
    return subscription(c.node)


def node_config(c: Call) -> object:
    """The whole config with its digest, or just the property asked for."""
    config = c.state.node_admin.of(c.node, c.now).config
    wanted = c.opt_text("property") or "all"
    if wanted != "all":
        return {wanted: config[wanted]} if wanted in config else {}
    text_form = "".join(f"{k}: {v}\n" for k, v in sorted(config.items()))
    digest = hashlib.sha1(text_form.encode(), usedforsecurity=False).hexdigest()
    return {**config, "digest": digest}


def _cursor(node: Node, seq: int, entry: Entry) -> str:
    boot = hashlib.sha256(f"boot-{node.name}-{node.boot_time}".encode()).hexdigest()[:32]
    usec = int(entry.at * 1_000_000)
    mono = int((entry.at - node.boot_time) * 1_000_000)
    check = hashlib.sha256(f"{boot}{seq}".encode()).hexdigest()[:16]
    return f"s={boot};i={seq:x};b={boot};m={mono:x};t={usec:x};x={check}"


def _seek(text_cursor: str, flag_name: str) -> int:
    match = CURSOR.search(text_cursor)
    if match is None:
        raise fail(f"command '/usr/bin/mini-journalreader -j {flag_name} {text_cursor}' failed: exit code 1")
    return int(match.group(1), 16)


def node_journal(c: Call) -> object:
    """mini-journalreader: the cursor of the first entry, the entries, then the cursor of the last one."""
    node = c.node
    numbered = list(enumerate(entries(c.state, node, c.now), start=1))
    since, until = c.opt_int("since"), c.opt_int("until")
    start = _seek(c.text("startcursor"), "-f") if "startcursor" in c.params else None
    end = _seek(c.text("endcursor"), "-t") if "endcursor" in c.params else None
    chosen = [
        (seq, e)
        for seq, e in numbered
        if (since is None or e.at >= since)
        and (until is None or e.at <= until)
        and (start is None or seq > start)
        and (end is None or seq < end)
    ]
    last = c.opt_int("lastentries")
    if last:
        chosen = chosen[-last:]
    if not chosen:
        return []
    lines = [line(node, e) for _, e in chosen]
    return [_cursor(node, *chosen[0]), *lines, _cursor(node, *chosen[-1])]


SERVICE_PARAMS: tuple[Param, ...] = (NODE, SERVICE)

ROUTES = (
    Route("GET", "/nodes/{node}/services/{service}", SERVICE_PARAMS, service_index),
    Route("GET", "/nodes/{node}/services/{service}/state", SERVICE_PARAMS, service_state),
    Route("POST", "/nodes/{node}/services/{service}/start", SERVICE_PARAMS, service_command("start", "srvstart")),
    Route("POST", "/nodes/{node}/services/{service}/stop", SERVICE_PARAMS, service_command("stop", "srvstop")),
    Route("POST", "/nodes/{node}/services/{service}/restart", SERVICE_PARAMS, service_command("restart", "srvrestart")),
    Route("GET", "/nodes/{node}/apt/update", (NODE,), apt_list),
    Route("POST", "/nodes/{node}/apt/update", (NODE, flag("notify"), flag("quiet")), apt_refresh),
    Route(
        "GET",
        "/nodes/{node}/disks/list",
        (NODE, flag("include-partitions"), flag("skipsmart"), text("type", enum=("unused", "journal_disks"))),
        disks_list,
    ),
    Route(
        "GET",
        "/nodes/{node}/disks/smart",
        (NODE, text("disk", optional=False, pattern=r"^/dev/[a-zA-Z0-9\/]+$"), flag("healthonly")),
        disks_smart,
    ),
    Route("GET", "/nodes/{node}/certificates/info", (NODE,), certificates_info),
    Route("GET", "/nodes/{node}/subscription", (NODE,), node_subscription),
    Route("GET", "/nodes/{node}/config", (NODE, text("property", enum=NODE_CONFIG_KEYS)), node_config),
    Route(
        "GET",
        "/nodes/{node}/journal",
        (
            NODE,
            integer("since", minimum=0),
            integer("until", minimum=0),
            integer("lastentries", minimum=0),
            text("startcursor"),
            text("endcursor"),
        ),
        node_journal,
    ),
)
