"""/nodes and /nodes/{node}/status."""

from __future__ import annotations

from ..params import NODE
from ..render import node_entry
from ..routes import Call, Route
from ..state.metrics import node_usage


def nodes(c: Call) -> object:
    items = []
    for node in c.state.nodes.values():
        entry = node_entry(node, c.now)
        entry["ssl_fingerprint"] = node.ssl_fingerprint
        items.append(entry)
    return items


def node_status(c: Call) -> object:
    node, state = c.node, c.state
    usage = node_usage(node, c.now)
    free_mem = node.mem_total - usage.mem_used
    build = state.kernel_build
    return {
        "uptime": usage.uptime,
        "idle": 0,
        "cpu": usage.cpu,
        "wait": round(usage.cpu / 40, 6),
        "loadavg": list(usage.loadavg),
        "cpuinfo": {
            "model": node.cpu_model,
            "sockets": node.sockets,
            "cores": node.cores,
            "cpus": node.cpus,
            "mhz": node.mhz,
            "hvm": "1",
            "user_hz": 100,
        },
        "memory": {
            "total": node.mem_total,
            "used": usage.mem_used,
            "free": free_mem,
            "available": free_mem + node.mem_total // 20,
        },
        "swap": {"total": node.swap_total, "used": usage.swap_used, "free": node.swap_total - usage.swap_used},
        "rootfs": {
            "total": node.rootfs_total,
            "used": usage.rootfs_used,
            "avail": node.rootfs_total - usage.rootfs_used,
            "free": node.rootfs_total - usage.rootfs_used,
        },
        "ksm": {"shared": 0},
        "kversion": f"Linux {state.kernel_release} {build} x86_64",
        "current-kernel": {
            "sysname": "Linux",
            "release": state.kernel_release,
            "version": build,
            "machine": "x86_64",
        },
        "boot-info": {"mode": "efi", "secureboot": 0},
        "pveversion": f"pve-manager/{state.pve_version}/{state.repoid}",
    }


ROUTES = (
    Route("GET", "/nodes", (), nodes),
    Route("GET", "/nodes/{node}/status", (NODE,), node_status),
)
