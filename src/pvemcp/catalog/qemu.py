"""QEMU virtual machines: inventory, power, administration and the guest agent's exec."""

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
    TARGET_STORAGE,
    TIMEOUT,
    PowerAction,
    admin_tools,
    power_tools,
    read_tools,
)
from pvemcp.catalog.spec import NODE, NODE_FOR_GUEST, VMID, Param, Rest, Tier, ToolSpec

# skiplock is left out on purpose: Proxmox allows it only to root@pam itself, never to an API token.

GUEST = (NODE_FOR_GUEST, VMID)
MEMORY = Param("memory", "integer", "MiB, e.g. 4096.", minimum=16, local=True)
SOCKETS = Param("sockets", "integer", "CPU sockets.", minimum=1)
CPU = Param("cpu", "string", "CPU type, e.g. host.")
NAME = Param("name", "string", "VM name, e.g. web-03.")
OSTYPE = Param(
    "ostype",
    "string",
    "Guest OS, e.g. l26 (Linux), win11.",
    enum=("other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11", "l24", "l26", "solaris"),
)

TOOLS = (
    *read_tools("qemu", status_alias="getVMStatus"),
    *power_tools(
        "qemu",
        (
            PowerAction(
                "start",
                "Start",
                "Start a stopped {noun}. A paused or suspended one needs pve_resume_qemu_vm instead.",
                False,
                (TIMEOUT,),
                alias="startVM",
                differs=NOT_DESTRUCTIVE,
            ),
            PowerAction(
                "stop",
                "Stop",
                "Hard-stop a {noun} at once, like pulling the plug: unsaved guest data is lost. Prefer"
                " pve_shutdown_qemu_vm.",
                True,
                (TIMEOUT,),
                alias="stopVM",
            ),
            PowerAction(
                "shutdown",
                "Shut down",
                "Ask the guest OS to shut down cleanly (ACPI or guest agent).",
                True,
                (TIMEOUT, FORCE_STOP),
            ),
            PowerAction(
                "reboot", "Reboot", "Clean reboot: shut the guest down, then start it again.", True, (TIMEOUT,)
            ),
            PowerAction("reset", "Reset", "Hard reset, like the reset button: no clean shutdown.", True, ()),
            PowerAction(
                "suspend",
                "Suspend",
                "Pause the {noun}'s CPUs (or with todisk, hibernate it to storage).",
                True,
                (Param("todisk", "boolean", "Hibernate: save RAM to storage and stop the VM."),),
            ),
            PowerAction(
                "resume",
                "Resume",
                "Resume a paused or suspended {noun} where it left off.",
                False,
                differs=NOT_DESTRUCTIVE,
            ),
        ),
    ),
    *admin_tools("qemu"),
    ToolSpec(
        name="pve_qemu_create",
        category="qemu",
        tier=Tier.FULL,
        title="Create VM",
        description="Create a VM with disk, ISO and NIC. Returns its vmid and the task.",
        target=Rest("POST", "/nodes/{node}/qemu"),
        params=(
            NODE,
            NEW_VMID,
            NAME,
            MEMORY,
            CORES,
            SOCKETS,
            CPU,
            OSTYPE,
            DISK_STORAGE,
            Param("disk_size", "integer", "Disk GiB; default 32.", minimum=1, local=True),
            Param("iso", "string", "ISO volid for the CD drive.", free_text=True, local=True),
            BRIDGE,
            Param("agent", "boolean", "Enable the guest agent.", local=True),
            ONBOOT,
            START,
            POOL,
            TAGS,
            DESCRIPTION,
        ),
        returns_task=True,
        handler="create_guest",
        differs="vmid is optional (next free ID); adds disk, ISO, NIC, CPU type, OS type, agent, start, pool, tags.",
    ),
    ToolSpec(
        name="pve_qemu_update_config",
        category="qemu",
        tier=Tier.FULL,
        title="Change VM config",
        description="Change CPU, memory, name, boot or notes. Returns what waits for the next start.",
        target=Rest("PUT", "/nodes/{node}/qemu/{vmid}/config"),
        params=(*GUEST, MEMORY, CORES, SOCKETS, CPU, NAME, ONBOOT, TAGS, DESCRIPTION, DELETE_KEYS),
        destructive=True,
        confirm=True,
        idempotent=True,
        handler="update_guest_config",
        at_least_one=("memory", "cores", "sockets", "cpu", "name", "onboot", "tags", "description", "delete"),
        differs="Adds cpu, name, tags, description and delete; reports changes left pending.",
    ),
    ToolSpec(
        name="pve_qemu_resize_disk",
        category="qemu",
        tier=Tier.FULL,
        title="Grow VM disk",
        description="Grow a disk by +size or to a size; it can never shrink again.",
        target=Rest("PUT", "/nodes/{node}/qemu/{vmid}/resize"),
        params=(
            *GUEST,
            Param("disk", "string", "Disk key, e.g. scsi0.", required=True),
            Param("size", "string", "+10G to add, or the new total, e.g. 64G.", required=True, free_text=True),
        ),
        destructive=True,
        confirm=True,
        returns_task=True,
    ),
    ToolSpec(
        name="pve_qemu_migrate",
        category="qemu",
        tier=Tier.READ_EXECUTE,
        title="Migrate VM",
        description="Move a VM to another node; a running VM needs online.",
        target=Rest("POST", "/nodes/{node}/qemu/{vmid}/migrate"),
        params=(
            *GUEST,
            TARGET_NODE,
            Param("online", "boolean", "Live-migrate a running VM."),
            Param("with-local-disks", "boolean", "Live-copy disks on local storage."),
            TARGET_STORAGE,
        ),
        destructive=True,
        confirm=True,
        returns_task=True,
        handler="migrate_guest",
        differs="Adds with-local-disks and targetstorage; refuses a call Proxmox would fail (as"
        " pve_migration_preflight judges it) and names the call that works.",
    ),
    ToolSpec(
        name="pve_exec_qemu_guest_command",
        category="qemu",
        tier=Tier.FULL,
        title="Run command in VM",
        description="Run a program in the VM via the guest agent. Returns a pid for pve_get_qemu_guest_exec_status.",
        target=Rest("POST", "/nodes/{node}/qemu/{vmid}/agent/exec"),
        params=(
            *GUEST,
            Param("command", "array", 'Program and arguments, e.g. ["uname", "-a"].', required=True, items="string"),
            Param("input-data", "string", "Text for its stdin.", free_text=True),
        ),
        destructive=True,
        confirm=True,
        differs="Sends command as an argument list, as Proxmox 7+ requires (nandi's single string fails);"
        " adds input-data and an exec-status tool to read the output.",
    ),
    ToolSpec(
        name="pve_get_qemu_guest_exec_status",
        category="qemu",
        tier=Tier.FULL,
        title="Command result in VM",
        description="Exit code and output of a pve_exec_qemu_guest_command run, once it exited (readable once).",
        target=Rest("GET", "/nodes/{node}/qemu/{vmid}/agent/exec-status"),
        params=(*GUEST, Param("pid", "integer", "pid the exec returned.", required=True)),
        idempotent=False,
        differs="New: nandi cannot read a command's output.",
    ),
)
