"""Storage definitions, per-node storage status and content."""

from pvemcp.catalog.spec import NODE, STORAGE, Param, Tier, ToolSpec

CONTENT_TYPES = ("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import")

TOOLS = (
    ToolSpec(
        name="pve_list_storage",
        category="storage",
        tier=Tier.READ_ONLY,
        title="List storage definitions",
        description="Datacenter storage definitions: ID, type, content types, path or server, shared flag.",
        method="GET",
        path="/storage",
        params=(
            Param(
                "type",
                "string",
                "Only storages of this type.",
                enum=(
                    "btrfs",
                    "cephfs",
                    "cifs",
                    "dir",
                    "esxi",
                    "iscsi",
                    "iscsidirect",
                    "lvm",
                    "lvmthin",
                    "nfs",
                    "pbs",
                    "rbd",
                    "zfs",
                    "zfspool",
                ),
            ),
        ),
    ),
    ToolSpec(
        name="pve_list_node_storage",
        category="storage",
        tier=Tier.READ_ONLY,
        title="List a node's storage",
        description="Storages as one node sees them: active, enabled, total, used and available bytes.",
        method="GET",
        path="/nodes/{node}/storage",
        params=(
            NODE,
            Param("content", "string", "Only storages that hold this content type.", enum=CONTENT_TYPES),
            Param("enabled", "boolean", "Only enabled storages."),
        ),
    ),
    ToolSpec(
        name="pve_list_storage_content",
        category="storage",
        tier=Tier.READ_ONLY,
        title="List storage content",
        description="Volumes on a storage: disk images, ISO images, container templates, backups; with size and owner.",
        method="GET",
        path="/nodes/{node}/storage/{storage}/content",
        params=(
            NODE,
            STORAGE,
            Param("content", "string", "Only this content type, e.g. iso, vztmpl or backup.", enum=CONTENT_TYPES),
            Param("vmid", "integer", "Only volumes owned by this guest.", minimum=100),
        ),
    ),
)
