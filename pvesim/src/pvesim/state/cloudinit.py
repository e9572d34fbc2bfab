"""Cloud-init as PVE generates it from a VM's config: user-data, network-config and meta-data,
and the record of what the cloud-init drive holds (PVE's [special:cloudinit] section).

The NoCloud format is the default; Windows guests (and citype=configdrive2/opennebula) get the
ConfigDrive2 network file. DNS falls back to the node's resolv.conf, as PVE's does. A config
change shows in the next dump at once, as cloud-init options apply to the config directly; until
the drive is regenerated (PUT .../cloudinit, or a start), GET .../cloudinit lists it as pending.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from .records import ConfigValue, Guest, Node

DNS_SEARCH = "sim.internal"
# PVE's cloud-init options: they apply to the config at once; the drive gets them when it is regenerated.
OPTIONS = frozenset(
    {"cicustom", "cipassword", "citype", "ciupgrade", "ciuser", "nameserver", "searchdomain", "sshkeys"}
    | {f"ipconfig{i}" for i in range(32)}
)
HIDDEN = "**********"
# What the drive holds where the config has moved on: key → old value (None: added since).
Record = dict[str, "ConfigValue | None"]


def node_dns(node: Node) -> dict[str, str]:
    """The node's resolv.conf: its network's router first, then a second resolver."""
    block = node.ip.rsplit(".", 1)[0]
    return {"search": DNS_SEARCH, "dns1": f"{block}.1", "dns2": f"{block}.2"}


def _mac(net: str) -> str:
    """The MAC of a netX entry ('virtio=BC:24:11:...,bridge=vmbr0'), lower-cased as cloud-init wants it."""
    _model, sep, value = net.split(",", 1)[0].partition("=")
    return value.lower() if sep else ""


def _netmask(prefix: int) -> str:
    bits = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0
    return ".".join(str((bits >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def hostname_fqdn(guest: Guest) -> tuple[str, str]:
    name = str(guest.config.get("name") or f"VM{guest.vmid}")
    if "." in name:
        return name.split(".", 1)[0], name
    search = guest.config.get("searchdomain")
    return name, f"{name}.{search}" if search else name


def dns_conf(guest: Guest, node: Node) -> tuple[list[str], list[str]]:
    host = node_dns(node)
    searches = str(guest.config.get("searchdomain") or host["search"]).split()
    servers = guest.config.get("nameserver")
    if servers is None:
        return searches, [host[k] for k in ("dns1", "dns2", "dns3") if host.get(k)]
    return searches, str(servers).split()


def cloud_format(guest: Guest) -> str:
    citype = guest.config.get("citype")
    if citype is not None:
        return str(citype)
    return "configdrive2" if str(guest.config.get("ostype", "")).startswith("win") else "nocloud"


def user_data(guest: Guest) -> str:
    hostname, fqdn = hostname_fqdn(guest)
    lines = ["#cloud-config", f"hostname: {hostname}", "manage_etc_hosts: true", f"fqdn: {fqdn}"]
    user, password = guest.config.get("ciuser"), guest.config.get("cipassword")
    if user is not None:
        lines.append(f"user: {user}")
        if user == "root":
            lines.append("disable_root: False")
    if password is not None:
        lines.append(f"password: {password}")
    keys = guest.config.get("sshkeys")
    if keys is not None:
        lines.append("ssh_authorized_keys:")
        lines += [f"  - {key.rstrip()}" for key in unquote(str(keys)).split("\n") if key.strip()]
    lines += ["chpasswd:", "  expire: False"]
    if user is None or user != "root":
        lines += ["users:", "  - default"]
    if str(guest.config.get("ciupgrade", 1)) != "0":
        lines.append("package_upgrade: true")
    return "\n".join(lines) + "\n"


def _interfaces(guest: Guest) -> list[tuple[int, str, dict[str, str]]]:
    """(index, netX value, parsed ipconfigX) for every NIC that has an ipconfig."""
    found = []
    for key in sorted((k for k in guest.config if k.startswith("net") and k[3:].isdigit()), key=lambda k: k[3:]):
        ipconfig = guest.config.get(f"ipconfig{key[3:]}")
        if ipconfig:
            parsed = dict(part.partition("=")[::2] for part in str(ipconfig).split(",") if "=" in part)
            found.append((int(key[3:]), str(guest.config[key]), parsed))
    return found


def nocloud_network(guest: Guest, node: Node) -> str:
    lines = ["version: 1", "config:"]
    for index, net, ip in _interfaces(guest):
        lines += [
            "    - type: physical",
            f"      name: eth{index}",
            f"      mac_address: '{_mac(net)}'",
            "      subnets:",
        ]
        if "ip" in ip:
            if ip["ip"] == "dhcp":
                lines.append("      - type: dhcp4")
            else:
                addr, _, prefix = ip["ip"].partition("/")
                lines += [
                    "      - type: static",
                    f"        address: '{addr}'",
                    f"        netmask: '{_netmask(int(prefix))}'",
                ]
                if "gw" in ip:
                    lines.append(f"        gateway: '{ip['gw']}'")
        if "ip6" in ip:
            if ip["ip6"] in ("dhcp", "auto"):
                lines.append("      - type: dhcp6" if ip["ip6"] == "dhcp" else "      - type: ipv6_slaac")
            else:
                lines += ["      - type: static6", f"        address: '{ip['ip6']}'"]
                if "gw6" in ip:
                    lines.append(f"        gateway: '{ip['gw6']}'")
    searches, servers = dns_conf(guest, node)
    lines.append("    - type: nameserver")
    if servers:
        lines += ["      address:", *(f"      - '{s}'" for s in servers)]
    if searches:
        lines += ["      search:", *(f"      - '{s}'" for s in searches)]
    return "\n".join(lines) + "\n"


def configdrive2_network(guest: Guest, node: Node) -> str:
    lines = ["auto lo", "iface lo inet loopback", ""]
    searches, servers = dns_conf(guest, node)
    if servers:
        lines.append(f"        dns_nameservers {' '.join(servers)}")
    if searches:
        lines.append(f"        dns_search {' '.join(searches)}")
    for index, _net, ip in _interfaces(guest):
        name = f"eth{index}"
        lines.append(f"auto {name}")
        if "ip" in ip:
            if ip["ip"] == "dhcp":
                lines.append(f"iface {name} inet dhcp")
            else:
                addr, _, prefix = ip["ip"].partition("/")
                lines += [
                    f"iface {name} inet static",
                    f"        address {addr}",
                    f"        netmask {_netmask(int(prefix))}",
                ]
                if "gw" in ip:
                    lines.append(f"        gateway {ip['gw']}")
        if "ip6" in ip:
            if ip["ip6"] in ("auto", "dhcp"):
                lines.append(f"iface {name} inet6 {ip['ip6']}")
            else:
                addr, _, prefix = ip["ip6"].partition("/")
                lines += [f"iface {name} inet6 static", f"        address {addr}", f"        netmask {prefix}"]
                if "gw6" in ip:
                    lines.append(f"        gateway {ip['gw6']}")
    return "\n".join(lines) + "\n"


def network_config(guest: Guest, node: Node) -> str:
    if cloud_format(guest) == "nocloud":
        return nocloud_network(guest, node)
    return configdrive2_network(guest, node)


def meta_data(guest: Guest, node: Node) -> str:
    """The instance id is the SHA-1 of user-data plus network-config, so it changes with either."""
    uuid = hashlib.sha1((user_data(guest) + network_config(guest, node)).encode(), usedforsecurity=False).hexdigest()
    if cloud_format(guest) == "nocloud":
        return f"instance-id: {uuid}\n"
    return f'{{\n     "uuid": "{uuid}",\n     "network_config": {{ "content_path": "/content/0000" }}\n}}\n'


def dump(guest: Guest, node: Node, kind: str) -> str:
    if kind == "user":
        return user_data(guest)
    if kind == "network":
        return network_config(guest, node)
    return meta_data(guest, node)


def note_change(record: Record, guest: Guest, key: str, new: ConfigValue | None) -> None:
    """Before a cloud-init option changes in the config: remember what the drive holds."""
    if key not in OPTIONS:
        return
    if key not in record:
        old = guest.config.get(key)
        if old != new:
            record[key] = old
    elif record[key] == new:
        del record[key]  # back to what the drive holds


def has_drive(guest: Guest) -> bool:
    return any("cloudinit" in str(value).split(",")[0] for key, value in guest.config.items() if key[-1].isdigit())


def regenerate(record: Record, guest: Guest) -> None:
    """The drive now holds the config's options; without a drive there is nothing to write."""
    if has_drive(guest):
        record.clear()


def pending(record: Record, guest: Guest) -> list[dict[str, object]]:
    """PVE's cloudinit_pending: added keys, then every option set (value, and pending if it changed),
    then the removed ones. Passwords are masked."""

    def shown(key: str, value: object) -> str:
        return HIDDEN if key == "cipassword" else str(value)

    conf = guest.config
    added = sorted(key for key, old in record.items() if old is None)
    items: list[dict[str, object]] = [{"key": k, "pending": shown(k, conf[k])} for k in added if conf.get(k)]
    for key in sorted(OPTIONS):
        if not conf.get(key) or key in added:
            continue
        old = record.get(key)
        item: dict[str, object] = {"key": key, "value": shown(key, old if old else conf[key])}
        if old:
            item["pending"] = shown(key, conf[key])
        items.append(item)
    for key, old in sorted(record.items()):
        if old is not None and not conf.get(key):
            items.append({"key": key, "value": shown(key, old), "delete": 1})
    return items
