"""Node network configuration: /etc/network/interfaces and its pending copy, interfaces.new.

As in PVE, every write goes to the pending copy; reads show the pending copy when there is one,
and the envelope's ``changes`` attribute carries the diff. Applying renames the pending copy over
the live one (a ``srvreload`` task); reverting deletes it.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

Iface = dict[str, object]
LIVE_FILE = "/etc/network/interfaces"
PENDING_FILE = "/etc/network/interfaces.new"
NICS = ("eno1", "eno2", "eno3", "eno4")
TYPE_ORDER = {"eth": 0, "bond": 1, "vlan": 2, "bridge": 3}


@dataclass(eq=False)
class NodeNetwork:
    """The live interfaces of one node, the pending copy (None when nothing is pending), the NICs present."""

    live: dict[str, Iface]
    nics: tuple[str, ...] = NICS
    pending: dict[str, Iface] | None = None
    up: set[str] = field(default_factory=set)

    def current(self) -> dict[str, Iface]:
        return self.pending if self.pending is not None else self.live

    def edit(self) -> dict[str, Iface]:
        """The pending copy, started from the live configuration on the first write."""
        if self.pending is None:
            self.pending = copy.deepcopy(self.live)
        return self.pending

    def apply(self) -> None:
        if self.pending is not None:
            self.live = self.pending
            self.pending = None
        up = {name for name, iface in self.live.items() if iface.get("autostart")}
        for name in list(up):  # ports and bond members come up with their bridge or bond
            iface = self.live[name]
            members = f"{iface.get('bridge_ports') or ''} {iface.get('slaves') or ''}".split()
            up |= {member for member in members if member in self.live}
        self.up = up

    def changes(self) -> str | None:
        """`diff -u` of the live file against the pending one, as PVE reports it."""
        if self.pending is None:
            return None
        diff = difflib.unified_diff(
            interfaces_text(self.live).splitlines(keepends=True),
            interfaces_text(self.pending).splitlines(keepends=True),
            LIVE_FILE,
            PENDING_FILE,
        )
        return "".join(diff) or None

    def record(self, name: str) -> Iface:
        """One interface as the API shows it: stored settings plus cidr, active, exists and priority."""
        iface = self.current()[name]
        out: Iface = {"iface": name, **copy.deepcopy(iface)}
        if iface.get("address") and iface.get("netmask") is not None:
            out["cidr"] = f"{iface['address']}/{iface['netmask']}"
        if iface.get("address6") and iface.get("netmask6") is not None:
            out["cidr6"] = f"{iface['address6']}/{iface['netmask6']}"
        if name in self.up and name in self.live:
            out["active"] = 1
        if iface.get("type") == "eth" and name in self.nics:
            out["exists"] = 1
        out["priority"] = ordered(self.current()).index(name) + 1
        return out


def ordered(ifaces: dict[str, Iface]) -> list[str]:
    return sorted(ifaces, key=lambda n: (TYPE_ORDER.get(str(ifaces[n].get("type")), 9), n))


def _lines(name: str, iface: Iface) -> list[str]:
    lines = [f"auto {name}"] if iface.get("autostart") else []
    lines.append(f"iface {name} inet {iface.get('method', 'manual')}")
    if iface.get("comments"):
        lines += [f"#{line}" for line in str(iface["comments"]).splitlines()]
    if iface.get("address"):
        lines.append(f"\taddress {iface['address']}/{iface.get('netmask')}")
    if iface.get("gateway"):
        lines.append(f"\tgateway {iface['gateway']}")
    for key, option in (
        ("bridge_ports", "bridge-ports"),
        ("bridge_stp", "bridge-stp"),
        ("bridge_fd", "bridge-fd"),
        ("slaves", "bond-slaves"),
        ("bond-miimon", "bond-miimon"),
        ("bond_mode", "bond-mode"),
        ("bond_xmit_hash_policy", "bond-xmit-hash-policy"),
        ("vlan-raw-device", "vlan-raw-device"),
        ("vlan-id", "vlan-id"),
        ("mtu", "mtu"),
    ):
        if iface.get(key) not in (None, ""):
            lines.append(f"\t{option} {iface[key]}")
    if iface.get("bridge_vlan_aware"):
        lines.append("\tbridge-vlan-aware yes")
        lines.append(f"\tbridge-vids {iface.get('bridge_vids', '2-4094')}")
    if iface.get("address6"):
        lines.append(f"\niface {name} inet6 {iface.get('method6', 'static')}")
        lines.append(f"\taddress {iface['address6']}/{iface.get('netmask6')}")
        if iface.get("gateway6"):
            lines.append(f"\tgateway {iface['gateway6']}")
    return lines


def interfaces_text(ifaces: dict[str, Iface]) -> str:
    blocks = ["auto lo\niface lo inet loopback"]
    blocks += ["\n".join(_lines(name, ifaces[name])) for name in ordered(ifaces)]
    blocks.append("source /etc/network/interfaces.d/*")
    return "\n\n".join(blocks) + "\n"


def _eth() -> Iface:
    return {"type": "eth", "method": "manual", "method6": "manual", "families": ["inet"]}


def seed_networks(nodes: Iterable[tuple[str, str]]) -> dict[str, NodeNetwork]:
    """Per node: vmbr0 on eno1 with the node's address, bond0 (LACP) of eno2 and eno3 under a
    VLAN-aware vmbr1 for guest traffic, and eno4 present but unused."""
    networks: dict[str, NodeNetwork] = {}
    for name, ip in nodes:
        gateway = ip.rsplit(".", 1)[0] + ".1"
        live: dict[str, Iface] = {nic: _eth() for nic in NICS}
        live["bond0"] = {
            "type": "bond",
            "method": "manual",
            "method6": "manual",
            "families": ["inet"],
            "autostart": 1,
            "slaves": "eno2 eno3",
            "bond-miimon": "100",
            "bond_mode": "802.3ad",
            "bond_xmit_hash_policy": "layer2+3",
        }
        live["vmbr0"] = {
            "type": "bridge",
            "method": "static",
            "method6": "manual",
            "families": ["inet"],
            "autostart": 1,
            "address": ip,
            "netmask": "24",
            "gateway": gateway,
            "bridge_ports": "eno1",
            "bridge_stp": "off",
            "bridge_fd": "0",
        }
        live["vmbr1"] = {
            "type": "bridge",
            "method": "manual",
            "method6": "manual",
            "families": ["inet"],
            "autostart": 1,
            "bridge_ports": "bond0",
            "bridge_stp": "off",
            "bridge_fd": "0",
            "bridge_vlan_aware": 1,
            "bridge_vids": "2-4094",
            "comments": "guest traffic",
        }
        network = NodeNetwork(live)
        network.apply()
        networks[name] = network
    return networks
