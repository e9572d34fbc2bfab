"""Cluster nodes."""

from pvemcp.catalog.spec import NODE, Rest, Tier, ToolSpec

TOOLS = (
    ToolSpec(
        name="pve_list_nodes",
        category="nodes",
        tier=Tier.READ_ONLY,
        title="List nodes",
        description="Every cluster node with online status, CPU, memory, disk and uptime.",
        target=Rest("GET", "/nodes"),
        aliases=("listNodes",),
    ),
    ToolSpec(
        name="pve_get_node_status",
        category="nodes",
        tier=Tier.READ_ONLY,
        title="Node status",
        description="One node's health: CPU and load, memory, swap, root disk, uptime, kernel and PVE version.",
        target=Rest("GET", "/nodes/{node}/status"),
        params=(NODE,),
        aliases=("getNodeStatus",),
    ),
)
