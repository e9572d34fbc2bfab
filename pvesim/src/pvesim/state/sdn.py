"""Software-defined networking: the SDN config files and the copy last applied (.running-config).

As in PVE, every write changes the config (/etc/pve/sdn/*.cfg) at once; nothing reaches the nodes
until the configuration is applied (PUT /cluster/sdn), which copies it over the running config. Reads
show the config by default, the applied copy with running=1, and with pending=1 PVE's merge of the two
(``state`` new/changed/deleted, the values not yet applied under ``pending``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field

Section = dict[str, object]
Sections = dict[str, Section]
KINDS = ("zones", "vnets", "subnets", "controllers")
# Keys pending=1 keeps at the top level of a changed object (PVE::Network::SDN::pending_config).
TOP_LEVEL = ("type", "vnet")


def _seed() -> dict[str, Sections]:
    """Three zones, two vnets with a subnet each and the EVPN controller the evpn zone needs."""
    return {
        "zones": {
            "lan": {"type": "vlan", "bridge": "vmbr0", "ipam": "pve"},
            "sim": {"type": "simple", "ipam": "pve", "dhcp": "dnsmasq"},
            "evpn1": {"type": "evpn", "controller": "evpnctl", "vrf-vxlan": 10000, "ipam": "pve", "mtu": 1450},
        },
        "vnets": {
            "office": {"type": "vnet", "zone": "lan", "tag": 10, "alias": "Office LAN"},
            "labnet": {"type": "vnet", "zone": "sim", "alias": "Isolated lab"},
        },
        "subnets": {
            "lan-192.168.10.0-24": {"type": "subnet", "vnet": "office", "gateway": "192.168.10.1"},
            "sim-10.10.0.0-24": {
                "type": "subnet",
                "vnet": "labnet",
                "gateway": "10.10.0.1",
                "snat": 1,
                "dhcp-range": ["start-address=10.10.0.100,end-address=10.10.0.200"],
            },
        },
        "controllers": {
            "evpnctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.10,192.0.2.11,192.0.2.12"},
        },
    }


def _encode(key: str, value: object) -> str:
    """PVE::Network::SDN::encode_value: list-valued keys compare as sorted, comma-joined text."""
    if isinstance(value, list):
        return ",".join(sorted(str(v) for v in value))
    return str(value)


def _pending(entry: dict[str, object]) -> dict[str, object]:
    values = entry.setdefault("pending", {})
    assert isinstance(values, dict)
    return values


@dataclass(eq=False)
class SdnState:
    """The SDN config by kind and ID, and the copy the nodes run (``running``)."""

    config: dict[str, Sections] = field(default_factory=_seed)
    running: dict[str, Sections] = field(default_factory=_seed)
    version: int = 1

    def section(self, kind: str, running: bool = False) -> Sections:
        return (self.running if running else self.config).setdefault(kind, {})

    def digest(self, kind: str) -> str:
        """A SHA-1 over the file's contents, as SectionConfig computes it, so it changes with every write."""
        text = json.dumps(self.config.get(kind, {}), sort_keys=True)
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    def apply(self) -> None:
        """commit_config: the config becomes the running config, with a new version."""
        self.running = copy.deepcopy(self.config)
        self.version += 1

    def pending(self, kind: str) -> Sections:
        """The running and current objects merged the way PVE's pending_config merges them."""
        running, current = self.section(kind, running=True), self.section(kind)
        merged: dict[str, dict[str, object]] = {}
        for ident in sorted(running):
            old, new = running[ident], current.get(ident)
            entry = merged.setdefault(ident, {})
            for key in sorted(old):
                entry[key] = old[key]
                if not new:
                    entry["state"] = "deleted"
                elif key not in new:
                    _pending(entry)[key] = "deleted"
                    entry["state"] = "changed"
                elif _encode(key, old[key]) != _encode(key, new[key]):
                    entry["state"] = "changed"
            if "state" in entry:
                _pending(entry)
        for ident in sorted(current):
            old_obj, new_obj = running.get(ident, {}), current[ident]
            entry = merged.setdefault(ident, {})
            for key in sorted(new_obj):
                value = new_obj[key]
                if key in TOP_LEVEL:
                    entry[key] = value
                elif key not in old_obj or _encode(key, value) != _encode(key, old_obj[key]):
                    _pending(entry)[key] = value
                if not old_obj:
                    entry["state"] = "new"
                elif key not in old_obj:
                    entry["state"] = "changed"
            if "state" in entry:
                _pending(entry)
        return merged

    def has_pending(self) -> bool:
        return any(entry.get("pending") for kind in KINDS for entry in self.pending(kind).values())
