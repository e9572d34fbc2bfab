"""Cluster, node and guest firewall: options, aliases, IP sets and their entries, security groups,
and rules (list, create, update, move, delete).

As in PVE, a new rule always goes to the top (position 0) and stays disabled unless `enable` is
given; `pos` on create is accepted and ignored. `moveto` puts a rule before the one now at that
position. Writes that carry a `digest` are refused when the list changed since it was read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from ..errors import fail, param_error
from ..params import FORMATS, NODE, VMID, Param, flag, integer, split_list, text
from ..routes import Call, Route
from ..state.firewall import (
    NAME,
    RULE_KEYS,
    Alias,
    IPSet,
    IPSetEntry,
    Rule,
    address_problem,
    digest,
    iface_problem,
    port_problem,
    protocol_problem,
    verify_rule,
)


def ip_or_cidr_problem(value: str) -> str | None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return "value does not look like a valid IP address or CIDR network\n"
    return None


def ip_cidr_or_alias_problem(value: str) -> str | None:
    """An address, a network, or an alias name (optionally scoped as dc/name or guest/name)."""
    scope, _, name = value.rpartition("/")
    if NAME.match(value) or (scope in ("dc", "guest") and NAME.match(name)):
        return None
    return ip_or_cidr_problem(value)


FORMATS.update(
    {
        "IPorCIDR": ip_or_cidr_problem,
        "IPorCIDRorAlias": ip_cidr_or_alias_problem,
        "pve-fw-addr-spec": address_problem,
        "pve-fw-dport-spec": port_problem,
        "pve-fw-sport-spec": lambda value: port_problem(value, dport=False),
        "pve-fw-protocol-spec": protocol_problem,
    }
)
MODIFIED = "detected modified configuration - file changed by other user? Try again."
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog")
POLICIES = ("ACCEPT", "REJECT", "DROP")
OPTION_KEYS = ("ebtables", "enable", "log_ratelimit", "policy_forward", "policy_in", "policy_out")
DIGEST = text("digest", max_length=64)
IDENT = r"[A-Za-z][A-Za-z0-9\-\_]+"
ALIAS = text("name", optional=False, max_length=64, pattern=IDENT)  # alias and IP set names alike
GROUP = text("group", optional=False, max_length=18, pattern=IDENT)
POS = integer("pos", minimum=0)


def _rule_params(*, create: bool) -> tuple[Param, ...]:
    return (
        text("action", optional=not create, max_length=20, pattern=r"[A-Za-z][A-Za-z0-9\-\_]+"),
        text("comment"),
        text("dest", format="pve-fw-addr-spec", max_length=512),
        DIGEST,
        text("dport", format="pve-fw-dport-spec"),
        integer("enable", minimum=0),
        text("icmp-type", format="pve-fw-icmp-type-spec"),
        text("iface", format="pve-iface", max_length=20),
        text("log", enum=LOG_LEVELS),
        text("macro", max_length=128),
        POS,
        text("proto", format="pve-fw-protocol-spec"),
        text("source", format="pve-fw-addr-spec", max_length=512),
        text("sport", format="pve-fw-sport-spec"),
        text("type", optional=not create, enum=("in", "out", "forward", "group")),
    )


CREATE = _rule_params(create=True)
UPDATE = (*_rule_params(create=False), text("delete", format="pve-configid-list"), integer("moveto", minimum=0))
DELETE = (DIGEST, POS)

Scope = Callable[[Call], tuple[list[Rule], str]]


def cluster_scope(c: Call) -> tuple[list[Rule], str]:
    return c.state.firewall.rules, "cluster"


def node_scope(c: Call) -> tuple[list[Rule], str]:
    return c.state.firewall.node_rules.setdefault(c.text("node"), []), "host"


def group_scope(c: Call) -> tuple[list[Rule], str]:
    group = c.text("group")
    rules = c.state.firewall.groups.get(group)
    if rules is None:
        raise fail(f"no such security group '{group}'")
    return rules, "group"


def guest_scope(c: Call) -> tuple[list[Rule], str]:
    vmid = c.integer("vmid")
    return c.state.firewall.rules_of(vmid, c.state.guests.get(vmid)), "vm"


def _check_digest(c: Call, current: str) -> None:
    wanted = c.opt_text("digest")
    if wanted is not None and wanted != current:
        raise fail(MODIFIED)


def _copy_fields(c: Call, rule: Rule) -> None:
    """PVE's copy_rule_data: an empty value or '-' removes the property."""
    for key in RULE_KEYS:
        value = c.params.get(key)
        if value is None:
            continue
        if value in ("", "-"):
            rule.pop(key, None)
        else:
            rule[key] = value if isinstance(value, str) else int(value)


