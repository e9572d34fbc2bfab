"""Composite handlers for a guest's firewall options and its effective firewall.

Proxmox answers a guest's options with only those its .fw file sets, as 0/1: an absent one has its default,
which the assistant would otherwise have to know. The options are answered here with every default filled
in, as booleans, naming which ones are defaults.

The effective firewall joins what lives in many places: the datacenter's switch, the guest's options, the
NICs' firewall flags, the guest's rules with the security groups they apply, the aliases and IP sets those
name, and the host rules beside them. Each part is read on its own; a part that cannot be read (the scope,
a missing privilege, an error) is reported in `skipped` and the rest is still answered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pvemcp.pve import wire
from pvemcp.pve.errors import PveMcpError
from pvemcp.server.call import Call, Handler, api_params

# Proxmox's defaults for a guest's firewall options (PVE::Firewall's vm option properties and the ruleset's
# fallbacks for the policies).
DEFAULTS: dict[str, bool | str] = {
    "enable": False,
    "policy_in": "DROP",
    "policy_out": "ACCEPT",
    "dhcp": False,
    "ipfilter": False,
    "macfilter": True,
    "ndp": True,
    "radv": False,
    "log_level_in": "nolog",
    "log_level_out": "nolog",
}
RULE_FIELDS = ("type", "action", "macro", "proto", "dport", "sport", "source", "dest", "iface", "icmp-type", "log",
               "comment")  # fmt: skip
QEMU_NIC_KEYS = frozenset({"bridge", "firewall", "link_down", "macaddr", "model", "mtu", "queues", "rate", "tag",
                           "trunks"})  # fmt: skip
# An alias reference, as PVE's ip_alias_pattern allows it in a rule's source or dest, optionally scoped.
ALIAS = re.compile(r"(?:(?:dc|guest)/)?[A-Za-z][A-Za-z0-9\-_]+")
OFF = {
    "datacenter": "the datacenter firewall is off",
    "guest": "the guest's firewall option enable is off",
    "nics": "no NIC of the guest has firewall=1",
}
UNREAD = {
    "datacenter": "whether the datacenter firewall is on could not be read",
    "guest": "whether the guest's firewall option enable is on could not be read",
    "nics": "the guest's NICs could not be read",
}
HOST_NOTE = (
    "Datacenter and node rules filter the Proxmox hosts' own traffic, not the guest's: the guest's traffic is"
    " filtered by its own rules (and the security groups they apply) and its policies."
)


def truthy(value: Any) -> bool:
    """A Proxmox flag (1, "1", true); the datacenter's enable may hold the time it was switched on."""
    if isinstance(value, bool):
        return value
    try:
        return int(str(value)) > 0
    except ValueError:
        return False


def shaped_options(raw: Any) -> dict[str, Any]:
    """Every option with its value or default, flags as booleans; `defaulted` names those not set."""
    stored = raw if isinstance(raw, Mapping) else {}
    options: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        value = stored.get(key)
        if value is None or value == "":
            options[key] = default
        else:
            options[key] = truthy(value) if isinstance(default, bool) else str(value)
    options["defaulted"] = [key for key in DEFAULTS if stored.get(key) in (None, "")]
    if stored.get("digest"):
        options["digest"] = stored["digest"]
    return options


def _guest_path(call: Call, tail: str = "") -> str:
    values = {name: call.args[name] for name in ("node", "guest_type", "vmid")}
    return wire.expand_path("/nodes/{node}/{guest_type}/{vmid}" + tail, values)


async def guest_firewall_options(call: Call) -> Any:
    """pve_get_guest_firewall_options: the guest's options with Proxmox's defaults filled in."""
    raw = await call.client.get(_guest_path(call, "/firewall/options"))
    return {
        "vmid": call.args["vmid"],
        "type": call.args["guest_type"],
        "node": call.args["node"],
        **shaped_options(raw),
    }


async def update_guest_firewall_options(call: Call) -> Any:
    """pve_update_guest_firewall_options: set (booleans travel as 0/1), then answer with the options now."""
    await call.client.request("PUT", _guest_path(call, "/firewall/options"), api_params(call))
    return await guest_firewall_options(call)


