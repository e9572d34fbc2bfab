"""Commands run through the QEMU guest agent: exec returns a pid, exec-status its outcome; ping,
the logged-in users, the guest clock and reading a file.

A handful of everyday commands answer from the VM's own facts (name, OS, kernel); ``sleep``
keeps running on the sim clock. Like qemu-guest-agent, a finished command is reported once
and then forgotten, and a program that does not exist fails the exec call itself.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable

from ..errors import fail
from ..guest_agent import files, guest_os, guest_time, read_file, require_agent, users
from ..params import NODE, VMID, Param, flag, integer, text
from ..routes import Call, Route
from ..state.admin import AgentRun
from ..state.records import Guest

Outcome = tuple[int, str, str]  # exit code, stdout, stderr


def _uname(guest: Guest, args: list[str]) -> Outcome:
    info = guest_os(guest).osinfo
    release, version = info.get("kernel-release", ""), info.get("kernel-version", "")
    if args == ["-r"]:
        return 0, release + "\n", ""
    if args == ["-a"]:
        return 0, f"Linux {guest.name} {release} {version} x86_64 GNU/Linux\n", ""
    return 0, "Linux\n", ""


def _cat(guest: Guest, args: list[str], stdin: str) -> Outcome:
    known = files(guest)
    if not args:
        return 0, stdin, ""
    out, err = "", ""
    for path in args:
        if path in known:
            out += known[path]
        else:
            err += f"cat: {path}: No such file or directory\n"
    return (1 if err else 0), out, err


def run(guest: Guest, argv: list[str], stdin: str) -> Outcome | None:
    """What the command prints, or None when no such program exists in the guest."""
    program, args = argv[0].rsplit("/", 1)[-1], argv[1:]
    simple: dict[str, Callable[[], Outcome]] = {
        "hostname": lambda: (0, guest.name + "\n", ""),
        "uname": lambda: _uname(guest, args),
        "cat": lambda: _cat(guest, args, stdin),
        "echo": lambda: (0, " ".join(args) + "\n", ""),
        "whoami": lambda: (0, "root\n", ""),
        "true": lambda: (0, "", ""),
        "false": lambda: (1, "", ""),
        "sleep": lambda: (0, "", ""),
    }
    if program in ("sh", "bash") and len(args) >= 2 and args[0] == "-c":
        words = shlex.split(args[1])
        inner = run(guest, words, stdin) if words else (0, "", "")
        return inner if inner is not None else (127, "", f"{program}: 1: {words[0]}: not found\n")
    action = simple.get(program)
    return None if action is None else action()


def exec_command(c: Call) -> object:
    guest = c.guest("qemu")
    require_agent(guest, c.now)
    argv = c.text("command").split("\0")
    outcome = run(guest, argv, c.opt_text("input-data") or "")
    if outcome is None:
        raise fail(
            f"VM {guest.vmid} qmp command 'guest-exec' failed - "
            f"Failed to execute child process “{argv[0]}” (No such file or directory)"
        )
    records = c.state.admin.of(guest)
    records.next_agent_pid += 1
    pid = records.next_agent_pid
    seconds = float(argv[1]) if argv[0].endswith("sleep") and len(argv) > 1 and argv[1].isdigit() else 0.0
    records.agent_runs[pid] = AgentRun(pid, c.now + seconds, *outcome)
    return {"pid": pid}


def exec_status(c: Call) -> object:
    guest = c.guest("qemu")
    require_agent(guest, c.now)
    records = c.state.admin.of(guest)
    pid = c.integer("pid")
    run_ = records.agent_runs.get(pid)
    if run_ is None:
        raise fail(f"VM {guest.vmid} qmp command 'guest-exec-status' failed - Invalid parameter 'pid'")
    if c.now < run_.done_at:
        return {"exited": 0}
    del records.agent_runs[pid]
    status: dict[str, object] = {"exited": 1, "exitcode": run_.exitcode}
    if run_.out:
        status["out-data"] = run_.out
    if run_.err:
        status["err-data"] = run_.err
    return status


def agent(answer: Callable[[Guest, Call], object]) -> Callable[[Call], object]:
    """PVE's availability checks, then {"result": <the agent's answer>}."""

    def handler(c: Call) -> object:
        guest = c.guest("qemu")
        require_agent(guest, c.now)
        return {"result": answer(guest, c)}

    return handler


def file_read(c: Call) -> object:
    """PVE reads through guest-file-open/read/close; decode=0 hands back the bytes base64-encoded."""
    guest = c.guest("qemu")
    require_agent(guest, c.now)
    data, truncated = read_file(guest, c.text("file"), c.opt_int("offset", 0) or 0, c.opt_int("count") or FILE_MAX)
    decode = c.params.get("decode", 1) != 0
    result: dict[str, object] = {
        "content": data.decode("utf-8", "replace") if decode else base64.b64encode(data).decode()
    }
    if truncated:
        result["truncated"] = 1
    return result


FILE_MAX = 16 * 1024 * 1024
AGENT = "/nodes/{node}/qemu/{vmid}/agent"

ROUTES: tuple[Route, ...] = (
    Route("POST", f"{AGENT}/ping", (NODE, VMID), agent(lambda g, c: {})),
    Route("GET", f"{AGENT}/get-users", (NODE, VMID), agent(lambda g, c: users(g))),
    Route("GET", f"{AGENT}/get-time", (NODE, VMID), agent(lambda g, c: guest_time(c.now))),
    Route(
        "GET",
        f"{AGENT}/file-read",
        (
            NODE,
            VMID,
            integer("count", minimum=1, maximum=FILE_MAX),
            flag("decode"),
            text("file", optional=False),
            integer("offset", minimum=0),
        ),
        file_read,
    ),
    Route(
        "POST",
        "/nodes/{node}/qemu/{vmid}/agent/exec",
        (NODE, VMID, Param("command", "array", optional=False), text("input-data", max_length=65536)),
        exec_command,
    ),
    Route(
        "GET", "/nodes/{node}/qemu/{vmid}/agent/exec-status", (NODE, VMID, integer("pid", optional=False)), exec_status
    ),
)
