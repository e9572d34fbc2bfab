"""LXC containers: inventory and power."""

from pvemcp.catalog.guests import FORCE_STOP, TIMEOUT, PowerAction, power_tools, read_tools

TOOLS = (
    *read_tools("lxc", status_alias="getContainerStatus"),
    *power_tools(
        "lxc",
        (
            PowerAction(
                "start",
                "Start",
                "Start a stopped {noun}.",
                False,
                alias="startContainer",
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
            PowerAction("reboot", "Reboot", "Clean reboot of the {noun}.", True, (TIMEOUT,)),
            PowerAction(
                "suspend",
                "Suspend",
                "Checkpoint the {noun} to disk (CRIU, experimental in Proxmox) and stop it; resume restores it.",
                True,
            ),
            PowerAction("resume", "Resume", "Restore a {noun} from its suspend checkpoint.", False),
        ),
    ),
)
