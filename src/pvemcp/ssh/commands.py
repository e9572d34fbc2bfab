"""Remote commands as argv lists, built only from validated values: never a command string from user input.

The SSH layer joins an argv with `shlex.join` for the node's shell, so each element reaches the program as
one argument. A string command for a container runs as `sh -c STRING` *inside* the container: only the
container's shell interprets it.

Diagnostic allow-list (`pve_run_remote_diagnostic`): the command is split with `shlex.split` and must equal
one of these argv exactly, so `uptime; rm -rf /` or `df -h /etc` never match:

    uname -a            uptime              df -h               free -m
    docker ps --format '{{.Names}} {{.Status}}'
    ip -br addr         cat /etc/os-release ps aux

The node health checks of `pve_ssh_batch_diagnostics` are in checks.py.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from pvemcp.pve.errors import ErrorCode, ToolCallError

CTID_MIN, CTID_MAX = 100, 999_999_999
TAIL_MIN, TAIL_MAX, TAIL_DEFAULT = 1, 2000, 200
MAX_COMMAND_CHARS = 16_384  # all of an argv together; far below the kernel's per-argument limit
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# docker's --since: a Unix time, a duration (10m, 1h30m) or an RFC 3339 date; it starts with a digit.
SINCE = re.compile(
    r"^(\d{1,12}(\.\d{1,9})?|(\d{1,6}(\.\d{1,3})?(ns|us|ms|s|m|h)){1,4}"
    r"|\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?)$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are ordinary in scripts and arguments

DIAGNOSTICS: tuple[tuple[str, ...], ...] = (
    ("uname", "-a"),
    ("uptime",),
    ("df", "-h"),
    ("free", "-m"),
    ("docker", "ps", "--format", "{{.Names}} {{.Status}}"),
    ("ip", "-br", "addr"),
    ("cat", "/etc/os-release"),
    ("ps", "aux"),
)


def rejected(message: str, hint: str, code: ErrorCode = ErrorCode.TOOL_INPUT_REJECTED) -> ToolCallError:
    return ToolCallError(code, message, hint)


def ctid_argument(ctid: object) -> str:
    """A container ID as pct expects it; anything but an integer in range is refused."""
    if isinstance(ctid, bool) or not isinstance(ctid, int) or not CTID_MIN <= ctid <= CTID_MAX:
        raise rejected(f"ctid must be an integer from {CTID_MIN} to {CTID_MAX}.", "Pass the container's VMID.")
    return str(ctid)


def checked_argv(argv: Sequence[object]) -> list[str]:
    """The caller's argv for a container: strings, no NUL or control characters, a program that is no option."""
    if not argv:
        raise rejected("argv must hold at least the program to run.", 'Pass e.g. ["ls", "-l", "/etc"].')
    items: list[str] = []
    for index, item in enumerate(argv):
        if not isinstance(item, str):
            raise rejected(f"argv[{index}] must be a string.", "Pass every argument as a string.")
        if _CONTROL.search(item):
            raise rejected(f"argv[{index}] contains NUL or control characters.", "Remove them; no program needs them.")
        items.append(item)
    if not items[0] or items[0].startswith("-"):
        raise rejected("argv[0] must name a program, not be empty or start with '-'.", 'Pass e.g. ["ls", "-l"].')
    if sum(len(item) for item in items) > MAX_COMMAND_CHARS:
        raise rejected(f"The command is longer than {MAX_COMMAND_CHARS} characters.", "Send a shorter command.")
    return items


def shell_argv(command: str) -> list[str]:
    """A command string for the container's own shell, as one argument of `sh -c`."""
    if not command.strip():
        raise rejected("command must not be empty.", "Pass the command to run, e.g. 'ls -l /etc'.")
    return checked_argv(["sh", "-c", command])


def pct_exec(ctid: int, inner: Sequence[str]) -> list[str]:
    """`pct exec CTID -- ARGV…`: `--` ends pct's options, so the inner argv is never read as one of them."""
    return ["pct", "exec", ctid_argument(ctid), "--", *checked_argv(inner)]


def diagnostic_argv(command: str) -> list[str]:
    """The allow-listed argv a diagnostic command string names, matched whole after shlex.split."""
    try:
        argv = tuple(shlex.split(command))
    except ValueError:
        argv = ()
    if argv not in DIAGNOSTICS:
        allowed = ", ".join(shlex.join(d) for d in DIAGNOSTICS)
        raise rejected(
            f"{command[:120]!r} is not an allowed diagnostic command. Allowed, exactly: {allowed}.",
            "Use one of them verbatim, or pve_exec_in_container (full tier, confirmed) for anything else.",
            ErrorCode.DIAGNOSTIC_COMMAND_NOT_ALLOWED,
        )
    return list(argv)


def container_name(name: str) -> str:
    if not CONTAINER_NAME.match(name):
        raise rejected(
            f"{name[:80]!r} is not a Docker container name (^[A-Za-z0-9][A-Za-z0-9_.-]{{0,127}}$).",
            "List the names with pve_docker_ps_in_container and pass one exactly.",
            ErrorCode.INVALID_CONTAINER_NAME,
        )
    return name


def docker_ps(*, all_containers: bool = False) -> list[str]:
    """One JSON object per container and line; --no-trunc keeps full IDs and commands."""
    return ["docker", "ps", *(["--all"] if all_containers else []), "--no-trunc", "--format", "{{json .}}"]


def docker_logs(
    name: str, tail: int = TAIL_DEFAULT, *, timestamps: bool = False, since: str | None = None
) -> list[str]:
    if isinstance(tail, bool) or not isinstance(tail, int) or not TAIL_MIN <= tail <= TAIL_MAX:
        raise rejected(f"tail must be an integer from {TAIL_MIN} to {TAIL_MAX}.", "Ask for fewer lines.")
    argv = ["docker", "logs", "--tail", str(tail)]
    if timestamps:
        argv.append("--timestamps")
    if since is not None:
        if not SINCE.match(since):
            raise rejected(
                f"since {since[:80]!r} is not a Unix time, a duration like 10m or 2h, or a date like 2026-01-31.",
                "Pass e.g. since=30m or since=2026-01-31T08:00:00Z.",
            )
        argv += ["--since", since]
    return [*argv, "--", container_name(name)]


# What a container's shell or lxc-attach print when the docker program is missing, and when its daemon is.
_NO_DOCKER = re.compile(
    r"docker: (command )?not found|docker: No such file|exec: \"?docker\"?: (executable file )?not found"
    r"|failed to exec \"?docker\"?|No such file or directory - .*docker",
    re.IGNORECASE,
)
_NO_DAEMON = re.compile(r"Cannot connect to the Docker daemon|docker daemon (is not )?running", re.IGNORECASE)


def docker_missing(exit_status: int | None, stderr: str) -> str | None:
    """Why docker cannot answer in this container (None when it did): the program or its daemon is absent."""
    if exit_status == 127 or _NO_DOCKER.search(stderr):
        return "the docker command is not installed in the container"
    if exit_status not in (0, None) and _NO_DAEMON.search(stderr):
        return "the Docker daemon is not running or not reachable in the container"
    return None
