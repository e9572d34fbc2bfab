"""Storage administration: download ISO images and templates from a URL, delete volumes, prune backups."""

from __future__ import annotations

from types import MappingProxyType

from pvemcp.catalog.spec import NODE, STORAGE, Module, Param, Rest, Tier, ToolSpec

CATEGORY = "storage"
CHECKSUMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
KEEP = tuple(
    Param(f"keep-{period}", "integer", f"Keep the newest backup of each of the last N {unit}.", minimum=1, local=True)
    for period, unit in (("hourly", "hours"), ("daily", "days"), ("weekly", "weeks"), ("monthly", "months"))
)
RETENTION = (
    Param("keep-last", "integer", "Keep the N newest backups.", minimum=1, local=True),
    *KEEP,
    Param("keep-yearly", "integer", "Keep the newest backup of each of the last N years.", minimum=1, local=True),
    Param("keep-all", "boolean", "Keep every backup (no other keep-* then).", local=True),
    Param("type", "string", "Only backups of this guest type.", enum=("qemu", "lxc")),
)
RETENTION_NOTE = "Without keep-*, the storage's own retention (prune-backups) applies."

TOOLS = (
    ToolSpec(
        name="pve_download_url_to_storage",
        category=CATEGORY,
        tier=Tier.FULL,
        title="Download to storage",
        description=(
            "Download an ISO image (.iso/.img), a container template (.tar.gz/.xz/.zst) or an import image from an"
            " http(s) URL into a storage (waits for the task). Give checksum with checksum-algorithm to verify it."
        ),
        target=Rest("POST", "/nodes/{node}/storage/{storage}/download-url"),
        params=(
            NODE,
            STORAGE,
            Param("url", "string", "http(s) URL of the file.", required=True, free_text=True),
            Param("filename", "string", "File name in the storage, e.g. debian-13.iso.", required=True, max_length=255),
            Param(
                "content",
                "string",
                "What it is: iso, vztmpl (template) or import.",
                required=True,
                enum=("iso", "vztmpl", "import"),
            ),
            Param("checksum", "string", "Expected checksum (hex), e.g. from the publisher's SHA256SUMS."),
            Param("checksum-algorithm", "string", "Algorithm of checksum.", enum=CHECKSUMS),
            Param("verify-certificates", "boolean", "Verify the server's TLS certificate (default true)."),
        ),
        module=Module.ADVANCED,
        returns_task=True,
    ),
    ToolSpec(
        name="pve_delete_storage_volume",
        category=CATEGORY,
        tier=Tier.FULL,
        title="Delete volume",
        description=(
            "Delete one volume (ISO, template, backup, unused disk) from a storage, for good (waits for the task)."
            " Refused for a disk image whose guest exists: detach it from the guest instead."
        ),
        target=Rest("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}"),
        params=(
            NODE,
            STORAGE,
            Param(
                "volume",
                "string",
                "Volume ID, e.g. local:iso/old.iso (from pve_list_storage_content).",
                required=True,
                free_text=True,
            ),
        ),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        returns_task=True,
        handler="delete_storage_volume",
    ),
    ToolSpec(
        name="pve_plan_backup_prune",
        category=CATEGORY,
        tier=Tier.READ_ONLY,
        title="Preview backup pruning",
        description=(
            "Dry run of pve_prune_backups: each backup on a storage with mark keep, remove, protected or renamed"
            " (never removed). " + RETENTION_NOTE
        ),
        target=Rest("GET", "/nodes/{node}/storage/{storage}/prunebackups"),
        params=(NODE, STORAGE, *RETENTION, Param("vmid", "integer", "Only this guest's backups.", minimum=100)),
        module=Module.ADVANCED,
        handler="prune_backups",
        paged=True,
        page_key="volid",
    ),
    ToolSpec(
        name="pve_prune_backups",
        missing=MappingProxyType({"vmid": "storage-backups"}),
        category=CATEGORY,
        tier=Tier.FULL,
        title="Prune backups",
        description=(
            "Remove the backups a retention policy does not keep (waits for the task); preview with"
            " pve_plan_backup_prune. " + RETENTION_NOTE
        ),
        target=Rest("DELETE", "/nodes/{node}/storage/{storage}/prunebackups"),
        params=(NODE, STORAGE, *RETENTION, Param("vmid", "integer", "Only this guest's backups.", minimum=100)),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        returns_task=True,
        handler="prune_backups",
    ),
)
