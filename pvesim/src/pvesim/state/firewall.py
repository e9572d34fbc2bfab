"""The simulated firewall: cluster options, aliases, IP sets, security groups and ordered rule lists.

A rule is a dict of PVE's rule properties; its position is its index in the list, so adding or
removing a rule renumbers the ones after it, as the lines of a .fw file do. Guest rules live per
VMID, as /etc/pve/firewall/<vmid>.fw does, whichever node the guest is on.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Rule = dict[str, str | int]

RULE_KEYS = ("type", "action", "enable", "macro", "iface", "source", "dest", "proto", "dport", "sport", "log",
             "comment", "icmp-type")  # fmt: skip
# PVE's macro names (case-insensitive on input, stored in this spelling).
MACROS = {m.lower(): m for m in (
    "Amanda", "Auth", "BGP", "BitTorrent", "BitTorrent32", "CVS", "Ceph", "Citrix", "DAAP", "DCC", "DHCPfwd",
    "DHCPv6", "DNS", "Distcc", "FTP", "Finger", "GNUnet", "GRE", "Git", "HKP", "HTTP", "HTTPS", "ICPV2", "ICQ",
    "IMAP", "IMAPS", "IPIP", "IPsec", "IPsecah", "IPsecnat", "IRC", "Jetdirect", "L2TP", "LDAP", "LDAPS", "MDNS",
    "MSNP", "MSSQL", "Mail", "Munin", "MySQL", "NNTP", "NNTPS", "NTP", "NeighborDiscovery", "OSPF", "OpenVPN",
    "PCA", "PMG", "POP3", "POP3S", "PPtP", "Ping", "PostgreSQL", "Printer", "RDP", "RIP", "RNDC", "Razor",
    "Rdate", "Rsync", "SANE", "SMB", "SMBswat", "SMTP", "SMTPS", "SNMP", "SPAMD", "SSH", "SVN", "SixXS", "Squid",
    "Submission", "Syslog", "TFTP", "Telnet", "Telnets", "Time", "Trcrt", "VNC", "VNCL", "Web", "Webcache",
    "Webmin", "Whois",
)}  # fmt: skip
PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "icmpv6": 58, "igmp": 2, "ipip": 4,
             "ipv6-icmp": 58, "l2tp": 115, "ospf": 89, "pim": 103, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136,
             "vrrp": 112}  # fmt: skip
PORT_PROTOCOLS = frozenset({"tcp", "udp", "udplite", "sctp", "dccp"})
SERVICES = frozenset({"ssh", "http", "https", "domain", "smtp", "ntp", "snmp", "ldap", "ldaps", "imap", "imaps",
                      "pop3", "pop3s", "ftp", "telnet", "rsync", "mysql", "postgresql"})  # fmt: skip
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9\-_]+$")
IFACE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$")


@dataclass(eq=False)
class Alias:
    name: str
    cidr: str
    comment: str = ""


@dataclass(eq=False)
class IPSetEntry:
    cidr: str
    comment: str = ""
    nomatch: bool = False

    def record(self) -> dict[str, str | int]:
        item: dict[str, str | int] = {"cidr": self.cidr}
        if self.comment:
            item["comment"] = self.comment
        if self.nomatch:
            item["nomatch"] = 1
        return item


@dataclass(eq=False)
class IPSet:
    name: str
    comment: str = ""
    entries: list[IPSetEntry] = field(default_factory=list)


@dataclass(eq=False)
class FirewallState:
    options: dict[str, str | int] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    aliases: dict[str, Alias] = field(default_factory=dict)  # keyed by the lower-case name, as PVE looks them up
    ipsets: dict[str, IPSet] = field(default_factory=dict)
    groups: dict[str, list[Rule]] = field(default_factory=dict)
    group_comments: dict[str, str] = field(default_factory=dict)
    node_rules: dict[str, list[Rule]] = field(default_factory=dict)  # host.fw of each node
    node_options: dict[str, dict[str, str | int]] = field(default_factory=dict)
    guest_rules: dict[int, list[Rule]] = field(default_factory=dict)
    guest_options: dict[int, dict[str, str | int]] = field(default_factory=dict)  # the [OPTIONS] of <vmid>.fw
    rule_owners: dict[int, object] = field(default_factory=dict)

    def _claim(self, vmid: int, owner: object) -> None:
        """A guest re-created under an old VMID starts with no rules and no options."""
        stale = vmid in self.guest_rules or vmid in self.guest_options
        if stale and self.rule_owners.get(vmid) is not owner:
            self.guest_rules.pop(vmid, None)
            self.guest_options.pop(vmid, None)
        self.rule_owners[vmid] = owner

    def rules_of(self, vmid: int, owner: object) -> list[Rule]:
        """A guest's rules."""
        self._claim(vmid, owner)
        return self.guest_rules.setdefault(vmid, [])

    def options_of(self, vmid: int, owner: object) -> dict[str, str | int]:
        """A guest's firewall options, as its .fw file holds them: only those set, the rest default."""
        self._claim(vmid, owner)
        return self.guest_options.setdefault(vmid, {})

    def options_seen(self, vmid: int, owner: object) -> dict[str, str | int]:
        """A guest's options for a read, which creates and claims nothing."""
        return self.guest_options.get(vmid, {}) if self.rule_owners.get(vmid) is owner else {}


