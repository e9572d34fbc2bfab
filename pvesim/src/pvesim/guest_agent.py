"""The QEMU guest agent inside simulated VMs: when it answers, and what it says.

PVE checks, in this order, that the config has an ``agent`` entry ("No QEMU guest agent configured"),
that the VM runs ("VM <id> is not running") and that the agent answers a ping ("QEMU guest agent is
not running"). The agent answers only when it is enabled, the VM is not paused and the guest has had
time to boot. Answers are derived from the VM's config and profile, so they agree with its status.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import fail
from .state.metrics import guest_usage, max_disk
from .state.records import Guest, Node

BOOT_SECONDS = 20  # the agent starts this long after the VM


@dataclass(frozen=True, slots=True)
class GuestOS:
    agent_version: str
    osinfo: dict[str, str]


LINUX = (
    GuestOS(
        "10.0.2",
        {
            "id": "debian",
            "name": "Debian GNU/Linux",
            "pretty-name": "Debian GNU/Linux 13 (trixie)",
            "version": "13 (trixie)",
            "version-id": "13",
            "kernel-release": "6.12.48+deb13-amd64",
            "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.12.48-1 (2025-09-20)",
            "machine": "x86_64",
        },
    ),
    GuestOS(
        "8.2.2",
        {
            "id": "ubuntu",
            "name": "Ubuntu",
            "pretty-name": "Ubuntu 24.04.3 LTS",
            "version": "24.04.3 LTS (Noble Numbat)",
            "version-id": "24.04",
            "kernel-release": "6.8.0-85-generic",
            "kernel-version": "#85-Ubuntu SMP PREEMPT_DYNAMIC Thu Sep 18 15:26:59 UTC 2025",
            "machine": "x86_64",
        },
    ),
    GuestOS(
        "9.1.0",
        {
            "id": "rocky",
            "name": "Rocky Linux",
            "pretty-name": "Rocky Linux 9.6 (Blue Onyx)",
            "version": "9.6 (Blue Onyx)",
            "version-id": "9.6",
            "kernel-release": "5.14.0-570.42.2.el9_6.x86_64",
            "kernel-version": "#1 SMP PREEMPT_DYNAMIC Tue Sep 16 09:47:21 UTC 2025",
            "machine": "x86_64",
        },
    ),
)
WINDOWS = GuestOS(
    "108.0.2",
    {
        "id": "mswindows",
        "name": "Microsoft Windows",
        "pretty-name": "Windows Server 2022 Datacenter",
        "version": "Microsoft Windows Server 2022",
        "version-id": "2022",
        "variant": "server",
        "variant-id": "server",
        "kernel-release": "20348",
        "kernel-version": "10.0",
        "machine": "x86_64",
    },
)
COMMANDS = (
    "guest-exec", "guest-exec-status", "guest-file-close", "guest-file-flush", "guest-file-open",
    "guest-file-read", "guest-file-seek", "guest-file-write", "guest-fsfreeze-freeze",
    "guest-fsfreeze-freeze-list", "guest-fsfreeze-status", "guest-fsfreeze-thaw", "guest-fstrim",
    "guest-get-devices", "guest-get-disks", "guest-get-fsinfo", "guest-get-host-name",
    "guest-get-memory-block-info", "guest-get-memory-blocks", "guest-get-osinfo", "guest-get-time",
    "guest-get-timezone", "guest-get-users", "guest-get-vcpus", "guest-info", "guest-network-get-interfaces",
    "guest-ping", "guest-set-memory-blocks", "guest-set-time", "guest-set-user-password", "guest-set-vcpus",
    "guest-shutdown", "guest-suspend-disk", "guest-suspend-hybrid", "guest-suspend-ram", "guest-sync",
    "guest-sync-delimited",
)  # fmt: skip
NO_RESPONSE = frozenset({"guest-shutdown", "guest-suspend-disk", "guest-suspend-hybrid", "guest-suspend-ram"})
BOOT_DISKS = ("scsi0", "virtio0", "sata0", "ide0")


def agent_enabled(guest: Guest) -> bool:
    first = str(guest.config.get("agent", "0")).split(",")[0]
    return first in ("1", "enabled=1")


def windows(guest: Guest) -> bool:
    return str(guest.config.get("ostype", "")).startswith("win")


def guest_os(guest: Guest) -> GuestOS:
    return WINDOWS if windows(guest) else LINUX[guest.vmid % len(LINUX)]


def require_agent(guest: Guest, now: float) -> None:
    """PVE's three checks before any guest-agent command, with its wording."""
    if "agent" not in guest.config:
        raise fail("No QEMU guest agent configured")
    if not guest.running:
        raise fail(f"VM {guest.vmid} is not running")
    booted = guest.started_at is not None and now - guest.started_at >= BOOT_SECONDS
    if not agent_enabled(guest) or guest.paused or not booted:
        raise fail("QEMU guest agent is not running")


def info(guest: Guest) -> dict[str, object]:
    commands = [{"name": name, "enabled": True, "success-response": name not in NO_RESPONSE} for name in COMMANDS]
    return {"version": guest_os(guest).agent_version, "supported_commands": commands}


def osinfo(guest: Guest) -> dict[str, object]:
    return dict(guest_os(guest).osinfo)


def _net_option(spec: str, key: str) -> str | None:
    for part in spec.split(","):
        name, _, value = part.partition("=")
        if name == key:
            return value
    return None


def _mac(net: str) -> str:
    """The MAC of a netX entry: model=MAC first, or macaddr=."""
    model, _, value = net.split(",", 1)[0].partition("=")
    return (value if model and value else _net_option(net, "macaddr") or "").lower()


