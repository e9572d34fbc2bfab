"""Firewall beyond the datacenter and guest rule lists: each node's own rules and options, security
groups, and editing aliases and IP set entries.

Adding an address to an IP set confirms like every firewall rule change: a set such as a blocklist
used by a DROP rule can cut off the admin. A new alias confirms not: no rule uses it yet.
"""

from pvemcp.catalog.access import COMMENT
from pvemcp.catalog.spec import NODE, Module, Param, reader, writer

ALIASES = "/cluster/firewall/aliases"
IPSET = "/cluster/firewall/ipset/{name}"
GROUP = Param("group", "string", "Security group name, e.g. webserver.", required=True)
IPSET_NAME = Param("name", "string", "IP set name, e.g. management.", required=True)
ALIAS_NAME = Param("name", "string", "Alias name, e.g. backup_server.", required=True)
DIGEST = Param("digest", "string", "List digest; refused if the list changed since.")

_read = reader("firewall", Module.ADVANCED)


_write = writer("firewall", Module.ADVANCED)  # cluster-wide, full tier; confirm=True also marks destructive


TOOLS = (
    _read(
        "pve_list_node_firewall_rules",
        "List node firewall rules",
        "A node's own firewall rules (host.fw) in order (pos, first match wins) with the list digest.",
        "/nodes/{node}/firewall/rules",
        NODE,
    ),
    _read(
        "pve_get_node_firewall_options",
        "Node firewall options",
        "A node's firewall options: enable, log levels, conntrack limits, SYN flood and smurf protection, nftables.",
        "/nodes/{node}/firewall/options",
        NODE,
    ),
    _read(
        "pve_list_cluster_firewall_groups",
        "List security groups",
        "Security groups (group, comment): named rule sets a rule of type group applies to a node or guest.",
        "/cluster/firewall/groups",
    ),
    _read(
        "pve_list_cluster_firewall_group_rules",
        "List security group rules",
        "The rules of one security group in order (pos) with their fields and the list digest.",
        "/cluster/firewall/groups/{group}",
        GROUP,
    ),
    _read(
        "pve_list_cluster_firewall_ipset_entries",
        "List IP set entries",
        "The addresses and networks in one IP set (cidr, comment, nomatch=1 for exclusions) and the digest.",
        IPSET,
        IPSET_NAME,
    ),
    _write(
        "pve_create_cluster_firewall_alias",
        "Create firewall alias",
        "Name an IP address or network so rules and IP sets can use the name; refused if the name exists.",
        "POST",
        ALIASES,
        ALIAS_NAME,
        Param("cidr", "string", "IP or network, e.g. 192.0.2.10 or 192.0.2.0/24.", required=True, free_text=True),
        COMMENT,
        cluster_wide=True,
    ),
    _write(
        "pve_delete_cluster_firewall_alias",
        "Delete firewall alias",
        "Remove an alias. Rules that still name it stop matching it; check them first.",
        "DELETE",
        f"{ALIASES}/{{name}}",
        ALIAS_NAME,
        DIGEST,
        confirm=True,
        cluster_wide=True,
    ),
    _write(
        "pve_add_cluster_firewall_ipset_entry",
        "Add IP set entry",
        "Add an address, network or alias to an IP set; every rule using +name matches it at once."
        " nomatch=true excludes it instead.",
        "POST",
        IPSET,
        IPSET_NAME,
        Param(
            "cidr",
            "string",
            "IP, network or alias, e.g. 203.0.113.7 or 198.51.100.0/24.",
            required=True,
            free_text=True,
        ),
        Param("nomatch", "boolean", "Exclude this entry from the set."),
        COMMENT,
        confirm=True,
        idempotent=False,
        cluster_wide=True,
    ),
    _write(
        "pve_delete_cluster_firewall_ipset_entry",
        "Remove IP set entry",
        "Remove one address or network (as listed, e.g. 10.0.0.0/8) from an IP set; rules using it change at once.",
        "DELETE",
        f"{IPSET}/{{cidr}}",
        IPSET_NAME,
        Param("cidr", "string", "The entry's cidr as listed.", required=True, free_text=True),
        DIGEST,
        confirm=True,
        cluster_wide=True,
    ),
)
