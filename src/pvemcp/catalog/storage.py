"""Storage definitions, per-node storage status and content."""

from pvemcp.catalog.spec import NODE, STORAGE, Param, Rest, Tier, ToolSpec

CONTENT_TYPES = ("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import")
STORAGE_TYPES = (
    "btrfs", "cephfs", "cifs", "dir", "esxi", "iscsi", "iscsidirect",
    "lvm", "lvmthin", "nfs", "pbs", "rbd", "zfs", "zfspool",
)  # fmt: skip

# Settings shared by create and update (and, for retention, by backup jobs).
CONTENT = Param("content", "string", "Content types, e.g. images,rootdir or iso,backup.")
NODES = Param("nodes", "string", "Nodes that may use it, e.g. pve1,pve2; all if unset.")
SHARED = Param("shared", "boolean", "Same content on every node.")
DISABLE = Param("disable", "boolean", "true disables the storage, false enables it.")
PRUNE = Param("prune-backups", "string", "Backup retention, e.g. keep-daily=7,keep-weekly=4.")

TOOLS = (
    ToolSpec(
        name="pve_list_storage",
        category="storage",
        tier=Tier.READ_ONLY,
        title="List storage definitions",
        description="Datacenter storage definitions: ID, type, content types, path or server, shared flag.",
        target=Rest("GET", "/storage"),
        params=(Param("type", "string", "Only storages of this type.", enum=STORAGE_TYPES),),
    ),
    ToolSpec(
        name="pve_get_storage_config",
        category="storage",
        tier=Tier.READ_ONLY,
        title="Storage definition",
        description="One storage definition: type, content, path or server, nodes, retention, with the digest.",
        target=Rest("GET", "/storage/{storage}"),
        params=(STORAGE,),
    ),
    ToolSpec(
        name="pve_list_node_storage",
        category="storage",
        tier=Tier.READ_ONLY,
        title="List a node's storage",
        description="Storages as one node sees them: active, enabled, total, used and available bytes.",
        target=Rest("GET", "/nodes/{node}/storage"),
        params=(
            NODE,
            Param("content", "string", "Only storages that hold this content type.", enum=CONTENT_TYPES),
            Param("enabled", "boolean", "Only enabled storages."),
        ),
    ),
    ToolSpec(
        name="pve_get_storage_status",
        category="storage",
        tier=Tier.READ_ONLY,
        title="Storage status",
        description="One storage as a node sees it: active, enabled, total, used and available bytes.",
        target=Rest("GET", "/nodes/{node}/storage/{storage}/status"),
        params=(NODE, STORAGE),
    ),
    ToolSpec(
        name="pve_list_storage_content",
        category="storage",
        tier=Tier.READ_ONLY,
        title="List storage content",
        description="Volumes on a storage: disk images, ISO images, container templates, backups; with size and owner.",
        target=Rest("GET", "/nodes/{node}/storage/{storage}/content"),
        paged=True,
        page_key="volid",
        params=(
            NODE,
            STORAGE,
            Param("content", "string", "Only this content type, e.g. iso, vztmpl or backup.", enum=CONTENT_TYPES),
            Param("vmid", "integer", "Only volumes owned by this guest.", minimum=100),
        ),
    ),
    ToolSpec(
        name="pve_create_storage",
        cluster_wide=True,
        category="storage",
        tier=Tier.FULL,
        title="Add storage",
        description=(
            "Define a storage: dir takes path; nfs server and export; lvm vgname; lvmthin vgname and thinpool;"
            " zfspool and rbd pool."
        ),
        target=Rest("POST", "/storage"),
        params=(
            STORAGE,
            Param("type", "string", "Storage type.", required=True, enum=STORAGE_TYPES),
            CONTENT,
            Param("path", "string", "Directory, e.g. /mnt/data (dir, btrfs).", free_text=True),
            Param("server", "string", "Server name or IP (nfs, cifs, pbs)."),
            Param("export", "string", "NFS export path, e.g. /export/pve.", free_text=True),
            Param("pool", "string", "ZFS pool or dataset, e.g. rpool/data, or Ceph pool.", free_text=True),
            Param("vgname", "string", "LVM volume group (lvm, lvmthin)."),
            Param("thinpool", "string", "LVM thin pool (lvmthin)."),
            NODES,
            SHARED,
            PRUNE,
        ),
        destructive=True,
        confirm=True,
        differs=(
            "Confirms (a wrong definition can break guest disks) and takes the options of nfs, lvm, zfs and"
            " rbd storage, not only type, content and path."
        ),
    ),
    ToolSpec(
        name="pve_update_storage",
        cluster_wide=True,
        category="storage",
        tier=Tier.FULL,
        title="Change storage",
        description="Change a storage definition: content types, nodes, shared, enabled, backup retention.",
        target=Rest("PUT", "/storage/{storage}"),
        params=(
            STORAGE,
            CONTENT,
            NODES,
            SHARED,
            DISABLE,
            PRUNE,
            Param("delete", "string", "Settings to reset, e.g. nodes,prune-backups."),
            Param("digest", "string", "Digest as read; refuses if the config changed since."),
        ),
        destructive=True,
        confirm=True,
        idempotent=True,
        at_least_one=("content", "nodes", "shared", "disable", "prune-backups", "delete"),
        differs="Also sets nodes, shared and retention, resets settings (delete) and checks the digest.",
    ),
    ToolSpec(
        name="pve_delete_storage",
        cluster_wide=True,
        category="storage",
        tier=Tier.FULL,
        title="Remove storage",
        description="Remove a storage definition. The data stays where it is, but guests using it lose their disks.",
        target=Rest("DELETE", "/storage/{storage}"),
        params=(STORAGE,),
        destructive=True,
        confirm=True,
    ),
)
