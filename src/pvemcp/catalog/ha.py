"""High availability: which guests HA manages, the PVE 9 rules that place them, and moving them
through the HA manager. The live manager status is pve_get_cluster_ha_status (cluster.py).

HA groups are deprecated in PVE 9 (migrated to node-affinity rules), so only rules are offered.
"""

from pvemcp.catalog.spec import Module, Param, reader, writer

read = reader("ha", Module.ADVANCED)
write = writer("ha", Module.ADVANCED)

SID = Param("sid", "string", "HA resource ID: vm:<vmid> or ct:<vmid>, e.g. vm:100.", required=True)
STATE = Param(
    "state",
    "string",
    "Requested state: started (HA keeps it running), stopped, disabled (stopped, not recovered), ignored.",
    enum=("started", "stopped", "disabled", "ignored"),
)
OPTIONS = (
    Param("max_restart", "integer", "Restart tries on the same node after a failed start (default 1).", minimum=0),
    Param("max_relocate", "integer", "Tries on other nodes after failed restarts (default 1).", minimum=0),
    Param("failback", "boolean", "Move back to the preferred node when it returns (default true)."),
    Param("comment", "string", "Free-text comment.", free_text=True),
)
# The destination; `node` elsewhere is where a guest is now. Proxmox names it node.
TARGET = Param("target", "string", "Destination node, e.g. pve2.", required=True, wire="node")

TOOLS = (
    read(
        "pve_list_ha_resources",
        "List HA resources",
        "Guests the HA manager manages, with their requested state and restart/relocate limits. For where"
        " each runs now and what the manager is doing, use pve_get_cluster_ha_status.",
        "/cluster/ha/resources",
        Param("type", "string", "Only VMs (vm) or containers (ct).", enum=("vm", "ct")),
    ),
    read(
        "pve_get_ha_resource",
        "HA resource",
        "One HA resource's configuration: requested state, max_restart, max_relocate, failback, comment.",
        "/cluster/ha/resources/{sid}",
        SID,
    ),
    read(
        "pve_list_ha_rules",
        "List HA rules",
        "HA rules (PVE 9): node-affinity rules (resources prefer or must stay on nodes, with priorities) and"
        " resource-affinity rules (resources kept together or apart).",
        "/cluster/ha/rules",
        Param("type", "string", "Only rules of this type.", enum=("node-affinity", "resource-affinity")),
        Param("resource", "string", "Only rules naming this resource, e.g. vm:100."),
    ),
    read(
        "pve_get_ha_rule",
        "HA rule",
        "One HA rule: its type, resources, nodes (node-affinity) or affinity (resource-affinity), strict.",
        "/cluster/ha/rules/{rule}",
        Param("rule", "string", "Rule ID, as pve_list_ha_rules shows it.", required=True),
    ),
    write(
        "pve_create_ha_resource",
        "Add guest to HA",
        "Put a guest under HA management. With state started (the default) the HA manager starts it if"
        " stopped and restarts or recovers it on failure; Proxmox refuses a guest already managed.",
        "POST",
        "/cluster/ha/resources",
        SID,
        STATE,
        *OPTIONS,
    ),
    write(
        "pve_update_ha_resource",
        "Change HA resource",
        "Change an HA resource: its requested state (stopped or disabled shuts the guest down, started"
        " starts it) or its limits and comment. delete resets options to their defaults.",
        "PUT",
        "/cluster/ha/resources/{sid}",
        SID,
        STATE,
        *OPTIONS,
        Param("delete", "string", "Options to reset, comma-separated, e.g. comment,max_restart."),
        confirm=True,
        at_least_one=("state", "max_restart", "max_relocate", "failback", "comment", "delete"),
    ),
    write(
        "pve_delete_ha_resource",
        "Remove guest from HA",
        "Stop managing a guest with HA; the guest itself keeps running or stays stopped. With purge (the"
        " default) it is also removed from HA rules.",
        "DELETE",
        "/cluster/ha/resources/{sid}",
        SID,
        Param("purge", "boolean", "Also remove it from HA rules (default true)."),
        confirm=True,
    ),
    write(
        "pve_migrate_ha_resource",
        "Migrate via HA",
        "Ask the HA manager to live-migrate a managed guest to another node (containers restart). It"
        " answers at once; follow the move with pve_get_cluster_ha_status (state migrate, then started on"
        " the target). Use this, not pve_qemu_migrate or pve_lxc_migrate, for HA-managed guests.",
        "POST",
        "/cluster/ha/resources/{sid}/migrate",
        TARGET,
        SID,
        confirm=True,
    ),
    write(
        "pve_relocate_ha_resource",
        "Relocate via HA",
        "Ask the HA manager to move a managed guest by stopping it, moving it and starting it on the target"
        " node: downtime, but no live migration needed. Follow it with pve_get_cluster_ha_status.",
        "POST",
        "/cluster/ha/resources/{sid}/relocate",
        TARGET,
        SID,
        confirm=True,
    ),
)