class Sections:
    """Reads one part at a time; a part that fails is written down in `skipped` and answers None."""

    def __init__(self, call: Call) -> None:
        self.client = call.client
        self.skipped: list[dict[str, Any]] = []
        self.groups: dict[str, list[dict[str, Any]] | None] = {}

    async def read(self, section: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            return await self.client.get(path, params)
        except PveMcpError as exc:
            self.skipped.append({"section": section, "path": path, "code": str(exc.code), "reason": exc.message})
            return None

    async def group(self, name: str) -> list[dict[str, Any]] | None:
        """A security group's rules, read once per call."""
        if name not in self.groups:
            path = wire.expand_path("/cluster/firewall/groups/{group}", {"group": name})
            self.groups[name] = records(await self.read(f"security group {name}", path))
        return self.groups[name]


def records(data: Any) -> list[dict[str, Any]] | None:
    """The objects of a list answer; None for anything else (an unread part)."""
    return [dict(item) for item in data if isinstance(item, Mapping)] if isinstance(data, list) else None


def rule_row(raw: Mapping[str, Any], pos: int | None) -> dict[str, Any]:
    """A rule's own fields (no digest, no derived ipversion), enable as a boolean."""
    row: dict[str, Any] = {} if pos is None else {"pos": raw.get("pos", pos)}
    row.update((key, raw[key]) for key in RULE_FIELDS if raw.get(key) not in (None, ""))
    row["enable"] = truthy(raw.get("enable", 0))
    return row


async def guest_rules(sections: Sections, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The guest's rules in order; each security group it applies is followed by the group's rules, marked."""
    rows: list[dict[str, Any]] = []
    for pos, item in enumerate(raw):
        row = rule_row(item, pos)
        rows.append(row)
        if row.get("type") != "group":
            continue
        name = str(row.get("action", ""))
        members = await sections.group(name)
        if members is None:
            row["expanded"] = False
            continue
        row["group_rules"] = len(members)
        for index, member in enumerate(members):
            expanded = {"group": name, "group_pos": member.get("pos", index), **rule_row(member, None)}
            expanded["active"] = row["enable"] and expanded["enable"]
            rows.append(expanded)
    return rows


def host_rows(raw: Any) -> list[dict[str, Any]] | None:
    found = records(raw)
    return None if found is None else [rule_row(item, pos) for pos, item in enumerate(found)]


def nic_rows(config: Any, kind: str) -> list[dict[str, Any]] | None:
    """net0, net1, ... from the guest's config: firewall flag, bridge, MAC and the like."""
    if not isinstance(config, Mapping):
        return None
    nics = []
    for key in sorted((k for k in config if k.startswith("net") and k[3:].isdigit()), key=lambda k: int(k[3:])):
        fields: dict[str, str] = {}
        for item in str(config[key]).split(","):
            name, _, value = item.partition("=")
            fields[name.strip()] = value.strip()
        nic: dict[str, Any] = {"id": key, "firewall": truthy(fields.get("firewall", 0))}
        if fields.get("bridge"):
            nic["bridge"] = fields["bridge"]
        if kind == "qemu":
            model = fields.get("model") or next((k for k in fields if k not in QEMU_NIC_KEYS), None)
            nic.update(model=model, mac=fields.get("macaddr") or (fields.get(model, "") if model else ""))
        else:
            nic.update(name=fields.get("name"), mac=fields.get("hwaddr"))
            nic.update((k, fields[k]) for k in ("ip", "ip6") if fields.get(k))
        if fields.get("tag"):
            nic["tag"] = int(fields["tag"]) if fields["tag"].isdigit() else fields["tag"]
        if truthy(fields.get("link_down", 0)):
            nic["link_down"] = True
        nics.append({k: v for k, v in nic.items() if v not in (None, "")})
    return nics


def named(rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The aliases and IP sets the rules' source and dest name, in order of first use."""
    aliases: list[str] = []
    ipsets: list[str] = []
    for row in rows:
        for side in ("source", "dest"):
            value = str(row.get(side) or "")
            if value.startswith("+"):
                ipsets.append(value[1:])
            elif ALIAS.fullmatch(value):
                aliases.append(value)
    return list(dict.fromkeys(aliases)), list(dict.fromkeys(ipsets))


def datacenter_name(name: str) -> str | None:
    """The datacenter object a reference names; None for a guest-level one (guest/...)."""
    scope, _, bare = name.rpartition("/")
    return bare if scope in ("", "dc") else None


async def resolved(sections: Sections, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The datacenter's aliases and IP sets (with their entries) that the rules name; a name the datacenter
    does not hold (a guest-level one) is listed as unresolved."""
    alias_names, ipset_names = named(rows)
    result: dict[str, Any] = {"aliases": [], "ipsets": []}
    unresolved: list[str] = []
    listed = records(await sections.read("IP sets", "/cluster/firewall/ipset")) if ipset_names else []
    known_sets = None if listed is None else {str(s.get("name")): s for s in listed}
    for name in ipset_names:
        bare = datacenter_name(name)
        if bare is None or (known_sets is not None and bare not in known_sets):
            unresolved.append(f"+{name}")
            continue
        ipset: dict[str, Any] = {"name": name, **_comment((known_sets or {}).get(bare, {}))}
        path = wire.expand_path("/cluster/firewall/ipset/{name}", {"name": bare})
        entries = records(await sections.read(f"IP set {bare}", path))
        if entries is not None:
            ipset["entries"] = [
                {"cidr": e.get("cidr"), "nomatch": truthy(e.get("nomatch", 0)), **_comment(e)} for e in entries
            ]
            alias_names += [str(e["cidr"]) for e in entries if ALIAS.fullmatch(str(e.get("cidr") or ""))]
        result["ipsets"].append(ipset)
    alias_names = list(dict.fromkeys(alias_names))
    aliases = records(await sections.read("aliases", "/cluster/firewall/aliases")) if alias_names else []
    by_name = {str(a.get("name", "")).lower(): a for a in aliases or []}
    for name in alias_names:
        bare = datacenter_name(name)
        found = by_name.get(bare.lower()) if bare is not None else None
        if found is not None:
            result["aliases"].append({"name": name, "cidr": found.get("cidr"), **_comment(found)})
        elif aliases is not None or bare is None:  # an unread list is in `skipped` already
            unresolved.append(name)
    if unresolved:
        result["unresolved"] = unresolved
    return result


def _comment(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"comment": item["comment"]} if item.get("comment") else {}


def verdict(parts: dict[str, bool | None]) -> tuple[bool | None, list[str]]:
    """Enforced only when all three switches are on; each one off, or unread, is said."""
    why = [OFF[name] for name, on in parts.items() if on is False]
    why += [UNREAD[name] for name, on in parts.items() if on is None]
    if any(on is False for on in parts.values()):
        return False, why
    return (None, why) if why else (True, [])


async def guest_firewall(call: Call) -> Any:
    """pve_guest_firewall: the guest's effective firewall, in one answer."""
    vmid, kind, node = call.args["vmid"], call.args["guest_type"], call.args["node"]
    sections = Sections(call)
    datacenter = await sections.read("datacenter options", "/cluster/firewall/options")
    raw_options = await sections.read("guest options", _guest_path(call, "/firewall/options"))
    config = await sections.read("guest config", _guest_path(call, "/config"), {"current": 1})
    raw_rules = records(await sections.read("guest rules", _guest_path(call, "/firewall/rules")))
    options = shaped_options(raw_options)
    nics = nic_rows(config, kind)
    parts: dict[str, bool | None] = {
        "datacenter": truthy(datacenter.get("enable", 0)) if isinstance(datacenter, Mapping) else None,
        "guest": options["enable"] if isinstance(raw_options, Mapping) else None,
        "nics": any(n["firewall"] for n in nics) if nics is not None else None,
    }
    enabled, why = verdict(parts)
    result: dict[str, Any] = {"vmid": vmid, "type": kind, "node": node}
    if isinstance(config, Mapping) and (config.get("name") or config.get("hostname")):
        result["name"] = config.get("name") or config.get("hostname")
    result["enabled"] = enabled
    if why:
        result["why_not_enforced"] = why
        result["next"] = _next(parts, vmid, kind)
    result.update(
        datacenter_enabled=parts["datacenter"],
        guest_enabled=parts["guest"],
        nic_enabled=parts["nics"],
        policy_in=options["policy_in"],
        policy_out=options["policy_out"],
        options={k: options[k] for k in DEFAULTS if k not in ("enable", "policy_in", "policy_out")},
        nics=nics,
    )
    if enabled and nics:
        unfiltered = [n["id"] for n in nics if not n["firewall"]]
        if unfiltered:
            result["unfiltered_nics"] = unfiltered
    rules = await guest_rules(sections, raw_rules) if raw_rules is not None else None
    result["rules"] = rules
    result.update(await resolved(sections, rules or []))
    result["host_rules"] = {
        "datacenter": host_rows(await sections.read("datacenter rules", "/cluster/firewall/rules")),
        "node": host_rows(
            await sections.read("node rules", wire.expand_path("/nodes/{node}/firewall/rules", {"node": node}))
        ),
        "note": HOST_NOTE,
    }
    if sections.skipped:
        result["skipped"] = sections.skipped
    return result


def _next(parts: dict[str, bool | None], vmid: int, kind: str) -> dict[str, Any]:
    """Where to look closer: the first switch that is off (or unread)."""
    first = next((name for name, on in parts.items() if on is False), None) or next(
        name for name, on in parts.items() if on is None
    )
    if first == "datacenter":
        return {"tool": "pve_get_cluster_firewall_options", "arguments": {}}
    if first == "guest":
        return {"tool": "pve_get_guest_firewall_options", "arguments": {"vmid": vmid}}
    return {"tool": f"pve_get_{kind}_config", "arguments": {"vmid": vmid}}


HANDLERS: dict[str, Handler] = {
    "guest_firewall_options": guest_firewall_options,
    "update_guest_firewall_options": update_guest_firewall_options,
    "guest_firewall": guest_firewall,
}
