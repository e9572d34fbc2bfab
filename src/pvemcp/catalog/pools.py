"""Resource pools: named groups of guests and storages, used for permissions and overview."""

from pvemcp.catalog.spec import Param, Rest, Tier, ToolSpec

POOLID = Param("poolid", "string", "Pool ID, e.g. production.", required=True)
COMMENT = Param("comment", "string", "Free-text comment.", free_text=True)

TOOLS = (
    ToolSpec(
        name="pve_list_pools",
        category="pools",
        tier=Tier.READ_ONLY,
        title="List pools",
        description="Resource pools with their comments. pve_get_pool lists a pool's members.",
        target=Rest("GET", "/pools"),
    ),
    ToolSpec(
        name="pve_get_pool",
        category="pools",
        tier=Tier.READ_ONLY,
        title="Pool members",
        description="One pool with its comment and members: guests (status, node, usage) and storages.",
        target=Rest("GET", "/pools"),
        params=(POOLID, Param("type", "string", "Only members of this type.", enum=("qemu", "lxc", "storage"))),
        differs="Uses GET /pools?poolid=, as Proxmox recommends; the per-pool path nandi calls is deprecated.",
    ),
    ToolSpec(
        name="pve_create_pool",
        cluster_wide=True,
        category="pools",
        tier=Tier.FULL,
        title="Create pool",
        description="Create an empty resource pool; add guests and storages with pve_update_pool.",
        target=Rest("POST", "/pools"),
        params=(POOLID, COMMENT),
    ),
    ToolSpec(
        name="pve_update_pool",
        category="pools",
        tier=Tier.FULL,
        title="Change pool",
        description="Set a pool's comment, or add guests and storages to it; with delete=true remove them instead.",
        target=Rest("PUT", "/pools"),
        params=(
            POOLID,
            COMMENT,
            Param("vms", "string", "Guest IDs, comma-separated, e.g. 100,101."),
            Param("storage", "string", "Storage IDs, comma-separated."),
            Param("delete", "boolean", "Remove the listed guests and storages instead of adding them."),
            Param("allow-move", "boolean", "Move guests that belong to another pool."),
        ),
        destructive=True,
        confirm=True,
        at_least_one=("comment", "vms", "storage"),
        differs="Can remove members (delete) and move guests between pools (allow-move).",
    ),
    ToolSpec(
        name="pve_delete_pool",
        cluster_wide=True,
        category="pools",
        tier=Tier.FULL,
        title="Delete pool",
        description="Delete an empty pool; Proxmox refuses while guests or storages are still members.",
        target=Rest("DELETE", "/pools"),
        params=(POOLID,),
        destructive=True,
        confirm=True,
    ),
)
