"""Software-defined networking (Datacenter > SDN): zones, vnets, subnets, controllers, and applying them.

SDN objects are cluster-wide. Every change is pending until pve_apply_sdn_changes reloads the
network on all nodes; the listings show pending changes with pending=true.
"""

from __future__ import annotations

from types import MappingProxyType

from pvemcp.catalog.spec import Module, Param, reader, writer

read = reader("sdn", Module.ADVANCED)

VNET = Param("vnet", "string", "VNet ID, e.g. office.", required=True)
SUBNET_ID = Param("subnet", "string", "Subnet ID as listed, e.g. lan-192.168.10.0-24.", required=True)
PENDING = Param(
    "pending", "boolean", "Show changes not yet applied: state new/changed/deleted, new values under pending."
)
RUNNING = Param("running", "boolean", "Show only what is applied and running.")
VIEW = (PENDING, RUNNING)


write = writer("sdn", Module.ADVANCED)  # every change is full tier; a destructive one confirms


TOOLS = (
    read(
        "pve_list_sdn_zones",
        "List SDN zones",
        "SDN zones (simple, vlan, qinq, vxlan, evpn) with their bridge, IPAM and options.",
        "/cluster/sdn/zones",
        Param("type", "string", "Only zones of this type.", enum=("evpn", "faucet", "qinq", "simple", "vlan", "vxlan")),
        *VIEW,
    ),
    read(
        "pve_list_sdn_vnets",
        "List SDN vnets",
        "SDN virtual networks: zone, VLAN/VXLAN tag, alias. Guests attach to a vnet like to a bridge.",
        "/cluster/sdn/vnets",
        *VIEW,
    ),
    read(
        "pve_get_sdn_vnet",
        "SDN vnet",
        "One SDN vnet's settings: zone, tag, alias, VLAN awareness, port isolation.",
        "/cluster/sdn/vnets/{vnet}",
        VNET,
        *VIEW,
    ),
    read(
        "pve_list_sdn_subnets",
        "List SDN subnets",
        "A vnet's subnets: CIDR, gateway, SNAT, DHCP ranges. The subnet ID is zone-address-prefix.",
        "/cluster/sdn/vnets/{vnet}/subnets",
        VNET,
        *VIEW,
    ),
    read(
        "pve_list_sdn_controllers",
        "List SDN controllers",
        "SDN controllers (EVPN, BGP, IS-IS, faucet) with their ASN, peers and node.",
        "/cluster/sdn/controllers",
        Param("type", "string", "Only controllers of this type.", enum=("bgp", "evpn", "faucet", "isis")),
        *VIEW,
    ),
    write(
        "pve_create_sdn_vnet",
        "Create SDN vnet",
        "Add a vnet to a zone (pending until pve_apply_sdn_changes). vlan zones need a tag; simple zones take none.",
        "POST",
        "/cluster/sdn/vnets",
        Param("vnet", "string", "New vnet ID: a letter, then letters/digits, 2-8 characters.", required=True),
        Param("zone", "string", "Zone ID, e.g. lan (see pve_list_sdn_zones).", required=True),
        Param("tag", "integer", "VLAN or VXLAN ID.", minimum=1, maximum=16777215),
        Param("alias", "string", "Description shown in the GUI.", free_text=True, max_length=256),
        Param("vlanaware", "boolean", "Let guests pass their own VLAN tags through."),
        Param("isolate-ports", "boolean", "Isolate the vnet's ports from each other."),
        cluster_wide=True,
    ),
    write(
        "pve_delete_sdn_vnet",
        "Delete SDN vnet",
        "Remove a vnet (pending until pve_apply_sdn_changes). Proxmox refuses while it has subnets.",
        "DELETE",
        "/cluster/sdn/vnets/{vnet}",
        VNET,
        confirm=True,
        cluster_wide=True,
    ),
    write(
        "pve_create_sdn_subnet",
        "Create SDN subnet",
        "Add a subnet to an existing vnet (pending until pve_apply_sdn_changes), with gateway, SNAT and DHCP.",
        "POST",
        "/cluster/sdn/vnets/{vnet}/subnets",
        VNET,
        Param("subnet", "string", "Network in CIDR notation, e.g. 10.0.0.0/24.", required=True, free_text=True),
        Param("gateway", "string", "Gateway address inside the subnet, e.g. 10.0.0.1."),
        Param("snat", "boolean", "Masquerade outgoing traffic (simple and EVPN zones)."),
        Param(
            "dhcp-range",
            "array",
            "DHCP ranges, each 'start-address=10.0.0.100,end-address=10.0.0.200'.",
            items="string",
        ),
        Param("dnszoneprefix", "string", "DNS domain prefix, e.g. adm."),
        Param("dhcp-dns-server", "string", "DNS server handed out by DHCP."),
        fixed=MappingProxyType({"type": "subnet"}),
        cluster_wide=True,
    ),
    write(
        "pve_delete_sdn_subnet",
        "Delete SDN subnet",
        "Remove a subnet from its vnet (pending until pve_apply_sdn_changes).",
        "DELETE",
        "/cluster/sdn/vnets/{vnet}/subnets/{subnet}",
        VNET,
        SUBNET_ID,
        confirm=True,
        cluster_wide=True,
    ),
    write(
        "pve_apply_sdn_changes",
        "Apply SDN changes",
        "Apply all pending SDN changes and reload the network on every node (a task). Running guests on a"
        " changed vnet may lose connectivity briefly.",
        "PUT",
        "/cluster/sdn",
        confirm=True,
        returns_task=True,
        cluster_wide=True,
        spans_nodes=True,
    ),
)
