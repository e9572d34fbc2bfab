"""Cluster-wide views: quorum, every resource in one call, the next free VMID, the cluster log,
datacenter options, replication, HA and backup coverage."""

from pvemcp.catalog.spec import Param, Rest, Tier, ToolSpec

TOOLS = (
    ToolSpec(
        name="pve_get_cluster_status",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Cluster status",
        description=(
            "Quorum and membership: the cluster entry (quorate, node count) and each node's online state and IP."
        ),
        target=Rest("GET", "/cluster/status"),
    ),
    ToolSpec(
        name="pve_list_cluster_resources",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="List cluster resources",
        description=(
            "Every guest, node and storage in the cluster from one call, with status and usage. The best"
            " first call for an inventory; filter with type."
        ),
        target=Rest("GET", "/cluster/resources"),
        params=(
            Param(
                "type",
                "string",
                "Only this kind: vm (QEMU and LXC guests), node, storage or sdn.",
                enum=("vm", "storage", "node", "sdn"),
            ),
        ),
        paged=True,
        page_key="id",
    ),
    ToolSpec(
        name="pve_get_next_vmid",
        asks_id=True,
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Next free VMID",
        description="The lowest free guest ID, for a new VM or container. With vmid, checks that this ID is free.",
        target=Rest("GET", "/cluster/nextid"),
        params=(
            Param(
                "vmid",
                "integer",
                "Check this ID instead; an error says if it is taken.",
                minimum=100,
            ),
        ),
        result_key="vmid",
    ),
    ToolSpec(
        name="pve_get_cluster_log",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Cluster log",
        description="Recent cluster log entries, newest first: tasks started and ended, by node and user.",
        target=Rest("GET", "/cluster/log"),
        params=(Param("max", "integer", "How many entries; default 50.", minimum=1),),
        differs="Adds max.",
    ),
    ToolSpec(
        name="pve_get_cluster_options",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Datacenter options",
        description="Datacenter settings (datacenter.cfg): keyboard, console, MAC prefix, migration, HA.",
        target=Rest("GET", "/cluster/options"),
    ),
    ToolSpec(
        name="pve_list_cluster_replication",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="List replication jobs",
        description="Storage replication jobs: guest, source and target node, schedule, enabled.",
        target=Rest("GET", "/cluster/replication"),
    ),
    ToolSpec(
        name="pve_get_cluster_ha_status",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="HA status",
        description="High-availability status: quorum, manager and node LRMs, and each HA resource's state.",
        target=Rest("GET", "/cluster/ha/status/current"),
    ),
    ToolSpec(
        name="pve_list_cluster_backup_info",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Guests without backup",
        description="Guests no backup job covers: vmid, name, type. Empty when all are covered.",
        target=Rest("GET", "/cluster/backup-info/not-backed-up"),
        paged=True,
        page_key="vmid",
        differs="Lists the guests no backup job covers, as the name promises; nandi returned only the API index.",
    ),
)
