"""Commands over SSH: what the Proxmox API cannot do (run a program in an LXC container, check a node's health).

No Proxmox endpoint of their own (target Ssh): the handlers in
server/composites/remote.py build argv lists (ssh/commands.py, ssh/checks.py) and run them over the SSH
channel. Hidden unless SSH is configured (PROXMOX_SSH_*, PVE_SSH).
"""

from pvemcp.catalog.spec import Module, Param, Ssh, Tier, ToolSpec
from pvemcp.ssh.checks import CHECK_NAMES
from pvemcp.ssh.commands import CTID_MIN, TAIL_DEFAULT, TAIL_MAX, TAIL_MIN

CTID = Param("ctid", "integer", "LXC container ID (VMID).", required=True, minimum=CTID_MIN)
CT_NODE = Param("node", "string", "Default: the container's node, from the cluster.")

TOOLS = (
    ToolSpec(
        name="pve_exec_in_container",
        category="remote",
        tier=Tier.FULL,
        title="Run command in container",
        description=(
            "Run a command inside a running LXC container (pct exec over SSH) and return exit_status, stdout and"
            " stderr. Give exactly one of argv (program and arguments, run as is) or command (a string run by the"
            " container's own `sh -c`). A non-zero exit is a result, not an error. Can change anything in the"
            " container: tell the user the exact command first."
        ),
        target=Ssh(writes=True),
        params=(
            CTID,
            Param(
                "command",
                "string",
                "Shell command line for the container's sh -c, e.g. 'ls -l /etc | head'.",
                free_text=True,
            ),
            Param("argv", "array", 'Program and arguments, e.g. ["ls", "-l", "/etc"]; no shell.', items="string"),
            CT_NODE,
        ),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        idempotent=False,
        aliases=("execInContainer",),
        only_one=("command", "argv"),
        handler="exec_in_container",
        differs="Also takes an argv list (no shell at all); a string runs only in the container's shell.",
    ),
    ToolSpec(
        name="pve_run_remote_diagnostic",
        category="remote",
        tier=Tier.READ_EXECUTE,
        title="Run diagnostic in container",
        description=(
            "Run one allow-listed read-only diagnostic inside a running LXC container over SSH, exactly as written:"
            " 'uname -a', 'uptime', 'df -h', 'free -m', \"docker ps --format '{{.Names}} {{.Status}}'\","
            " 'ip -br addr', 'cat /etc/os-release', 'ps aux'. Anything else is refused."
        ),
        target=Ssh(writes=False),
        params=(
            CTID,
            Param("command", "string", "One of the allowed commands, verbatim.", required=True, free_text=True),
            CT_NODE,
        ),
        aliases=("runRemoteDiagnostic",),
        handler="run_remote_diagnostic",
        differs="Matches the allow-list as an argument list (no extra arguments or separators); adds three entries.",
    ),
    ToolSpec(
        name="pve_ssh_batch_diagnostics",
        category="remote",
        tier=Tier.READ_ONLY,
        title="Node health checks",
        description=(
            "Health checks on every online node (or one), over SSH, all at once: uptime and load, memory, disk"
            " usage, failed systemd units, pveversion, cluster quorum. Each node lists its checks with parsed"
            " data and `problems` (full disks, low memory, failed units, no quorum); healthy is true without any."
        ),
        target=Ssh(writes=False),
        params=(
            Param("node", "string", "Only this node; default: every online node."),
            Param(
                "checks",
                "array",
                f"Only these checks, of: {', '.join(CHECK_NAMES)}. Default: all.",
                items="string",
            ),
        ),
        aliases=("sshBatchDiagnostics",),
        handler="ssh_batch_diagnostics",
        differs="Parses each check; runs on every node concurrently; optional node and checks.",
    ),
    ToolSpec(
        name="pve_docker_ps_in_container",
        category="remote",
        tier=Tier.READ_EXECUTE,
        title="Docker containers in LXC",
        description=(
            "List the Docker containers running inside an LXC container (docker ps over SSH): name, image,"
            " status, ports. DOCKER_NOT_AVAILABLE when the container has no docker."
        ),
        target=Ssh(writes=False),
        params=(CTID, Param("all", "boolean", "Include stopped Docker containers (default false)."), CT_NODE),
        module=Module.ADVANCED,
        aliases=("dockerPsInContainer",),
        handler="docker_ps_in_container",
        differs="Returns parsed rows; optional all.",
    ),
    ToolSpec(
        name="pve_docker_logs_in_container",
        category="remote",
        tier=Tier.READ_EXECUTE,
        title="Docker logs in LXC",
        description=(
            "The last lines of a Docker container's logs inside an LXC container (docker logs over SSH). The"
            " Docker container's stdout and stderr come back apart."
        ),
        target=Ssh(writes=False),
        params=(
            CTID,
            Param(
                "containerName",
                "string",
                "Docker container name, from pve_docker_ps_in_container.",
                required=True,
                free_text=True,  # checked against Docker's own name rule: INVALID_CONTAINER_NAME
            ),
            Param(
                "tail",
                "integer",
                f"Number of lines (default {TAIL_DEFAULT}).",
                minimum=TAIL_MIN,
                maximum=TAIL_MAX,
            ),
            Param("since", "string", "Only lines since then: a duration like 30m, a Unix time or a date."),
            Param("timestamps", "boolean", "Prefix each line with its time."),
            CT_NODE,
        ),
        module=Module.ADVANCED,
        aliases=("dockerLogsInContainer",),
        handler="docker_logs_in_container",
        differs="Keeps stderr apart; optional since and timestamps.",
    ),
)
