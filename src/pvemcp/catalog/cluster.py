"""Cluster-wide views: quorum, every resource in one call, the next free VMID."""

from pvemcp.catalog.spec import Param, Tier, ToolSpec

TOOLS = (
    ToolSpec(
        name="pve_get_cluster_status",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Cluster status",
        description=(
            "Quorum and membership: the cluster entry (quorate, node count) and each node's online state and IP."
        ),
        method="GET",
        path="/cluster/status",
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
        method="GET",
        path="/cluster/resources",
        params=(
            Param(
                "type",
                "string",
                "Only this kind: vm (QEMU and LXC guests), node, storage or sdn.",
                enum=("vm", "storage", "node", "sdn"),
            ),
        ),
    ),
    ToolSpec(
        name="pve_get_next_vmid",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Next free VMID",
        description="The lowest free guest ID, for a new VM or container. With vmid, checks that this ID is free.",
        method="GET",
        path="/cluster/nextid",
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
)
