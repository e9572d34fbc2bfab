"""QEMU virtual machines: inventory and power."""

from pvemcp.catalog.guests import FORCE_STOP, TIMEOUT, PowerAction, power_tools, read_tools
from pvemcp.catalog.spec import Param

# skiplock is left out on purpose: Proxmox allows it only to root@pam itself, never to an API token.

TOOLS = (
    *read_tools("qemu", status_alias="getVMStatus"),
    *power_tools(
        "qemu",
        (
            PowerAction(
                "start",
                "Start",
                "Start a stopped {noun}.",
                False,
                (TIMEOUT,),
                alias="startVM",
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
            PowerAction("resume", "Resume", "Resume a paused or suspended {noun}.", False),
        ),
    ),
)
