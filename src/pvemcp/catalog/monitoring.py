"""Monitoring: RRD metrics, a cluster summary, node facts and logs, QEMU guest-agent reads."""

from __future__ import annotations

from types import MappingProxyType

from pvemcp.catalog.spec import NODE, NODE_FOR_GUEST, VMID, Param, Rest, Tier, ToolSpec

TIMEFRAMES = ("hour", "day", "week", "month", "year")
CF = Param("cf", "string", "AVERAGE (default) or MAX.", enum=("AVERAGE", "MAX"))
CHART = Param("chart", "boolean", "true: also a PNG chart of these series.", local=True)
METRICS_DIFFERS = (
    "Compact series (start, step, a rounded list per metric, at most 70 points) instead of one object per row; adds cf."
)
SUBJECTS = {
    "node": ("Node", "CPU, load, memory, swap, disk, network", (NODE,)),
    "qemu": ("VM", "CPU, memory, disk, network", (NODE_FOR_GUEST, VMID)),
    "lxc": ("Container", "CPU, memory, disk, network", (NODE_FOR_GUEST, VMID)),
}
PATHS = {
    "node": "/nodes/{node}/rrddata",
    "qemu": "/nodes/{node}/qemu/{vmid}/rrddata",
    "lxc": "/nodes/{node}/lxc/{vmid}/rrddata",
}


def metric_tool(subject: str, timeframe: str) -> ToolSpec:
    """One RRD tool: fixed timeframe, one shared compacting handler."""
    noun, what, params = SUBJECTS[subject]
    return ToolSpec(
        name=f"pve_get_{subject}_metrics_{timeframe}",
        category="monitoring",
        tier=Tier.READ_ONLY,
        title=f"{noun} metrics ({timeframe})",
        description=(
            f"{noun} {what}, last {timeframe}: start, step, a list per metric (null: no data). cpu: fraction;"
            " I/O: bytes/s."
        ),
        target=Rest("GET", PATHS[subject]),
        params=(*params, CF, CHART),
        handler="rrd_series",
        picture="rrd_chart",
        fixed=MappingProxyType({"timeframe": timeframe}),
        differs=METRICS_DIFFERS,
    )


def agent_tool(command: str, name: str, title: str, description: str) -> ToolSpec:
    return ToolSpec(
        name=f"pve_get_qemu_agent_{name}",
        category="monitoring",
        tier=Tier.READ_ONLY,
        title=title,
        description=description + " Needs a running VM with agent=1 and qemu-guest-agent.",
        target=Rest("GET", f"/nodes/{{node}}/qemu/{{vmid}}/agent/{command}"),
        params=(NODE_FOR_GUEST, VMID),
    )


def node_tool(name: str, path: str, title: str, description: str, *params: Param, differs: str = "") -> ToolSpec:
    return ToolSpec(
        name=name,
        category="monitoring",
        tier=Tier.READ_ONLY,
        title=title,
        description=description,
        target=Rest("GET", path),
        params=(NODE, *params),
        differs=differs,
    )


JOURNAL_DATE = "YYYY-MM-DD[ HH:MM[:SS]], node time."

TOOLS = (
    *(metric_tool(subject, timeframe) for timeframe in TIMEFRAMES for subject in SUBJECTS),
    ToolSpec(
        name="pve_get_cluster_metrics_overview",
        category="monitoring",
        tier=Tier.READ_ONLY,
        title="Cluster metrics overview",
        description=(
            "Per node CPU, memory, uptime and guests running/total, plus cluster totals incl. storage; one call."
        ),
        target=Rest("GET", "/cluster/resources"),
        handler="cluster_metrics_overview",
        differs="Summarises per node and cluster-wide (nandi returned the raw resource list).",
    ),
    node_tool(
        "pve_get_node_version",
        "/nodes/{node}/version",
        "Node version",
        "Proxmox VE version, release and repository ID running on one node.",
    ),
    node_tool(
        "pve_get_node_dns",
        "/nodes/{node}/dns",
        "Node DNS settings",
        "A node's DNS search domain and nameservers (dns1-dns3).",
    ),
    node_tool(
        "pve_get_node_time",
        "/nodes/{node}/time",
        "Node time",
        "A node's clock: UNIX time, local time and time zone. Handy for since/until of pve_get_node_syslog.",
    ),
    node_tool(
        "pve_get_node_syslog",
        "/nodes/{node}/syslog",
        "Node system log",
        "A node's journal lines {n, t}, oldest first, 50 by default. Use since for recent ones, start to page.",
        Param("limit", "integer", "Lines (default 50).", minimum=1),
        Param("start", "integer", "Lines to skip.", minimum=0),
        Param("since", "string", "Only lines from " + JOURNAL_DATE, free_text=True),
        Param("until", "string", "Only lines up to " + JOURNAL_DATE, free_text=True),
        Param("service", "string", "Only this systemd unit, e.g. pveproxy."),
        differs="Exposes limit (Proxmox's default 50; nandi always sent 100), start, since, until and service.",
    ),
    node_tool(
        "pve_list_node_services",
        "/nodes/{node}/services",
        "List node services",
        "State of a node's Proxmox services (pveproxy, pvedaemon, corosync, ...): running, active, enabled.",
    ),
    agent_tool("info", "info", "Guest agent info", "QEMU guest agent version and the commands it supports."),
    agent_tool(
        "network-get-interfaces",
        "network",
        "Guest network (agent)",
        "Network interfaces as the guest sees them: MAC, IPv4/IPv6 addresses, counters.",
    ),
    agent_tool("get-osinfo", "osinfo", "Guest OS (agent)", "Guest OS name, version and kernel."),
    agent_tool(
        "get-fsinfo",
        "fsinfo",
        "Guest filesystems (agent)",
        "Guest filesystems: mount point, type, total and used bytes, backing disk.",
    ),
)
