"""Cloud-init drive: what the VM's cloud-init drive holds against what its config now says, and
regenerating the drive so the guest sees the new settings.

pve_set_qemu_cloudinit and pve_get_qemu_cloudinit_dump (templates) set the options and show the
generated files; these two tools close the loop: which changes are not on the drive yet, and
writing them there without a restart.
"""

from pvemcp.catalog.spec import NODE_FOR_GUEST, VMID, Module, Rest, Tier, ToolSpec

PATH = "/nodes/{node}/qemu/{vmid}/cloudinit"

TOOLS = (
    ToolSpec(
        name="pve_get_qemu_cloudinit",
        category="templates",
        tier=Tier.READ_ONLY,
        title="Cloud-init values and pending",
        description="A VM's cloud-init options: value (on the drive now), pending (set, not yet on the drive),"
        " delete=1 (removed). Pending values reach the guest after pve_regenerate_qemu_cloudinit or a start.",
        target=Rest("GET", PATH),
        params=(NODE_FOR_GUEST, VMID),
        module=Module.ADVANCED,
    ),
    ToolSpec(
        name="pve_regenerate_qemu_cloudinit",
        category="templates",
        tier=Tier.FULL,
        title="Regenerate cloud-init drive",
        description="Write the VM's current cloud-init options to its cloud-init drive (a running VM gets the new"
        " medium at once); the guest applies them at its next boot. Does nothing without a cloud-init drive.",
        target=Rest("PUT", PATH),
        params=(NODE_FOR_GUEST, VMID),
        module=Module.ADVANCED,
        idempotent=True,
    ),
)
