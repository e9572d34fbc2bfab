"""Firewall: datacenter options, aliases and IP sets, and ordered rules for the datacenter and each guest.

Every write confirms: one DROP rule or a DROP policy can cut the admin off the cluster.
"""

from typing import Literal

from pvemcp.catalog.access import COMMENT
from pvemcp.catalog.spec import GUEST_TYPE, NODE_FOR_GUEST, VMID, Module, Param, Rest, Tier, ToolSpec, reader

CLUSTER_RULES = "/cluster/firewall/rules"
GUEST_RULES = "/nodes/{node}/{guest_type}/{vmid}/firewall/rules"
ACTION = Param("action", "string", "ACCEPT, DROP, REJECT, or a group name (type group).")
ENABLE = Param("enable", "integer", "1 on (default for new rules), 0 off.")
FIELDS = (
    Param("proto", "string", "Protocol, e.g. tcp, udp, icmp."),
    Param("dport", "string", "Destination ports: 22, 80:90, 80,443."),
    Param("sport", "string", "Source ports, like dport."),
    Param("source", "string", "IP, CIDR, range, alias or +ipset.", free_text=True),
    Param("dest", "string", "Destination, like source.", free_text=True),
    Param("macro", "string", "Service macro, e.g. SSH, HTTP, Ping."),
    Param("log", "string", "Log level, e.g. info (default nolog)."),
    COMMENT,
)
POS = Param("pos", "integer", "Rule position (pos in the list).", required=True)
DIGEST = Param("digest", "string", "List digest; refused if the rules changed since.")
UPDATABLE = ("type", "action", "enable", "proto", "dport", "sport", "source", "dest", "macro", "iface", "log")


def _rule_tools(scope: str, noun: str, path: str, where: tuple[Param, ...], kinds: tuple[str, ...]) -> list[ToolSpec]:
    """Create, update and delete for one rule list; the datacenter and guest lists differ only in place."""
    kind = Param("type", "string", "in, out" + (", forward" if "forward" in kinds else "") + " or group.", enum=kinds)
    iface = Param(
        "iface", "string", "Only this NIC, e.g. net0." if scope == "guest" else "Only this host interface, e.g. vmbr0."
    )
    located = " guest_type and node are found from the vmid (nandi defaulted to qemu)." if scope == "guest" else ""

    def spec(
        action: str,
        title: str,
        description: str,
        method: Literal["POST", "PUT", "DELETE"],
        path: str,
        params: tuple[Param, ...],
        differs: str,
        *,
        handler: str | None = None,
        at_least_one: tuple[str, ...] = (),
    ) -> ToolSpec:
        return ToolSpec(
            name=f"pve_{action}_{scope}_firewall_rule",
            category="firewall",
            tier=Tier.FULL,
            title=title,
            description=description,
            target=Rest(method, path),
            params=params,
            module=Module.ADVANCED,
            destructive=True,
            confirm=True,
            idempotent=False,
            handler=handler,
            at_least_one=at_least_one,
            differs=differs,
            cluster_wide=scope == "cluster",
        )

    return [
        spec(
            "create",
            title=f"Add {noun} firewall rule",
            description=f"Add a {noun} firewall rule, enabled, at pos (default 0 = top; first match wins). A DROP"
            " can cut off access, yours too. Returns the stored rule.",
            method="POST",
            path=path,
            params=(
                *where,
                Param("type", "string", kind.description, required=True, enum=kinds),
                Param("action", "string", ACTION.description, required=True),
                ENABLE,
                *FIELDS,
                iface,
                Param("pos", "integer", "Insert here (default 0, the top); rules below shift.", local=True),
            ),
            handler="create_firewall_rule",
            differs="Asks for confirmation (a DROP rule can lock the admin out); rules are enabled by default"
            " (nandi's were created disabled) and take sport, source, dest, macro, iface, log, comment and an"
            f" insert position.{located}",
        ),
        spec(
            "update",
            title=f"Change {noun} firewall rule",
            description=f"Change a {noun} firewall rule's fields, or move it with moveto. Unnamed fields stay.",
            method="PUT",
            path=f"{path}/{{pos}}",
            params=(
                *where,
                POS,
                kind,
                ACTION,
                ENABLE,
                *FIELDS,
                iface,
                Param("moveto", "integer", "Move before the rule at this pos; ignores other fields."),
                Param("delete", "string", "Fields to clear, e.g. dport,source."),
                DIGEST,
            ),
            at_least_one=(*UPDATABLE, "comment", "moveto", "delete"),
            differs="Edits every rule field, clears fields (delete), moves rules (moveto) and can guard with digest;"
            f" nandi changed only action, proto and dport.{located}",
        ),
        spec(
            "delete",
            title=f"Delete {noun} firewall rule",
            description=f"Delete the {noun} firewall rule at pos; the rules below move up one.",
            method="DELETE",
            path=f"{path}/{{pos}}",
            params=(*where, POS, DIGEST),
            differs=f"Can guard with digest, refusing if the rules moved since they were listed.{located}",
        ),
    ]


