"""VM disks: move a disk to another storage, and detach or delete disks from a VM's config.

Resizing stays with the other VM tools (pve_qemu_resize_disk). Both tools confirm: a move can free
the source volume (delete=true) and an unlink with force destroys data.
"""

from pvemcp.catalog.spec import NODE_FOR_GUEST, VMID, Module, Param, Rest, Tier, ToolSpec

TOOLS = (
    ToolSpec(
        name="pve_qemu_move_disk",
        category="qemu",
        tier=Tier.FULL,
        title="Move VM disk",
        description="Copy a VM disk to another storage (live for a running VM) and point the config at the copy;"
        " the source stays as unusedN unless delete=true. Waits for the task.",
        target=Rest("POST", "/nodes/{node}/qemu/{vmid}/move_disk"),
        params=(
            NODE_FOR_GUEST,
            VMID,
            Param("disk", "string", "Disk key, e.g. scsi0 or unused0.", required=True, max_length=12),
            Param("storage", "string", "Target storage ID, e.g. ceph-vm.", required=True),
            Param("delete", "boolean", "Free the source volume after the copy (default: keep it as unusedN)."),
            Param(
                "format",
                "string",
                "Target format on file storages (default: as the storage prefers).",
                enum=("raw", "qcow2", "vmdk"),
            ),
            Param("bwlimit", "integer", "Copy bandwidth limit in KiB/s.", minimum=0),
            Param("digest", "string", "Config digest; refused if the config changed since."),
        ),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        idempotent=False,
        returns_task=True,
    ),
    ToolSpec(
        name="pve_qemu_unlink_disk",
        category="qemu",
        tier=Tier.FULL,
        title="Detach VM disks",
        description="Remove disks from a VM's config: a disk becomes unusedN (data kept); an unusedN entry, or any"
        " disk with force=true, is deleted from its storage for good.",
        target=Rest("PUT", "/nodes/{node}/qemu/{vmid}/unlink"),
        params=(
            NODE_FOR_GUEST,
            VMID,
            Param("idlist", "string", "Disk keys, comma-separated, e.g. scsi1,unused0.", required=True),
            Param("force", "boolean", "Delete the volumes instead of keeping them as unusedN."),
        ),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        idempotent=False,
    ),
)