def digest(records: Iterable[Mapping[str, object]]) -> str:
    """PVE's copy_list_with_digest: SHA-1 over every record's sorted key:value lines."""
    sha = hashlib.sha1(usedforsecurity=False)
    for record in records:
        for key in sorted(record):
            sha.update(f"{key}:{record[key]}\n".encode())
        sha.update(b"\n")
    return sha.hexdigest()


# Format checks, worded as PVE's format verifiers die (the caller adds "invalid format - ").
def port_problem(text: str, dport: bool = True) -> str | None:
    items = text.split(",")
    if "" in items:
        return "extraneous commas in list\n"
    for item in items:
        if m := re.fullmatch(r"(\d+):(\d+)", item):
            low, high = int(m.group(1)), int(m.group(2))
            if max(low, high) > 65535:
                return f"invalid port '{high if high > 65535 else low}'\n"
            if low > high:
                return f"backwards range '{low}:{high}' not allowed, did you mean '{high}:{low}'?\n"
        elif item.isdigit():
            if int(item) > 65535:
                return f"invalid port '{item}'\n"
        elif item not in SERVICES and not (dport and item.startswith("echo-")):
            return f"invalid port '{item}'\n"
    return None


def address_problem(text: str) -> str | None:
    if text.startswith("+") or NAME.match(text):
        return None
    versions: set[int] = set()
    items = text.split(",")
    for item in items:
        try:
            if "-" in item:
                first, last = (ipaddress.ip_address(part) for part in item.split("-", 1))
                versions |= {first.version, last.version}
            else:
                versions.add(ipaddress.ip_network(item, strict=False).version)
        except ValueError:
            return f"invalid IP address: {item}\n"
    if len(versions) > 1:
        return f"detected mixed ipv4/ipv6 addresses in address list '{text}'\n"
    if len(items) > 1 and any("-" in item for item in items):
        return "you can't use a range in a list\n"
    return None


def protocol_problem(text: str) -> str | None:
    known = text in PROTOCOLS or (text.isdigit() and int(text) in PROTOCOLS.values())
    return None if known else f"unknown protocol '{text}'\n"


def iface_problem(text: str) -> str | None:
    return None if IFACE.match(text) else f"invalid network interface name '{text}'\n"


def _ip_version(text: str, fw: FirewallState) -> int | None:
    if text.startswith("+"):
        return None
    if NAME.match(text):
        alias = fw.aliases.get(text.lower())
        return None if alias is None else ipaddress.ip_network(alias.cidr, strict=False).version
    first = text.split(",")[0].split("-")[0]
    return ipaddress.ip_network(first, strict=False).version


def verify_rule(rule: Rule, fw: FirewallState, env: str) -> dict[str, str] | None:
    """PVE's verify_rule for env 'cluster', 'host' or 'vm': the first problem as {param: message}, else None.

    Normalises the macro's spelling and records the IP version, as PVE does.
    """
    kind, action = str(rule.get("type", "")), str(rule.get("action", ""))
    if not kind:
        return {"type": "missing property"}
    if not action:
        return {"action": "missing property"}
    if kind in ("in", "out", "forward"):
        if kind == "forward" and env not in ("cluster", "host"):
            return {"type": f"rule type 'forward' is not allowed for '{env}'"}
        if action not in ("ACCEPT", "DROP", "REJECT"):
            return {"action": f"unknown action '{action}'"}
    elif kind == "group" and action not in fw.groups:
        return {"action": f"security group '{action}' does not exist"}
    if (iface := rule.get("iface")) and env == "vm" and not re.fullmatch(r"net\d+", str(iface)):
        return {"iface": "value does not match the regex pattern 'net\\d+'"}
    if macro := rule.get("macro"):
        preferred = MACROS.get(str(macro).lower())
        if preferred is None:
            return {"macro": f"unknown macro '{macro}'"}
        rule["macro"] = preferred
    proto = str(rule.get("proto", ""))
    for ports in ("dport", "sport"):
        if rule.get(ports):
            if not proto:
                return {"proto": f"missing property - '{ports}' requires this property"}
            if proto not in PORT_PROTOCOLS and not (ports == "dport" and proto in ("icmp", "icmpv6")):
                return {ports: f"protocol '{proto}' does not support ports"}
    versions = {4} if proto == "icmp" else {6} if proto in ("icmpv6", "ipv6-icmp") else set()
    for side in ("source", "dest"):
        value = str(rule.get(side, ""))
        if value.startswith("+") and value[1:] not in fw.ipsets:
            return {side: f"no such ipset '{value[1:]}'"}
        if value and not value.startswith("+") and NAME.match(value) and value.lower() not in fw.aliases:
            return {side: f"no such alias '{value}'"}
        if value and (version := _ip_version(value, fw)) is not None:
            versions.add(version)
    if len(versions) > 1:
        return {"source": "detected mixed ipv4/ipv6 addresses in rule"}
    if versions:
        rule["ipversion"] = versions.pop()
    else:
        rule.pop("ipversion", None)
    return None
