"""Ceph (hyper-converged storage): health, status, OSDs, pools, monitors and flags, read only.

The per-node reads run on the node named and answer for the whole Ceph cluster; any node with Ceph
installed will do. A node without Ceph answers "binary not installed: /usr/bin/ceph-mon", a cluster
where Ceph was never set up "pveceph configuration not initialized".
"""

from __future__ import annotations

from pvemcp.catalog.spec import Module, Param, reader

read = reader("ceph", Module.ADVANCED)

CEPH_NODE = Param(
    "node", "string", "A node with Ceph installed, e.g. pve1; the answer covers the whole cluster.", required=True
)

TOOLS = (
    read(
        "pve_get_ceph_health",
        "Ceph health",
        "Ceph's overall health (HEALTH_OK/WARN/ERR) and each active check with its message, worst first."
        " Start here; pve_get_ceph_status has the full picture.",
        "/cluster/ceph/status",
        handler="ceph_health",
    ),
    read(
        "pve_get_ceph_status",
        "Ceph status",
        "Full `ceph status`: health checks, monitor quorum, OSD counts (up/in), placement groups by state,"
        " capacity and client I/O.",
        "/cluster/ceph/status",
    ),
    read(
        "pve_list_ceph_osds",
        "Ceph OSD tree",
        "The CRUSH tree: hosts and their OSDs with status (up/down), in/out, device class, usage and"
        " latency; plus the OSD map flags.",
        "/nodes/{node}/ceph/osd",
        CEPH_NODE,
    ),
    read(
        "pve_list_ceph_pools",
        "List Ceph pools",
        "Ceph pools: size/min_size, PGs and autoscale mode, CRUSH rule, application, bytes and percent used.",
        "/nodes/{node}/ceph/pool",
        CEPH_NODE,
    ),
    read(
        "pve_list_ceph_monitors",
        "List Ceph monitors",
        "Ceph monitors: name, address, rank, whether in quorum, state and version.",
        "/nodes/{node}/ceph/mon",
        CEPH_NODE,
    ),
    read(
        "pve_get_ceph_flags",
        "Ceph flags",
        "Every Ceph OSD flag (noout, norebalance, noscrub, pause, …) with what it does and whether it is set.",
        "/cluster/ceph/flags",
    ),
)
