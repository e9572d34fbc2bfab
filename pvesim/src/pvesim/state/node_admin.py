"""Records behind node administration: service states, the APT package cache, disks, certificates,
the subscription and the node config (/etc/pve/nodes/<node>/config).

A node's record is made on first use from the node's own facts, so every node differs but stays the
same from one run to the next. Times outside the cluster (when a package was published, when a
certificate was issued) count from ``anchor``: the moment the simulator was first asked about them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import Node

HOUR = 3600
DAY = 86_400
GB = 1000**3


@dataclass(frozen=True, slots=True)
class Package:
    """One upgradable package as the repositories publish it; ``age``: seconds before the anchor."""

    name: str
    title: str
    version: str
    old: str
    origin: str
    section: str
    arch: str
    age: float

    def record(self) -> dict[str, object]:
        return {
            "Package": self.name,
            "Title": self.title,
            "Description": self.title + ".",
            "Version": self.version,
            "OldVersion": self.old,
            "Origin": self.origin,
            "Section": self.section,
            "Priority": "optional",
            "Arch": self.arch,
        }


# qemu-server came out after the nodes last refreshed their package lists: only a refresh shows it.
PACKAGES = (
    Package("libpve-storage-perl", "Proxmox VE storage management library", "9.0.15", "9.0.14", "Proxmox",
            "perl", "all", 3 * DAY),
    Package("openssl", "Secure Sockets Layer toolkit - cryptographic utility", "3.5.4-1~deb13u1", "3.5.1-1",
            "Debian", "utils", "amd64", 2 * DAY),
    Package("proxmox-kernel-6.17", "Latest Proxmox Kernel Image", "6.17.4-1", "6.17.2-2", "Proxmox", "admin",
            "all", 2 * DAY),
    Package("pve-manager", "Proxmox Virtual Environment Management Tools", "9.1.5", "9.1.4", "Proxmox", "admin",
            "all", DAY),
    Package("qemu-server", "Qemu Server Tools", "9.0.25", "9.0.23", "Proxmox", "admin", "amd64", HOUR),
)  # fmt: skip
LAST_APT_REFRESH = 6 * HOUR  # before the anchor


@dataclass(frozen=True, slots=True)
class Disk:
    """A physical disk; ``parts`` lists (number, size, used) of its GPT partitions."""

    devpath: str
    model: str
    serial: str
    size: int
    kind: str  # ssd, hdd or nvme
    used: str | None
    health: str
    wearout: int | str
    rpm: int
    hours: int
    parts: tuple[tuple[int, int, str], ...] = ()


def _hex(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length].upper()


def disks_of(node: Node) -> tuple[Disk, ...]:
    """The system NVMe (BIOS boot, EFI, LVM) and a data HDD; the last node's HDD is failing."""
    root = 1_000_204_886_016
    parts = ((1, 1_031_168, "BIOS boot"), (2, 1_073_741_824, "EFI"), (3, root - 1_074_773_504 - 1_048_576, "LVM"))
    failing = node.nodeid == 3
    hours = 9_000 + node.nodeid * 1_337
    return (
        Disk("/dev/nvme0n1", "Samsung SSD 980 PRO 1TB", "S5GXNF0R" + _hex(node.name, 6), root, "nvme", "BIOS boot",
             "PASSED", 97 - node.nodeid, 0, hours, parts),
        Disk("/dev/sda", "ST4000VN008-2DR166", "ZDH" + _hex(node.name + "sda", 5), 4_000_787_030_016, "hdd", None,
             "FAILED" if failing else "PASSED", "N/A", 5900, hours),
    )  # fmt: skip


def default_config(node: Node) -> dict[str, str | int]:
    """The first node carries a description, as an admin would note where a box lives."""
    return {"description": "Rack A, unit 12"} if node.nodeid == 1 else {}


@dataclass(eq=False)
class NodeRecords:
    """What one node knows about itself beyond the cluster model."""

    services: dict[str, tuple[str, str]] = field(default_factory=dict)  # service → (sub-state, active state)
    apt_refreshed: float = 0.0
    config: dict[str, str | int] = field(default_factory=dict)


@dataclass(eq=False)
class NodeAdminState:
    anchor: float | None = None
    nodes: dict[str, NodeRecords] = field(default_factory=dict)

    def of(self, node: Node, now: float) -> NodeRecords:
        if self.anchor is None:
            self.anchor = now
        found = self.nodes.get(node.name)
        if found is None:
            found = self.nodes[node.name] = NodeRecords(
                apt_refreshed=self.anchor - LAST_APT_REFRESH, config=default_config(node)
            )
        return found

    def updates(self, node: Node, now: float) -> list[dict[str, object]]:
        """Upgradable packages as the node's last package-list refresh saw them."""
        records = self.of(node, now)
        assert self.anchor is not None
        seen = [p for p in PACKAGES if self.anchor - p.age <= records.apt_refreshed]
        return [p.record() for p in sorted(seen, key=lambda p: p.name)]

    def service_state(self, node: Node, service: str, now: float, default: tuple[str, str]) -> tuple[str, str]:
        return self.of(node, now).services.get(service, default)


def subscription(node: Node) -> dict[str, object]:
    """No subscription key: what PVE answers to a caller with Sys.Audit on the node."""
    return {
        "status": "notfound",
        "message": "There is no subscription key",
        "serverid": _hex("server-" + node.name, 32),
        "sockets": node.sockets,
        "url": "https://www.proxmox.com/en/proxmox-virtual-environment/pricing",
    }


def certificates(node: Node, cluster: str, anchor: float) -> list[dict[str, object]]:
    """The cluster CA (10 years) and the node certificate it signed (2 years), as pveproxy serves them."""
    created = int(anchor - 400 * DAY)
    ca_subject = f"/CN=Proxmox Virtual Environment/OU={_hex(cluster, 32).lower()}/O=PVE Cluster Manager CA"
    fqdn = f"{node.name}.example.internal"
    return [
        {
            "filename": "pve-root-ca.pem",
            "fingerprint": ":".join(_hex("ca-" + cluster, 64)[i : i + 2] for i in range(0, 64, 2)),
            "subject": ca_subject,
            "issuer": ca_subject,
            "notbefore": created,
            "notafter": created + 3650 * DAY,
            "public-key-type": "rsaEncryption",
            "public-key-bits": 4096,
            "san": [],
        },
        {
            "filename": "pve-ssl.pem",
            "fingerprint": node.ssl_fingerprint,
            "subject": f"/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN={fqdn}",
            "issuer": ca_subject,
            "notbefore": created,
            "notafter": created + 730 * DAY,
            "public-key-type": "rsaEncryption",
            "public-key-bits": 2048,
            "san": ["127.0.0.1", "0000:0000:0000:0000:0000:0000:0000:0001", "localhost", node.ip, node.name, fqdn],
        },
    ]
