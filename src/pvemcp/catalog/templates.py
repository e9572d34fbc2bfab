"""Templates: cloud-init settings and output, VM templates, ISO images and container templates."""

from __future__ import annotations

from types import MappingProxyType

from pvemcp.catalog.spec import NODE, NODE_FOR_GUEST, STORAGE, VMID, Param, Rest, Tier, ToolSpec

CLOUDINIT_KEYS = ("ciuser", "cipassword", "sshkeys", "ipconfig0", "nameserver", "searchdomain")


def content_tool(name: str, content: str, title: str, description: str, differs: str) -> ToolSpec:
    """A storage content listing that keeps only one content type, as the tool's name promises."""
    return ToolSpec(
        name=name,
        category="templates",
        tier=Tier.READ_ONLY,
        title=title,
        description=description,
        target=Rest("GET", "/nodes/{node}/storage/{storage}/content"),
        params=(NODE, STORAGE),
        fixed=MappingProxyType({"content": content}),
        differs=differs,
    )


TOOLS = (
    ToolSpec(
        name="pve_get_qemu_cloudinit_dump",
        category="templates",
        tier=Tier.READ_ONLY,
        title="Cloud-init config dump",
        description="The cloud-init user-data, network-config or meta-data Proxmox generates from the VM's config.",
        target=Rest("GET", "/nodes/{node}/qemu/{vmid}/cloudinit/dump"),
        params=(
            NODE_FOR_GUEST,
            VMID,
            Param("type", "string", "user (default), network or meta.", enum=("user", "network", "meta")),
        ),
        fixed=MappingProxyType({"type": "user"}),
        result_key="content",
    ),
    ToolSpec(
        name="pve_list_qemu_templates",
        category="templates",
        tier=Tier.READ_ONLY,
        title="List VM templates",
        description="VM templates only, cluster-wide or on one node: vmid, name, node, CPU, memory, disk. Clone with"
        " pve_qemu_clone.",
        target=Rest("GET", "/cluster/resources"),
        params=(Param("node", "string", "Only templates on this node.", local=True),),
        fixed=MappingProxyType({"type": "vm"}),
        handler="list_qemu_templates",
        differs="Lists only templates (nandi listed every VM of a node); node is optional, one cluster-wide call.",
    ),
    content_tool(
        "pve_list_iso_images",
        "iso",
        "List ISO images",
        "ISO images on one storage: volid, size, ctime. Attach one as a VM's CD-ROM (e.g. ide2).",
        "Lists only ISO images (content=iso); nandi listed all content.",
    ),
    content_tool(
        "pve_list_storage_templates",
        "vztmpl",
        "List container templates",
        "Container (LXC) templates on one storage: volid, size, ctime; the ostemplate for pve_lxc_create.",
        "Lists only container templates (content=vztmpl); nandi listed all content.",
    ),
    ToolSpec(
        name="pve_set_qemu_cloudinit",
        category="templates",
        tier=Tier.FULL,
        title="Set cloud-init options",
        description="Set a VM's cloud-init user, password, SSH keys, IP and DNS; used at its next start.",
        target=Rest("PUT", "/nodes/{node}/qemu/{vmid}/config"),
        params=(
            NODE_FOR_GUEST,
            VMID,
            Param("ciuser", "string", "User to create instead of the default."),
            Param("cipassword", "string", "Its password (stored hashed); prefer sshkeys.", free_text=True, secret=True),
            Param(
                "sshkeys",
                "string",
                "Public keys, one per line.",
                free_text=True,
                encoding="pve-urlencode",
            ),
            Param("ipconfig0", "string", "net0 IP: ip=192.0.2.9/24,gw=192.0.2.1 or ip=dhcp.", free_text=True),
            Param("nameserver", "string", "DNS servers, space-separated.", free_text=True),
            Param("searchdomain", "string", "DNS search domains, space-separated.", free_text=True),
        ),
        destructive=True,
        confirm=True,
        idempotent=True,
        at_least_one=CLOUDINIT_KEYS,
        differs="Needs at least one setting; URL-encodes sshkeys as Proxmox requires (nandi's failed); adds"
        " searchdomain.",
    ),
    ToolSpec(
        name="pve_create_qemu_template",
        category="templates",
        tier=Tier.FULL,
        title="Convert VM to template",
        description="Irreversibly turn a stopped VM into a template: its disks become read-only base images.",
        target=Rest("POST", "/nodes/{node}/qemu/{vmid}/template"),
        params=(NODE_FOR_GUEST, VMID),
        destructive=True,
        confirm=True,
        aliases=("pve_qemu_create_template",),
        returns_task=True,
        differs="One tool for the call nandi offers twice: pve_qemu_create_template (category qemu) is its alias.",
    ),
)
