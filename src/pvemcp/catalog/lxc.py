"""LXC containers: inventory, power and administration."""

from pvemcp.catalog.guests import (
    BRIDGE,
    CORES,
    DELETE_KEYS,
    DESCRIPTION,
    DISK_STORAGE,
    FORCE_STOP,
    NEW_VMID,
    NOT_DESTRUCTIVE,
    ONBOOT,
    POOL,
    START,
    TAGS,
    TARGET_NODE,
    TIMEOUT,
    PowerAction,
    admin_tools,
    power_tools,
    read_tools,
)
from pvemcp.catalog.spec import NODE, NODE_FOR_GUEST, VMID, Param, Rest, Tier, ToolSpec

GUEST = (NODE_FOR_GUEST, VMID)
MEMORY = Param("memory", "integer", "Memory in MiB, e.g. 1024.", minimum=16)
SWAP = Param("swap", "integer", "Swap in MiB.", minimum=0)
HOSTNAME = Param("hostname", "string", "Hostname, e.g. ct-web-03.")

TOOLS = (
    *read_tools("lxc", status_alias="getContainerStatus"),
    *power_tools(
        "lxc",
        (
            PowerAction(
                "start",
                "Start",
                "Start a stopped {noun}. A running or locked one is refused by Proxmox.",
                False,
                alias="startContainer",
                differs=NOT_DESTRUCTIVE,
            ),
            PowerAction(
                "stop",
                "Stop",
                "Stop a {noun} at once, killing its processes. Prefer pve_shutdown_lxc_container.",
                True,
                alias="stopContainer",
            ),
            PowerAction(
                "shutdown",
                "Shut down",
                "Shut the {noun} down cleanly (init gets a shutdown request).",
                True,
                (TIMEOUT, FORCE_STOP),
            ),
            PowerAction(
                "reboot",
                "Reboot",
                "Clean reboot of the {noun}: its init shuts down, then it starts again.",
                True,
                (TIMEOUT,),
            ),
            PowerAction(
                "suspend",
                "Suspend",
                "Checkpoint the {noun} to disk (CRIU, experimental in Proxmox) and stop it; resume restores it.",
                True,
            ),
            PowerAction(
                "resume", "Resume", "Restore a {noun} from its suspend checkpoint.", False, differs=NOT_DESTRUCTIVE
            ),
        ),
    ),
    *admin_tools("lxc"),
    ToolSpec(
        name="pve_lxc_create",
        category="lxc",
        tier=Tier.FULL,
        title="Create container",
        description="Create a container from a template. Returns its vmid and the task.",
        target=Rest("POST", "/nodes/{node}/lxc"),
        params=(
            NODE,
            NEW_VMID,
            Param(
                "ostemplate",
                "string",
                "Template volid, e.g. local:vztmpl/alpine.tar.xz.",
                required=True,
                free_text=True,
            ),
            HOSTNAME,
            DISK_STORAGE,
            Param("disk_size", "integer", "Root disk GiB; default 8.", minimum=1, local=True),
            MEMORY,
            SWAP,
            CORES,
            BRIDGE,
            Param("ip", "string", "eth0 IPv4: dhcp (default) or CIDR.", free_text=True, local=True),
            Param("gw", "string", "Gateway for a static ip.", local=True),
            Param("password", "string", "Root password.", free_text=True, secret=True),
            Param("ssh-public-keys", "string", "Root's SSH public keys, one per line.", free_text=True),
            Param("unprivileged", "boolean", "Default true."),
            ONBOOT,
            START,
            POOL,
            TAGS,
            DESCRIPTION,
        ),
        returns_task=True,
        handler="create_guest",
        differs="vmid is optional (next free ID); adds root disk, NIC with IP, swap, password, SSH keys,"
        " unprivileged (default true), start, pool, tags.",
    ),
    ToolSpec(
        name="pve_lxc_update_config",
        category="lxc",
        tier=Tier.FULL,
        title="Change container config",
        description="Change resources, hostname, boot or notes; applies at once, even while running.",
        target=Rest("PUT", "/nodes/{node}/lxc/{vmid}/config"),
        params=(*GUEST, MEMORY, SWAP, CORES, HOSTNAME, ONBOOT, TAGS, DESCRIPTION, DELETE_KEYS),
        destructive=True,
        confirm=True,
        idempotent=True,
        handler="update_guest_config",
        at_least_one=("memory", "swap", "cores", "hostname", "onboot", "tags", "description", "delete"),
        differs="Adds hostname, onboot, tags, description and delete; reports changes left pending.",
    ),
    ToolSpec(
        name="pve_lxc_migrate",
        category="lxc",
        tier=Tier.READ_EXECUTE,
        title="Migrate container",
        description="Move a container to another node; a running one needs restart.",
        target=Rest("POST", "/nodes/{node}/lxc/{vmid}/migrate"),
        params=(
            *GUEST,
            TARGET_NODE,
            Param("restart", "boolean", "Stop a running container, move it, start it."),
        ),
        destructive=True,
        confirm=True,
        returns_task=True,
        handler="migrate_guest",
        differs="Adds restart, so running containers can move (nandi's cannot); refuses a call Proxmox would"
        " fail (as pve_migration_preflight judges it) and names the call that works.",
    ),
)
