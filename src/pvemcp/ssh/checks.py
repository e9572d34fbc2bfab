"""Node health checks for pve_ssh_batch_diagnostics: fixed read-only argv, each parsed leniently.

    uptime      cat /proc/uptime /proc/loadavg                      uptime and load averages
    memory      free -b                                             memory and swap, in bytes
    disk        df -P -B1 -x tmpfs -x devtmpfs                      usage of each mounted file system
    services    systemctl --failed --no-legend --plain --no-pager   failed systemd units
    pveversion  pveversion                                          Proxmox VE and running kernel version
    quorum      pvecm status                                        cluster quorum

A check whose program is missing (exit 127) is reported as not available; output a parser does not
understand is returned raw. Neither fails the batch. `problems` names what needs a look: a file system
at least 90 % full, less than 10 % memory available, failed units, a cluster without quorum.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pvemcp.ssh.channel import CommandResult

DISK_FULL_PERCENT = 90
MEMORY_LOW_PERCENT = 10

Parsed = tuple[dict[str, Any], list[str]]  # data, problems


def _uptime(out: str) -> Parsed:
    lines = out.split("\n")
    up, load = lines[0].split(), lines[1].split()
    running, _, total = load[3].partition("/")
    data = {
        "uptime_seconds": round(float(up[0])),
        "load": [float(v) for v in load[:3]],
        "processes": {"running": int(running), "total": int(total)},
    }
    return data, []


def _memory(out: str) -> Parsed:
    rows = {line.split(":")[0].strip().lower(): line.split()[1:] for line in out.splitlines() if ":" in line}
    mem, swap = rows["mem"], rows.get("swap", [])
    data: dict[str, Any] = {"total": int(mem[0]), "used": int(mem[1]), "free": int(mem[2])}
    if len(mem) >= 6:
        data["available"] = int(mem[5])
    if len(swap) >= 2:
        data["swap_total"], data["swap_used"] = int(swap[0]), int(swap[1])
    available = data.get("available", data["free"])
    low = data["total"] > 0 and available * 100 < data["total"] * MEMORY_LOW_PERCENT
    return data, [f"only {available * 100 // data['total']} % of memory available"] if low else []


def _disk(out: str) -> Parsed:
    filesystems: list[dict[str, Any]] = []
    for line in out.splitlines()[1:]:
        cols = line.split(None, 5)
        if len(cols) == 6 and cols[4].endswith("%"):
            size, used, avail = int(cols[1]), int(cols[2]), int(cols[3])
            percent = int(cols[4].rstrip("%") or 0)
            fs = {"filesystem": cols[0], "mount": cols[5], "size": size, "used": used, "available": avail}
            filesystems.append({**fs, "use_percent": percent})
    if not filesystems:
        raise ValueError("no file systems listed")
    full = [
        f"{fs['mount']} is {fs['use_percent']} % full" for fs in filesystems if fs["use_percent"] >= DISK_FULL_PERCENT
    ]
    return {"filesystems": filesystems}, full


def _services(out: str) -> Parsed:
    units = [line.split()[0] for line in out.splitlines() if line.strip()]
    return {"failed_units": units}, [f"failed unit {unit}" for unit in units]


_PVEVERSION = re.compile(r"pve-manager/(?P<version>[^/\s]+)(/\S+)?(\s+\(running kernel:\s*(?P<kernel>[^)]+)\))?")


def _pveversion(out: str) -> Parsed:
    match = _PVEVERSION.search(out)
    if match is None:
        raise ValueError("no pve-manager version")
    return {"version": match["version"], "kernel": match["kernel"]}, []


_QUORUM_NUMBERS = {"nodes": "nodes", "expected votes": "expected_votes", "total votes": "total_votes"}


def _quorum(out: str) -> Parsed:
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines()) if v}
    if "quorate" not in fields:
        raise ValueError("no Quorate line")
    data: dict[str, Any] = {"quorate": fields["quorate"].lower().startswith("yes")}
    if "name" in fields:
        data["cluster"] = fields["name"]
    for key, name in _QUORUM_NUMBERS.items():
        if fields.get(key, "").split(" ")[0].isdigit():
            data[name] = int(fields[key].split(" ")[0])
    if "quorum" in fields and fields["quorum"].split(" ")[0].isdigit():
        data["quorum"] = int(fields["quorum"].split(" ")[0])
    return data, [] if data["quorate"] else ["the cluster has no quorum"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    argv: tuple[str, ...]
    parse: Callable[[str], Parsed]
    about: str


CHECKS: tuple[Check, ...] = (
    Check("uptime", ("cat", "/proc/uptime", "/proc/loadavg"), _uptime, "uptime and load averages"),
    Check("memory", ("free", "-b"), _memory, "memory and swap in bytes"),
    Check("disk", ("df", "-P", "-B1", "-x", "tmpfs", "-x", "devtmpfs"), _disk, "file system usage"),
    Check("services", ("systemctl", "--failed", "--no-legend", "--plain", "--no-pager"), _services, "failed units"),
    Check("pveversion", ("pveversion",), _pveversion, "Proxmox VE and kernel version"),
    Check("quorum", ("pvecm", "status"), _quorum, "cluster quorum"),
)
CHECK_NAMES: tuple[str, ...] = tuple(check.name for check in CHECKS)
_NOT_CLUSTERED = "is this node part of a cluster"


def report(check: Check, result: CommandResult) -> dict[str, Any]:
    """One check's outcome: ok (ran and was understood), data, problems; raw output when not understood."""
    entry: dict[str, Any] = {"check": check.name, "exit_status": result.exit_status}
    missing = result.exit_status == 127
    if check.name == "quorum" and _NOT_CLUSTERED in result.stderr:
        entry.update(ok=True, data={"clustered": False}, problems=[])
        return entry
    data: dict[str, Any] | None = None
    problems: list[str] = []
    if result.exit_status == 0:
        try:
            data, problems = check.parse(result.stdout)
        except (ValueError, IndexError, KeyError):
            data = None
    entry["ok"] = data is not None
    if missing:
        entry["available"] = False
    if data is not None:
        entry["data"] = data
    else:
        entry["stdout"] = result.stdout
    entry["problems"] = problems
    if result.stderr:
        entry["stderr"] = result.stderr
    if result.stdout_truncated or result.stderr_truncated:
        entry["truncated"] = True
    return entry


def selected(names: list[str] | None) -> tuple[Check, ...]:
    wanted = set(names or CHECK_NAMES)
    return tuple(check for check in CHECKS if check.name in wanted)
