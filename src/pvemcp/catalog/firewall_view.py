"""The firewall as one guest meets it: its own options, readable and settable, and its effective firewall in
one answer (which of the three switches are on, its rules with security groups expanded, what they name).

A guest's firewall filters only when the datacenter firewall, the guest's `enable` option and the NIC's
firewall=1 are all on; the three live in three places, so one read that joins them saves the assistant from
concluding "protected" from rules that are not enforced. Changing the options confirms like every firewall
write: enable with policy_in DROP blocks whatever no rule allows.
"""

from __future__ import annotations

from pvemcp.catalog.firewall import GUEST, POLICY
from pvemcp.catalog.spec import Module, Param, Rest, Tier, ToolSpec, reader, writer

OPTIONS = "/nodes/{node}/{guest_type}/{vmid}/firewall/options"
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog")
SETTABLE = (
    Param("enable", "boolean", "true filters the guest's NICs that have firewall=1 (if the datacenter's is on)."),
    Param("policy_in", "string", "Incoming traffic no rule matches (default DROP).", enum=POLICY),
    Param("policy_out", "string", "Outgoing traffic no rule matches (default ACCEPT).", enum=POLICY),
    Param("dhcp", "boolean", "Allow DHCP (default false)."),
    Param("ipfilter", "boolean", "Allow only the guest's own IP addresses as source (default false)."),
    Param("macfilter", "boolean", "Drop frames from MAC addresses not the guest's (default true)."),
    Param("ndp", "boolean", "Allow IPv6 neighbour discovery (default true)."),
    Param("radv", "boolean", "Allow the guest to send IPv6 router advertisements (default false)."),
    Param("log_level_in", "string", "Log level for incoming traffic (default nolog).", enum=LOG_LEVELS),
    Param("log_level_out", "string", "Log level for outgoing traffic (default nolog).", enum=LOG_LEVELS),
)

_read = reader("firewall", Module.ADVANCED)
_write = writer("firewall", Module.ADVANCED)

TOOLS = (
    _read(
        "pve_get_guest_firewall_options",
        "Guest firewall options",
        "A VM's or container's firewall options: enable, policy_in/out, dhcp, ipfilter, macfilter, ndp, radv and"
        " log levels, flags as booleans; those the guest does not set show Proxmox's default and are listed in"
        " defaulted. With the digest.",
        OPTIONS,
        *GUEST,
        handler="guest_firewall_options",
        catalog_listing=False,
    ),
    _write(
        "pve_update_guest_firewall_options",
        "Set guest firewall options",
        "Turn a guest's firewall on or off, or change its policies, filters and log levels; unnamed options stay,"
        " delete resets to defaults. Returns the options as they are then. With enable and policy_in DROP,"
        " traffic no rule allows is blocked.",
        "PUT",
        OPTIONS,
        *GUEST,
        *SETTABLE,
        Param("delete", "string", "Options to reset to their defaults, comma-separated, e.g. policy_in,dhcp."),
        Param("digest", "string", "Options digest; refused if they changed since."),
        confirm=True,
        idempotent=True,
        at_least_one=(*(p.name for p in SETTABLE), "delete"),
        handler="update_guest_firewall_options",
        catalog_listing=False,
    ),
    ToolSpec(
        name="pve_guest_firewall",
        category="firewall",
        tier=Tier.READ_ONLY,
        title="Guest's effective firewall",
        description="Whether a guest's firewall is enforced (datacenter on, guest enable on, a NIC with"
        " firewall=1; why_not_enforced says which is off), its policies, NICs, rules in order with security"
        " groups expanded, the aliases and IP sets they name, and the datacenter and node rules (those filter"
        " the hosts, not the guest). Unreadable parts are listed in skipped.",
        target=Rest("GET", "/nodes/{node}/{guest_type}/{vmid}/firewall/rules"),
        params=GUEST,
        handler="guest_firewall",
        catalog_listing=False,
    ),
)
