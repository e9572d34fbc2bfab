"""Node network interfaces. Writes stay pending until pve_apply_network_changes reloads networking."""

from types import MappingProxyType

from pvemcp.catalog.spec import NODE, Param, Rest, Tier, ToolSpec

IFACE = Param("iface", "string", "Interface name, e.g. vmbr0, bond0 or eno1.", required=True)
IFACE_TYPES = ("bridge", "bond", "vlan", "eth", "alias")  # OVS types need settings these tools do not take
PENDING = "Pending until pve_apply_network_changes."
SETTINGS = (
    Param("cidr", "string", "IPv4 address/prefix, e.g. 192.0.2.10/24.", free_text=True),
    Param("gateway", "string", "IPv4 default gateway (one per node)."),
    Param("bridge_ports", "string", "Bridge ports, space-separated, e.g. eno1.", free_text=True),
    Param("bridge_vlan_aware", "boolean", "VLAN-aware bridge."),
    Param("slaves", "string", "Bond members, space-separated, e.g. eno2 eno3.", free_text=True),
    Param(
        "bond_mode",
        "string",
        "Bond mode.",
        enum=("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"),
    ),
    Param("autostart", "boolean", "Bring it up at boot."),
    Param("comments", "string", "Free-text comment.", free_text=True),
)


def _list(name: str, title: str, description: str, kind: str, differs: str) -> ToolSpec:
    return ToolSpec(
        name=name,
        category="network",
        tier=Tier.READ_ONLY,
        title=title,
        description=description,
        target=Rest("GET", "/nodes/{node}/network"),
        params=(NODE,),
        fixed=MappingProxyType({"type": kind}),
        differs=differs,
    )


TOOLS = (
    ToolSpec(
        name="pve_list_networks",
        category="network",
        tier=Tier.READ_ONLY,
        title="List node interfaces",
        description="A node's network interfaces, including pending changes: type, addresses, ports, active.",
        target=Rest("GET", "/nodes/{node}/network"),
        params=(
            NODE,
            Param(
                "type",
                "string",
                "Only this type; any_bridge includes OVS bridges.",
                enum=(*IFACE_TYPES, "OVSBridge", "OVSBond", "OVSPort", "OVSIntPort", "any_bridge"),
            ),
        ),
        differs="Takes a type filter.",
    ),
    _list(
        "pve_list_node_bridges",
        "List node bridges",
        "A node's Linux and OVS bridges (vmbrX) with ports, addresses and VLAN awareness.",
        "any_local_bridge",
        "Lists only bridges; nandi returned every interface.",
    ),
    _list(
        "pve_list_node_bonds",
        "List node bonds",
        "A node's Linux bonds with members (slaves), mode and hash policy.",
        "bond",
        "Lists only bonds; nandi returned every interface.",
    ),
    _list(
        "pve_list_node_physical_nics",
        "List physical NICs",
        "A node's physical network interfaces (type eth), with whether each is active.",
        "eth",
        "Lists only physical NICs; nandi returned every interface.",
    ),
    ToolSpec(
        name="pve_get_network",
        category="network",
        tier=Tier.READ_ONLY,
        title="Interface configuration",
        description="One interface's configuration, including pending changes.",
        target=Rest("GET", "/nodes/{node}/network/{iface}"),
        params=(NODE, IFACE),
    ),
    ToolSpec(
        name="pve_create_network",
        category="network",
        tier=Tier.FULL,
        title="Create interface",
        description=f"Add a bridge, bond, VLAN or other interface to a node. {PENDING}",
        target=Rest("POST", "/nodes/{node}/network"),
        params=(NODE, IFACE, Param("type", "string", "Interface type.", required=True, enum=IFACE_TYPES), *SETTINGS),
        destructive=True,
        confirm=True,
        differs="Confirms (a wrong interface can cut the node off) and takes addresses, ports, bond and VLAN settings.",
    ),
    ToolSpec(
        name="pve_update_network",
        category="network",
        tier=Tier.FULL,
        title="Change interface",
        description=f"Change an interface; settings not given, addresses included, stay. {PENDING}",
        target=Rest("PUT", "/nodes/{node}/network/{iface}"),
        params=(
            NODE,
            IFACE,
            Param("type", "string", "Interface type; read from the node if omitted.", local=True),
            *SETTINGS,
            Param("delete", "string", "Settings to remove, comma-separated, e.g. gateway."),
        ),
        destructive=True,
        confirm=True,
        idempotent=True,
        handler="update_network",
        at_least_one=(*(p.name for p in SETTINGS), "delete"),
        differs=(
            "Sends the interface type Proxmox requires (nandi's call fails) and keeps the addresses Proxmox would"
            " otherwise drop; takes every setting."
        ),
    ),
    ToolSpec(
        name="pve_delete_network",
        category="network",
        tier=Tier.FULL,
        title="Delete interface",
        description=f"Remove an interface from a node's configuration. {PENDING}",
        target=Rest("DELETE", "/nodes/{node}/network/{iface}"),
        params=(NODE, IFACE),
        destructive=True,
        confirm=True,
    ),
    ToolSpec(
        name="pve_apply_network_changes",
        category="network",
        tier=Tier.FULL,
        title="Apply network changes",
        description="Make a node's pending network changes live (reloads networking).",
        target=Rest("PUT", "/nodes/{node}/network"),
        params=(NODE,),
        destructive=True,
        confirm=True,
        returns_task=True,
        differs="New: without it nandi's network changes never take effect.",
    ),
    ToolSpec(
        name="pve_revert_network_changes",
        category="network",
        tier=Tier.FULL,
        title="Discard network changes",
        description="Drop a node's pending network changes; the running configuration stays.",
        target=Rest("DELETE", "/nodes/{node}/network"),
        params=(NODE,),
        destructive=True,
        confirm=True,
        idempotent=True,
        differs="New.",
    ),
)