_read = reader("firewall", Module.ADVANCED)


GUEST = (NODE_FOR_GUEST, VMID, GUEST_TYPE)
POLICY = ("ACCEPT", "REJECT", "DROP")

TOOLS = (
    _read(
        "pve_list_cluster_firewall_rules",
        "List datacenter rules",
        "Datacenter firewall rules in order (pos, first match wins) with their fields and the list digest.",
        CLUSTER_RULES,
    ),
    _read(
        "pve_get_cluster_firewall_options",
        "Datacenter firewall options",
        "Whether the datacenter firewall is on, default in/out/forward policies, log rate limit, ebtables.",
        "/cluster/firewall/options",
    ),
    _read(
        "pve_list_cluster_firewall_aliases",
        "List firewall aliases",
        "Named addresses and networks that rules can use as source or dest.",
        "/cluster/firewall/aliases",
    ),
    _read(
        "pve_list_cluster_firewall_ipsets",
        "List firewall IP sets",
        "IP sets (name, comment) that rules can use as +name in source or dest.",
        "/cluster/firewall/ipset",
    ),
    _read(
        "pve_list_guest_firewall_rules",
        "List guest rules",
        "A VM's or container's firewall rules in order (pos) with their fields and the list digest.",
        GUEST_RULES,
        *GUEST,
        differs="guest_type and node are found from the vmid (nandi defaulted to qemu).",
    ),
    ToolSpec(
        name="pve_update_cluster_firewall_options",
        cluster_wide=True,
        category="firewall",
        tier=Tier.FULL,
        title="Set datacenter firewall",
        description="Turn the datacenter firewall on or off or change its default policies. With policy_in DROP,"
        " traffic no rule allows is blocked.",
        target=Rest("PUT", "/cluster/firewall/options"),
        params=(
            Param("enable", "integer", "1 turns the datacenter firewall on, 0 off."),
            Param("policy_in", "string", "Default for incoming traffic.", enum=POLICY),
            Param("policy_out", "string", "Default for outgoing traffic.", enum=POLICY),
            Param("policy_forward", "string", "Default for routed traffic.", enum=("ACCEPT", "DROP")),
            Param("log_ratelimit", "string", "e.g. enable=1,rate=1/second,burst=5.", free_text=True),
            Param("ebtables", "boolean", "Enable ebtables rules (default true)."),
            Param("delete", "string", "Options to reset, comma-separated."),
        ),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        idempotent=True,
        at_least_one=("enable", "policy_in", "policy_out", "policy_forward", "log_ratelimit", "ebtables", "delete"),
        differs="Also sets policy_forward, log_ratelimit and ebtables and can reset options (delete).",
    ),
    *_rule_tools("cluster", "datacenter", CLUSTER_RULES, (), ("in", "out", "forward", "group")),
    *_rule_tools("guest", "guest", GUEST_RULES, GUEST, ("in", "out", "group")),
)
