"""The concise form of a result on the consolidated surface: values an assistant cannot misread, fewer bytes.

Proxmox's own answers mix units: `cpu` is a fraction of the guest's CPUs, sizes are bytes next to their
maximum, times are epoch seconds, flags are 0/1, a task's `status` is its state in one list and its exit text
in another, a Ceph pool's `percent_used` is a fraction where an OSD's is a percent, and a VM's `disk` is 0
because Proxmox does not know what the guest uses. Concise output says each once: `cpu_percent`, a size with
its maximum as "1.2 GiB of 4.0 GiB (30.1%)", ISO 8601 UTC times, booleans, `task_state` and `exitstatus`,
`used_percent`, a VM's `disk_size`; it leaves out what repeats other fields or counts since boot (`id` beside
a vmid, a task's pid, cumulative network and disk counters). `response_format=detailed` keeps Proxmox's fields
as they are, exactly as the catalog tool returns them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

# Sizes in bytes, and the maximum each is a share of.
BYTES = frozenset(
    {"mem", "maxmem", "disk", "maxdisk", "swap", "maxswap", "size", "netin", "netout", "diskread", "diskwrite"}
    | {"used", "avail", "total", "free", "bytes_used", "max_avail", "memused", "memtotal", "swapused", "rootused"}
    | {"available", "memavailable"}
)
SHARES = {"mem": "maxmem", "disk": "maxdisk", "swap": "maxswap", "used": "total"}
MAXIMA = frozenset(SHARES.values())
COUNTERS = frozenset({"netin", "netout", "diskread", "diskwrite"})  # cumulative since the guest started
EPOCHS = frozenset(
    {"starttime", "endtime", "snaptime", "ctime", "time", "lastsync", "next_sync", "notbefore"}
    | {"last_sync", "last_try", "next-run", "timestamp", "expire", "start"}
)
FRACTIONS = frozenset({"cpu", "wait", "iowait"})  # shares of the whole, said as percents
SECONDS = frozenset({"step", "duration"})  # said as *_s
EPOCHS_AFTER = 1_000_000_000  # a plausible epoch second (2001-09-09); smaller numbers are left alone
FLAGS = frozenset(
    {"enable", "enabled", "template", "shared", "active", "onboot", "protection", "disable", "quorate", "privsep"}
    | {"propagate", "autostart", "vlanaware", "nomatch", "unprivileged", "firewall", "online", "local", "managed"}
    | {"agent", "vmstate", "running", "special"}
)
DROPPED = frozenset({"ssl_fingerprint", "pid", "pstart", "level"})
UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(value: float) -> str:
    size, unit = float(value), 0
    while abs(size) >= 1024 and unit < len(UNITS) - 1:
        size, unit = size / 1024, unit + 1
    return f"{int(size)} B" if unit == 0 else f"{size:.1f} {UNITS[unit]}"


def human_duration(seconds: float) -> str:
    s = int(seconds)
    days, s = divmod(s, 86_400)
    hours, s = divmod(s, 3_600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {s}s" if minutes else f"{s}s"


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def concise(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _object(value)
    if isinstance(value, list):
        return [concise(item) for item in value]
    return value


def _object(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    task = "upid" in row
    vm = row.get("type") == "qemu" or "qmpstatus" in row
    for key, value in row.items():
        if key in DROPPED or value == "" or (key == "template" and value in (0, False)):
            continue
        if key == "id" and "/" in str(value) and ("vmid" in row or row.get("type") in ("node", "storage")):
            continue  # "qemu/100", "node/pve1": the other fields say it
        if key in MAXIMA and _number(value) and _number(row.get(_used(key))):
            continue  # said with its used value
        if key in COUNTERS and _number(value):
            continue
        if task and key == "endtime" and _number(value) and _number(row.get("starttime")):
            out["duration_s"] = int(value - row["starttime"])  # a task row says when it began and how long
            continue
        if key in FRACTIONS and _number(value):
            out[f"{key}_percent"] = round(float(value) * 100, 1)
        elif key in FRACTIONS and isinstance(value, list):
            out[f"{key}_percent"] = [None if v is None else round(float(v) * 100, 1) for v in value]
        elif key in SECONDS and _number(value):
            out[f"{key}_s"] = value
        elif key == "maxcpu" and _number(value):
            out["cpus"] = value
        elif key == "percent_used" and _number(value):
            # A Ceph pool states a fraction, an OSD a percent.
            out["used_percent"] = round(float(value) * (100 if "pool_name" in row else 1), 1)
        elif key == "disk" and vm and _number(row.get("maxdisk")):
            out["disk_size"] = human_bytes(float(row["maxdisk"]))  # Proxmox reports no use inside a VM
        elif key in BYTES and _number(value) and not (key == "total" and "items" in row):  # a page's item count
            whole = row.get(SHARES.get(key, ""))
            if _number(whole) and whole:
                share = round(float(value) / float(whole) * 100, 1)
                out[key] = f"{human_bytes(float(value))} of {human_bytes(float(whole))} ({share}%)"
            else:
                out[key] = human_bytes(float(value))
        elif key in COUNTERS and isinstance(value, list):
            out[f"{key}_bytes_per_s"] = value  # an RRD series: a rate, not a total
        elif key in BYTES and isinstance(value, list):
            out[f"{key}_bytes"] = value
        elif key.endswith("_bytes_per_day") and _number(value):
            out[key.replace("_bytes_per_day", "_per_day")] = human_bytes(float(value))
        elif key.endswith("_bytes") and _number(value):
            out[key.removesuffix("_bytes")] = human_bytes(float(value))  # pvemcp's own answers: exact in detailed
        elif key == "uptime" and _number(value):
            out["uptime"] = human_duration(float(value))
        elif key in EPOCHS and _number(value) and value > EPOCHS_AFTER:
            out[key] = iso(float(value))
        elif key in FLAGS and value in (0, 1) and not isinstance(value, float):
            out[key] = bool(value)
        elif task and key == "status":
            _task_status(row, value, out)
        else:
            out[key] = concise(value)
    return out


def _used(maximum: str) -> str:
    return next(used for used, whole in SHARES.items() if whole == maximum)


def _task_status(row: Mapping[str, Any], value: Any, out: dict[str, Any]) -> None:
    """A task's state (running, stopped) and its exit text never share one name."""
    if value in ("running", "stopped"):
        out["task_state"] = value
    else:  # the cluster task list puts the exit text in status
        out["task_state"] = "stopped"
        out.setdefault("exitstatus", value)
