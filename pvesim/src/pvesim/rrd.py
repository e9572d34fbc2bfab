"""RRD history as PVE 9 stores it (pve-node-9.0, pve-vm-9.0, pve-storage-9.0), derived from the same profiles
and volumes as live figures.

Each row covers one step and ends at its ``time``. Values are the step's average (or maximum, for
cf=MAX) of the smooth waves ``metrics`` uses, times a slow daily rhythm and a little deterministic
jitter, so the same cluster and clock always give the same history. As in real RRD files, a step
more than half unknown has no value: before a guest existed, while it was stopped (only its sizes are
recorded then), and while its node was rebooting. A storage's use in the past is today's, less what the
volumes written since then (backups, downloads, new disks) took up, each from its creation time on.
"""

from __future__ import annotations

import math

from .state.cluster import ClusterState
from .state.metrics import max_cpu, max_disk, max_mem, shape
from .state.records import Guest, Node, Storage, Volume

BASE_STEP = 60
DAY = 86_400
YEAR = 365 * DAY
FAST_PERIOD = 2 * math.pi * 97  # the period of metrics.wave
REBOOT_SECONDS = 150  # how long a node was gone before its current boot

# timeframe → (resolution, rows), as PVE 9's create_rrd_data fetches them from the 9.0 files
TIMEFRAMES: dict[str, tuple[int, int]] = {
    "hour": (60, 60),
    "day": (60, 1440),
    "week": (1800, 336),
    "month": (1800, 1440),
    "year": (21600, 1440),
    "decade": (604800, 570),
}

Row = dict[str, float | int]


def wave_stats(period: float, phase: float, start: float, end: float) -> tuple[float, float]:
    """Mean and maximum of 0.5 + 0.5·sin(2πt/period + phase) over [start, end]."""
    omega = 2 * math.pi / period
    x0, x1 = omega * start + phase, omega * end + phase
    if x1 - x0 < 1e-9:
        value = 0.5 + 0.5 * math.sin(x0)
        return value, value
    mean = 0.5 + 0.5 * (math.cos(x0) - math.cos(x1)) / (x1 - x0)
    crest = math.pi / 2 + 2 * math.pi * math.ceil((x0 - math.pi / 2) / (2 * math.pi))
    peak = 1.0 if crest <= x1 else 0.5 + 0.5 * max(math.sin(x0), math.sin(x1))
    return mean, peak


def jitter(key: int, t: int) -> float:
    """A stable pseudo-random number in [0, 1) for one series and one row."""
    x = (key * 0x9E3779B1 + t * 0x85EBCA77) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    x = (x * 0x297A2D39) & 0xFFFFFFFF
    x ^= x >> 15
    return x / 2**32


class Step:
    """The shared shape of one row: how busy the entity was over (end - reso, end]."""

    __slots__ = ("busy", "fast", "noise")

    def __init__(self, phase: float, key: int, end: int, reso: int, peak: bool) -> None:
        fast_mean, fast_max = wave_stats(FAST_PERIOD, phase, end - reso, end)
        day_mean, day_max = wave_stats(DAY, phase * 1.7, end - reso, end)
        roll = jitter(key, end)
        if peak and reso > BASE_STEP:  # a one-step RRA's MAX equals its AVERAGE
            self.fast, self.busy, self.noise = fast_max, 0.55 + 0.9 * day_max, 1.0 + 0.3 * roll
        else:
            self.fast, self.busy, self.noise = fast_mean, 0.55 + 0.9 * day_mean, 0.92 + 0.16 * roll


def _overlap(start: float, end: float, lo: float, hi: float) -> float:
    return max(0.0, min(end, hi) - max(start, lo))