def _verified(c: Call, rule: Rule, env: str) -> Rule:
    iface = rule.get("iface")
    if iface is not None and (bad_iface := iface_problem(str(iface))):
        raise param_error({"iface": f"invalid format - {bad_iface}"})
    if problems := verify_rule(rule, c.state.firewall, env):
        raise param_error(problems)
    return rule


def list_rules(scope: Scope) -> Callable[[Call], object]:
    def handler(c: Call) -> object:
        rules, _env = scope(c)
        stamp = digest(rules)
        return [{**dict(sorted(rule.items())), "pos": pos, "digest": stamp} for pos, rule in enumerate(rules)]

    return handler


def create_rule(scope: Scope) -> Callable[[Call], object]:
    def handler(c: Call) -> object:
        rules, env = scope(c)
        rule: Rule = {}
        _copy_fields(c, rule)
        _verified(c, rule, env)
        rule.setdefault("enable", 0)
        rules.insert(0, rule)
        return None

    return handler


def _at(c: Call, rules: list[Rule]) -> int:
    pos = c.integer("pos")
    if pos >= len(rules):
        raise fail(f"no rule at position {pos}")
    return pos


def update_rule(scope: Scope) -> Callable[[Call], object]:
    def handler(c: Call) -> object:
        rules, env = scope(c)
        _check_digest(c, digest(rules))
        pos = _at(c, rules)
        moveto = c.opt_int("moveto")
        if moveto is not None and moveto != pos:
            rule = rules[pos]
            reordered = [r for i, r in enumerate(rules) if i != pos]
            reordered.insert(moveto - 1 if moveto > pos else moveto, rule)
            rules[:] = reordered
            return None
        rule = dict(rules[pos])
        _copy_fields(c, rule)
        for key in split_list(c.opt_text("delete") or ""):
            if key in ("type", "action"):
                raise param_error({"delete": f"unable to delete required property '{key}'"})
            rule.pop(key, None)
        rules[pos] = _verified(c, rule, env)
        return None

    return handler


def delete_rule(scope: Scope) -> Callable[[Call], object]:
    def handler(c: Call) -> object:
        rules, _env = scope(c)
        _check_digest(c, digest(rules))
        del rules[_at(c, rules)]
        return None

    return handler


def get_options(c: Call) -> object:
    options = c.state.firewall.options
    return {**dict(sorted(options.items())), "digest": digest([options])}


def set_options(c: Call) -> object:
    options = c.state.firewall.options
    _check_digest(c, digest([options]))
    for key in split_list(c.opt_text("delete") or ""):
        if key not in OPTION_KEYS:
            raise param_error({"delete": f"no such option '{key}'"})
        options.pop(key, None)
    enable = c.opt_int("enable")
    if enable is not None and enable > 1:  # PVE records when the firewall was switched on
        c.params["enable"] = int(c.now)
    for key in OPTION_KEYS:
        if (value := c.params.get(key)) is not None:
            options[key] = value if isinstance(value, str) else int(value)
    return None


def list_aliases(c: Call) -> object:
    records = _alias_records(c)
    stamp = digest(records)
    return [{**record, "digest": stamp} for record in records]


def list_ipsets(c: Call) -> object:
    ipsets = sorted(c.state.firewall.ipsets.values(), key=lambda s: s.name)
    records = [{"name": s.name, **({"comment": s.comment} if s.comment else {})} for s in ipsets]
    stamp = digest(records)
    return [{**record, "digest": stamp} for record in records]


def node_options(c: Call) -> object:
    options = c.state.firewall.node_options.get(c.text("node"), {})
    return {**dict(sorted(options.items())), "digest": digest([options])}


def list_groups(c: Call) -> object:
    fw = c.state.firewall
    records = [
        {"group": name, **({"comment": fw.group_comments[name]} if fw.group_comments.get(name) else {})}
        for name in sorted(fw.groups)
    ]
    stamp = digest(records)
    return [{**record, "digest": stamp} for record in records]


def create_alias(c: Call) -> object:
    aliases = c.state.firewall.aliases
    name = c.text("name")
    if name.lower() in aliases:
        raise param_error({"name": f"alias '{name}' already exists"})
    aliases[name.lower()] = Alias(name, c.text("cidr"), c.opt_text("comment") or "")
    return None


def delete_alias(c: Call) -> object:
    _check_digest(c, digest(_alias_records(c)))
    c.state.firewall.aliases.pop(c.text("name").lower(), None)
    return None


