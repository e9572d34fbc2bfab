"""Backups: scheduled jobs, one-off vzdump runs, the archives, and restoring them."""

from dataclasses import replace
from types import MappingProxyType

from pvemcp.catalog.spec import NODE, STORAGE, Param, Rest, Tier, ToolSpec
from pvemcp.catalog.storage import PRUNE

JOB_ID = Param("id", "string", "Backup job ID, e.g. backup-5f1b2e3a-9c1d.", required=True)
VMIDS = Param("vmid", "string", "Guest IDs, comma-separated, e.g. 100,101.")
ALL = Param("all", "boolean", "All guests instead of a vmid list.")
MODE = Param(
    "mode",
    "string",
    "snapshot (default, no downtime), suspend, or stop (shuts guests down).",
    enum=("snapshot", "suspend", "stop"),
)
COMPRESS = Param(
    "compress", "string", "zstd (recommended), gzip, lzo; default none.", enum=("0", "gzip", "lzo", "zstd")
)
TARGET = Param("storage", "string", "Target storage, e.g. nfs-backup.")
NOTES = Param("notes-template", "string", "Notes for each archive, e.g. {{guestname}}.", free_text=True)
SCHEDULE = Param("schedule", "string", "When to run, e.g. 01:00, sat 02:30 or mon..fri 21:00.", free_text=True)
ENABLED = Param("enabled", "boolean", "Run on schedule (false pauses the job).")
COMMENT = Param("comment", "string", "Free-text comment.", free_text=True)
JOB_SETTINGS = (SCHEDULE, TARGET, VMIDS, ALL, MODE, COMPRESS, ENABLED, COMMENT, PRUNE)

ARCHIVE = Param("archive", "string", "Backup volid, as pve_list_backups shows it.", required=True, free_text=True)
NEW_VMID = Param("vmid", "integer", "ID for the restored guest.", required=True, minimum=100)
RESTORE_PARAMS = (
    Param("storage", "string", "Storage for the disks; default: as in the backup."),
    Param("force", "boolean", "Overwrite the guest with this ID (its disks are lost)."),
    Param("unique", "boolean", "New MAC addresses, for a copy beside the original."),
)

TOOLS = (
    ToolSpec(
        name="pve_list_backup_jobs",
        category="backup",
        tier=Tier.READ_ONLY,
        title="List backup jobs",
        description="Scheduled backup jobs: ID, schedule, next run, guests, storage, mode, retention, enabled.",
        target=Rest("GET", "/cluster/backup"),
    ),
    ToolSpec(
        name="pve_get_backup_job",
        category="backup",
        tier=Tier.READ_ONLY,
        title="Backup job",
        description="One scheduled backup job with all its settings.",
        target=Rest("GET", "/cluster/backup/{id}"),
        params=(JOB_ID,),
    ),
    ToolSpec(
        name="pve_list_backups",
        category="backup",
        tier=Tier.READ_ONLY,
        title="List backups",
        description="Backup archives on a storage: volume ID, guest, time, size, notes. Restore one by its volid.",
        target=Rest("GET", "/nodes/{node}/storage/{storage}/content"),
        paged=True,
        page_key="volid",
        params=(NODE, STORAGE, Param("vmid", "integer", "Only backups of this guest.", minimum=100)),
        fixed=MappingProxyType({"content": "backup"}),
        differs="Lists only backups (content=backup); nandi returned every volume on the storage.",
    ),
    ToolSpec(
        name="pve_run_backup",
        category="backup",
        tier=Tier.READ_EXECUTE,
        title="Back up now",
        description="Run vzdump on a node for some or all of its guests.",
        target=Rest("POST", "/nodes/{node}/vzdump"),
        params=(NODE, VMIDS, ALL, TARGET, MODE, COMPRESS, NOTES),
        destructive=True,
        confirm=True,
        returns_task=True,
        differs="Confirms: mode=stop shuts the guests down. Also takes all, compress and notes.",
    ),
    ToolSpec(
        name="pve_create_backup_job",
        category="backup",
        tier=Tier.FULL,
        title="Create backup job",
        description="Schedule a backup job for a vmid list or all guests, with mode, compression and retention.",
        target=Rest("POST", "/cluster/backup"),
        params=(
            Param("id", "string", "Job ID; generated if omitted."),
            replace(SCHEDULE, required=True),
            replace(TARGET, required=True),
            *JOB_SETTINGS[2:],
        ),
        destructive=True,
        confirm=True,
        differs="Confirms (a mode=stop job shuts guests down); also takes all, compression, retention, comment.",
    ),
    ToolSpec(
        name="pve_update_backup_job",
        category="backup",
        tier=Tier.FULL,
        title="Change backup job",
        description="Change a scheduled backup job; settings not given stay. A vmid list replaces all, and all a list.",
        target=Rest("PUT", "/cluster/backup/{id}"),
        params=(JOB_ID, *JOB_SETTINGS, Param("delete", "string", "Settings to reset, comma-separated.")),
        destructive=True,
        confirm=True,
        idempotent=True,
        at_least_one=(*(p.name for p in JOB_SETTINGS), "delete"),
        differs="New: nandi cannot change a backup job.",
    ),
    ToolSpec(
        name="pve_delete_backup_job",
        cluster_wide=True,
        category="backup",
        tier=Tier.FULL,
        title="Delete backup job",
        description="Delete a scheduled backup job. Existing archives stay.",
        target=Rest("DELETE", "/cluster/backup/{id}"),
        params=(JOB_ID,),
        destructive=True,
        confirm=True,
    ),
    ToolSpec(
        name="pve_restore_qemu_backup",
        category="backup",
        tier=Tier.FULL,
        title="Restore VM backup",
        description="Restore a VM backup as a new VM, or with force over an existing one.",
        target=Rest("POST", "/nodes/{node}/qemu"),
        params=(NODE, NEW_VMID, ARCHIVE, *RESTORE_PARAMS),
        destructive=True,
        confirm=True,
        returns_task=True,
        differs="Also takes force and unique.",
    ),
    ToolSpec(
        name="pve_restore_lxc_backup",
        category="backup",
        tier=Tier.FULL,
        title="Restore container backup",
        description="Restore a container backup as a new one, or with force over an existing one.",
        target=Rest("POST", "/nodes/{node}/lxc"),
        params=(NODE, NEW_VMID, replace(ARCHIVE, wire="ostemplate"), *RESTORE_PARAMS),
        fixed=MappingProxyType({"restore": 1}),
        destructive=True,
        confirm=True,
        returns_task=True,
        differs="Sends the archive as ostemplate with restore=1, as Proxmox requires (nandi's archive fails).",
    ),
)