def window(timeframe: str, now: float) -> list[int]:
    """Row end times, oldest first, as PVE aligns them to the resolution."""
    reso, count = TIMEFRAMES[timeframe]
    last = reso * int(now // reso)
    return [last - reso * (count - 1 - i) for i in range(count)]


def node_rows(state: ClusterState, node: Node, timeframe: str, cf: str, now: float) -> list[Row]:
    reso = TIMEFRAMES[timeframe][0]
    peak = cf == "MAX"
    net_in = 12_000 + sum(g.profile.net_in_rate for g in state.guests.values() if g.node == node.name and g.running)
    net_out = 9_000 + sum(g.profile.net_out_rate for g in state.guests.values() if g.node == node.name and g.running)
    down = (node.boot_time - REBOOT_SECONDS, node.boot_time)
    rows: list[Row] = []
    for end in window(timeframe, now):
        row: Row = {"time": end}
        rows.append(row)
        if _overlap(end - reso, end, *down) > reso / 2:
            continue
        s = Step(node.phase, node.nodeid, end, reso, peak)
        cpu = min(1.0, node.cpu_base * (0.7 + 0.6 * s.fast) * s.busy * s.noise)
        mem_used = node.mem_total * node.mem_frac * (0.97 + 0.06 * s.fast)
        age = max(0.0, now - end) / YEAR
        row.update(
            loadavg=cpu * node.cpus * 0.95,
            maxcpu=node.cpus,
            cpu=cpu,
            iowait=cpu / 40,
            memtotal=node.mem_total,
            memused=mem_used,
            swaptotal=node.swap_total,
            swapused=node.swap_total * 0.01 * s.fast,
            roottotal=node.rootfs_total,
            rootused=node.rootfs_total * node.rootfs_frac * (1 - 0.1 * age),
            netin=net_in * (0.5 + s.fast) * s.busy * s.noise,
            netout=net_out * (0.5 + s.fast) * s.busy * s.noise,
            memavailable=node.mem_total * 1.05 - mem_used,
        )
    return rows


def created_at(guest: Guest) -> float | None:
    """The creation time QEMU records in meta (ctime=...); containers carry none."""
    created = str(guest.config.get("meta", "")).rpartition("ctime=")[2].split(",")[0]
    return float(created) if created.isdigit() else None


def running_share(guest: Guest, node: Node | None, start: float, end: float) -> float:
    """How much of (start, end] the guest ran: since its start, and before its node's last boot."""
    if not guest.running or guest.started_at is None:
        return 0.0
    ran = _overlap(start, end, guest.started_at, math.inf)
    if node is not None and guest.started_at > node.boot_time:
        ran += _overlap(start, end, -math.inf, node.boot_time - REBOOT_SECONDS)
    return ran / (end - start)


def guest_rows(state: ClusterState, guest: Guest, timeframe: str, cf: str, now: float) -> list[Row]:
    reso = TIMEFRAMES[timeframe][0]
    peak = cf == "MAX"
    p, size = guest.profile, shape(guest)
    node = state.nodes.get(guest.node)
    born = created_at(guest)
    busy_factor = 0.05 if guest.paused else 1.0
    rows: list[Row] = []
    for end in window(timeframe, now):
        row: Row = {"time": end}
        rows.append(row)
        if born is not None and _overlap(end - reso, end, born, math.inf) < reso / 2:
            continue
        age = max(0.0, now - end) / YEAR
        disk = max_disk(guest) * p.disk_frac * (1 - 0.1 * age) if guest.type == "lxc" else 0
        row.update(maxcpu=max_cpu(guest), maxmem=max_mem(guest), maxdisk=size.maxdisk, disk=disk)
        if running_share(guest, node, end - reso, end) < 0.5:
            continue  # a stopped guest records only its sizes
        s = Step(p.phase, guest.vmid, end, reso, peak)
        io = (0.5 + s.fast) * s.busy * s.noise
        row.update(
            cpu=min(1.0, p.cpu_base * (0.6 + 0.8 * s.fast) * s.busy * s.noise * busy_factor),
            mem=size.maxmem * p.mem_frac * (0.94 + 0.12 * s.fast),
            netin=p.net_in_rate * io,
            netout=p.net_out_rate * io,
            diskread=p.read_rate * io,
            diskwrite=p.write_rate * io,
        )
    return rows


def _occupies(state: ClusterState, volume: Volume) -> int:
    """What a volume adds to its storage's use: a guest disk what its guest wrote (thin), any other file its size."""
    guest = state.guests.get(volume.vmid or 0)
    if volume.content in ("images", "rootdir") and guest is not None:
        return int(volume.size * guest.profile.disk_frac)
    return volume.size


def storage_rows(state: ClusterState, storage: Storage, node: Node, timeframe: str, cf: str, now: float) -> list[Row]:
    """total and used per step; a volume created within a step counts for the part of it after its creation
    (all of it for cf=MAX), so a nightly backup shows as a step up on the night it was written."""
    reso = TIMEFRAMES[timeframe][0]
    peak = cf == "MAX"
    used_now = storage.used_on(node.name)
    ends = window(timeframe, now)
    since = ends[0] - reso
    recent = [
        (float(v.ctime), _occupies(state, v))
        for v in state.volumes_of(storage, node.name)
        if v.ctime is not None and v.ctime > since
    ]
    down = (node.boot_time - REBOOT_SECONDS, node.boot_time)
    rows: list[Row] = []
    for end in ends:
        row: Row = {"time": end}
        rows.append(row)
        if _overlap(end - reso, end, *down) > reso / 2:
            continue
        missing = 0.0
        for created, size in recent:
            present = (1.0 if created <= end else 0.0) if peak else _overlap(end - reso, end, created, math.inf) / reso
            missing += size * (1.0 - present)
        row.update(total=storage.total, used=max(0.0, used_now - missing))
    return rows