def _alias_records(c: Call) -> list[dict[str, str]]:
    aliases = sorted(c.state.firewall.aliases.values(), key=lambda a: a.name.lower())
    return [{"name": a.name, "cidr": a.cidr, **({"comment": a.comment} if a.comment else {})} for a in aliases]


def _ipset(c: Call) -> IPSet:
    name = c.text("name")
    ipset = c.state.firewall.ipsets.get(name)
    if ipset is None:
        raise fail(f"no such IPSet '{name}'")
    return ipset


def list_ipset(c: Call) -> object:
    records = [entry.record() for entry in _ipset(c).entries]
    stamp = digest(records)
    return [{**record, "digest": stamp} for record in records]


def add_ipset_entry(c: Call) -> object:
    """PVE puts a new entry first; an alias must exist, a zero prefix is refused."""
    ipset, cidr = _ipset(c), c.text("cidr")
    if any(entry.cidr == cidr for entry in ipset.entries):
        raise param_error({"cidr": f"address '{cidr}' already exists"})
    if cidr.rsplit("/", 1)[-1].strip("0") == "" and "/" in cidr:
        raise param_error({"cidr": "a zero prefix is not allowed in ipset entries"})
    name = cidr.rpartition("/")[2] if cidr.startswith(("dc/", "guest/")) else cidr
    if NAME.match(name) and name.lower() not in c.state.firewall.aliases:
        raise fail(f"no such alias '{name}'")
    ipset.entries.insert(0, IPSetEntry(cidr, c.opt_text("comment") or "", c.flag("nomatch")))
    return None


def delete_ipset_entry(c: Call) -> object:
    ipset = _ipset(c)
    _check_digest(c, digest([entry.record() for entry in ipset.entries]))
    ipset.entries = [entry for entry in ipset.entries if entry.cidr != c.text("cidr")]
    return None


def _rule_routes(base: str, scope: Scope, extra: tuple[Param, ...]) -> tuple[Route, ...]:
    return (
        Route("GET", base, extra, list_rules(scope)),
        Route("POST", base, (*extra, *CREATE), create_rule(scope)),
        Route("PUT", f"{base}/{{pos}}", (*extra, *UPDATE), update_rule(scope)),
        Route("DELETE", f"{base}/{{pos}}", (*extra, *DELETE), delete_rule(scope)),
    )


ROUTES: tuple[Route, ...] = (
    Route("GET", "/cluster/firewall/options", (), get_options),
    Route(
        "PUT",
        "/cluster/firewall/options",
        (
            text("delete", format="pve-configid-list"),
            DIGEST,
            flag("ebtables"),
            integer("enable", minimum=0),
            text("log_ratelimit"),
            text("policy_forward", enum=("ACCEPT", "DROP")),
            text("policy_in", enum=POLICIES),
            text("policy_out", enum=POLICIES),
        ),
        set_options,
    ),
    Route("GET", "/cluster/firewall/aliases", (), list_aliases),
    Route("GET", "/cluster/firewall/ipset", (), list_ipsets),
    Route(
        "POST",
        "/cluster/firewall/aliases",
        (ALIAS, text("cidr", optional=False, format="IPorCIDR"), text("comment")),
        create_alias,
    ),
    Route("DELETE", "/cluster/firewall/aliases/{name}", (ALIAS, DIGEST), delete_alias),
    Route("GET", "/cluster/firewall/ipset/{name}", (ALIAS,), list_ipset),
    Route(
        "POST",
        "/cluster/firewall/ipset/{name}",
        (ALIAS, text("cidr", optional=False, format="IPorCIDRorAlias"), text("comment"), flag("nomatch")),
        add_ipset_entry,
    ),
    Route(
        "DELETE",
        "/cluster/firewall/ipset/{name}/{cidr}",
        (ALIAS, text("cidr", optional=False, format="IPorCIDRorAlias"), DIGEST),
        delete_ipset_entry,
    ),
    Route("GET", "/cluster/firewall/groups", (), list_groups),
    Route("GET", "/cluster/firewall/groups/{group}", (GROUP,), list_rules(group_scope)),
    Route("GET", "/nodes/{node}/firewall/options", (NODE,), node_options),
    *_rule_routes("/nodes/{node}/firewall/rules", node_scope, (NODE,)),
    *_rule_routes("/cluster/firewall/rules", cluster_scope, ()),
    *_rule_routes("/nodes/{node}/qemu/{vmid}/firewall/rules", guest_scope, (NODE, VMID)),
    *_rule_routes("/nodes/{node}/lxc/{vmid}/firewall/rules", guest_scope, (NODE, VMID)),
)
