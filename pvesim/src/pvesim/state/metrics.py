"""Plausible, deterministic usage figures derived from a guest's profile and the clock.

PVE's status daemon refreshes cluster-wide figures every ten seconds; listings use that
granularity (``bucket``), which also lets them reuse rendered records between refreshes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .records import Guest, Node, Shape

BUCKET_SECONDS = 10
GIB = 1024**3
MIB = 1024**2


def bucket_of(now: float) -> int:
    return int(now // BUCKET_SECONDS)


def wave(phase: float, t: float) -> float:
    """A slow, smooth oscillation in [0, 1] so figures move without jumping."""
    return 0.5 + 0.5 * math.sin(t / 97.0 + phase)


@dataclass(frozen=True, slots=True)
class Usage:
    cpu: float
    mem: int
    disk: int
    swap: int
    uptime: int
    netin: int
    netout: int
    diskread: int
    diskwrite: int


IDLE = Usage(0, 0, 0, 0, 0, 0, 0, 0, 0)


def shape(guest: Guest) -> Shape:
    """maxcpu/maxmem/maxdisk/maxswap from the config, recomputed only when the config changes."""
    cached = guest.shape_cache
    config = guest.config
    if cached is not None and cached[0] is config and cached[1] == (guest.type, config.version):
        return cached[2]
    cores = int(config.get("cores", 1) or 1)
    cpus = cores * int(config.get("sockets", 1) or 1) if guest.type == "qemu" else cores
    memory = int(str(config.get("memory", 512)).split(",")[0].removeprefix("current="))
    disk = 0
    for part in str(config.get("scsi0" if guest.type == "qemu" else "rootfs", "")).split(","):
        if part.startswith("size="):
            disk = parse_size(part[5:])
    swap = int(config.get("swap", 0) or 0) * MIB if guest.type == "lxc" else 0
    result = Shape(cpus, memory * MIB, disk, swap)
    object.__setattr__(guest, "shape_cache", (config, (guest.type, config.version), result))
    return result


def max_mem(guest: Guest) -> int:
    return shape(guest).maxmem


def max_cpu(guest: Guest) -> int:
    return shape(guest).maxcpu


def max_disk(guest: Guest) -> int:
    return shape(guest).maxdisk


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": MIB, "G": GIB, "T": 1024 * GIB}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def guest_usage(guest: Guest, now: float) -> Usage:
    """Usage of a guest at ``now``; all zero while it is stopped, as PVE reports it."""
    if guest.status != "running" or guest.started_at is None:
        return IDLE
    p = guest.profile
    size = shape(guest)
    uptime = max(0, int(now - guest.started_at))
    w = wave(p.phase, now)
    busy = 0.05 if guest.paused else 1.0
    disk = int(size.maxdisk * p.disk_frac) if guest.type == "lxc" else 0
    return Usage(
        cpu=round(p.cpu_base * (0.6 + 0.8 * w) * busy, 6),
        mem=int(size.maxmem * p.mem_frac * (0.94 + 0.12 * w)),
        disk=disk,
        swap=0,
        uptime=uptime,
        netin=int(p.net_in_rate * uptime),
        netout=int(p.net_out_rate * uptime),
        diskread=int(p.read_rate * uptime),
        diskwrite=int(p.write_rate * uptime),
    )


@dataclass(frozen=True, slots=True)
class NodeUsage:
    cpu: float
    mem_used: int
    swap_used: int
    rootfs_used: int
    uptime: int
    loadavg: tuple[str, str, str]


def node_usage(node: Node, now: float) -> NodeUsage:
    if not node.online:
        return NodeUsage(0.0, 0, 0, 0, 0, ("0.00", "0.00", "0.00"))
    w = wave(node.phase, now)
    cpu = round(node.cpu_base * (0.7 + 0.6 * w), 6)
    load = cpu * node.cpus
    return NodeUsage(
        cpu=cpu,
        mem_used=int(node.mem_total * node.mem_frac * (0.97 + 0.06 * w)),
        swap_used=int(node.swap_total * 0.01 * w),
        rootfs_used=int(node.rootfs_total * node.rootfs_frac),
        uptime=max(0, int(now - node.boot_time)),
        loadavg=(f"{load:.2f}", f"{load * 0.93:.2f}", f"{load * 0.88:.2f}"),
    )