def _link_local(mac: str) -> str:
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    groups = [f"{(eui[i] << 8) | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


def _address(guest: Guest, node: Node, index: int) -> tuple[str, int]:
    """The static address from ipconfigN, else the one DHCP handed out on the node's network."""
    ip = _net_option(str(guest.config.get(f"ipconfig{index}", "")), "ip")
    if ip and "/" in ip:
        addr, _, prefix = ip.partition("/")
        return addr, int(prefix)
    block = node.ip.rsplit(".", 1)[0]
    return f"{block}.{100 + (guest.vmid * 7 + index) % 150}", 24


def network(guest: Guest, node: Node, now: float) -> list[dict[str, object]]:
    usage = guest_usage(guest, now)
    interfaces: list[dict[str, object]] = []
    if not windows(guest):
        interfaces.append(
            {
                "name": "lo",
                "hardware-address": "00:00:00:00:00:00",
                "ip-addresses": [
                    {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
                    {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128},
                ],
                "statistics": _stats(usage.netin // 50, usage.netin // 50),
            }
        )
    nets = sorted((k for k in guest.config if k.startswith("net") and k[3:].isdigit()), key=lambda k: int(k[3:]))
    for position, key in enumerate(nets):
        index = int(key[3:])
        mac = _mac(str(guest.config[key]))
        addr, prefix = _address(guest, node, index)
        share = 1.0 if position == 0 else 0.1
        interfaces.append(
            {
                "name": f"Ethernet {position + 1}" if windows(guest) else f"ens{18 + index}",
                "hardware-address": mac,
                "ip-addresses": [
                    {"ip-address-type": "ipv4", "ip-address": addr, "prefix": prefix},
                    {"ip-address-type": "ipv6", "ip-address": _link_local(mac), "prefix": 64},
                ],
                "statistics": _stats(int(usage.netin * share), int(usage.netout * share)),
            }
        )
    return interfaces


def _stats(rx: int, tx: int) -> dict[str, int]:
    return {
        "rx-bytes": rx,
        "rx-packets": rx // 900,
        "rx-errs": 0,
        "rx-dropped": rx // 9_000_000,
        "tx-bytes": tx,
        "tx-packets": tx // 700,
        "tx-errs": 0,
        "tx-dropped": 0,
    }


def fsinfo(guest: Guest) -> list[dict[str, object]]:
    """The root filesystem on the boot disk, sized from the config and the profile."""
    slot = next((d for d in BOOT_DISKS if d in guest.config), "scsi0")
    total = int(max_disk(guest) * 0.96)
    used = int(total * guest.profile.disk_frac)
    bus = "".join(c for c in slot if c.isalpha())
    unit = int(slot[len(bus) :] or 0)
    disk = {
        "bus-type": "scsi" if bus == "scsi" else "virtio" if bus == "virtio" else "sata" if bus == "sata" else "ide",
        "bus": 0,
        "target": 0,
        "unit": unit,
        "pci-controller": {"domain": 0, "bus": 9, "slot": 1 + unit, "function": 0},
        "serial": f"drive-{slot}",
    }
    if windows(guest):
        return [
            {
                "name": "\\\\?\\Volume{8f1c2e61-0000-0000-0000-100000000000}\\",
                "mountpoint": "C:\\",
                "type": "NTFS",
                "total-bytes": total,
                "used-bytes": used,
                "disk": [disk],
            }
        ]
    device = "vda1" if bus == "virtio" else "sda1"
    return [
        {
            "name": device,
            "mountpoint": "/",
            "type": "ext4",
            "total-bytes": total,
            "used-bytes": used,
            "disk": [{**disk, "dev": f"/dev/{device}"}],
        }
    ]


def users(guest: Guest) -> list[dict[str, object]]:
    """Who is logged in: the cloud-init user (else root, or Administrator on Windows) since the agent came up."""
    assert guest.started_at is not None  # require_agent passed: the VM runs
    login = round(guest.started_at + BOOT_SECONDS + 40 + guest.vmid % 60 + 0.123456, 6)
    if windows(guest):
        return [{"user": "Administrator", "domain": str(guest.config.get("name", "WIN")).upper(), "login-time": login}]
    return [{"user": str(guest.config.get("ciuser", "root")), "login-time": login}]


def guest_time(now: float) -> int:
    """guest-get-time: nanoseconds since the epoch, the guest's clock a little behind the host's."""
    return int((now - 0.0042) * 1_000_000_000)


def files(guest: Guest) -> dict[str, str]:
    """The few guest files the simulator knows, by absolute path."""
    info = guest_os(guest).osinfo
    hostname = guest.name
    if windows(guest):
        hosts = "# Copyright (c) 1993-2009 Microsoft Corp.\r\n127.0.0.1       localhost\r\n"
        return {"C:\\Windows\\System32\\drivers\\etc\\hosts": hosts}
    fields = (("PRETTY_NAME", "pretty-name"), ("NAME", "name"), ("VERSION_ID", "version-id"), ("ID", "id"))
    return {
        "/etc/os-release": "".join(f'{key}="{info[src]}"\n' for key, src in fields if src in info),
        "/etc/hostname": hostname + "\n",
        "/etc/hosts": f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n",
        "/etc/machine-id": f"{guest.vmid:08x}" + "5a1c0ffee0ddba11" + "0" * 8 + "\n",
    }


def read_file(guest: Guest, path: str, offset: int, count: int) -> tuple[bytes, bool]:
    """guest-file-open/-seek/-read: (bytes, truncated); a missing file fails as qemu-guest-agent does."""
    content = files(guest).get(path)
    if content is None:
        raise fail(
            f"VM {guest.vmid} qmp command 'guest-file-open' failed - "
            f"failed to open file '{path}' (mode: 'r'): No such file or directory"
        )
    data = content.encode()[offset:]
    return data[:count], len(data) > count
