"""Commands run through the QEMU guest agent: exec returns a pid, exec-status its outcome.

A handful of everyday commands answer from the VM's own facts (name, OS, kernel); ``sleep``
keeps running on the sim clock. Like qemu-guest-agent, a finished command is reported once
and then forgotten, and a program that does not exist fails the exec call itself.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from ..admin_state import AgentRun
from ..errors import fail
from ..guest_agent import guest_os, require_agent
from ..params import NODE, VMID, Param, integer, text
from ..routes import Call, Route
from ..state import Guest

Outcome = tuple[int, str, str]  # exit code, stdout, stderr


def _os_release(guest: Guest) -> str:
    info = guest_os(guest).osinfo
    fields = (("PRETTY_NAME", "pretty-name"), ("NAME", "name"), ("VERSION_ID", "version-id"), ("ID", "id"))
    return "".join(f'{key}="{info[src]}"\n' for key, src in fields if src in info)


def _uname(guest: Guest, args: list[str]) -> Outcome:
    info = guest_os(guest).osinfo
    release, version = info.get("kernel-release", ""), info.get("kernel-version", "")
    if args == ["-r"]:
        return 0, release + "\n", ""
    if args == ["-a"]:
        return 0, f"Linux {guest.name} {release} {version} x86_64 GNU/Linux\n", ""
    return 0, "Linux\n", ""


def _cat(guest: Guest, args: list[str], stdin: str) -> Outcome:
    files = {"/etc/os-release": _os_release(guest), "/etc/hostname": guest.name + "\n"}
    if not args:
        return 0, stdin, ""
    out, err = "", ""
    for path in args:
        if path in files:
            out += files[path]
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


ROUTES: tuple[Route, ...] = (
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
