"""One-call answers about the whole cluster: is it healthy, and what is taking the space.

Both read many endpoints and answer with conclusions rather than rows, so an assistant needs one call, not
twenty, to answer the two questions users ask most. Their parameters steer pvemcp's own reading and are
never sent to Proxmox (local).
"""

from __future__ import annotations

from types import MappingProxyType

from pvemcp.catalog.spec import Param, Rest, Tier, ToolSpec

HEALTH_DEFAULTS = {"since_hours": 24, "storage_threshold_percent": 85}
CAPACITY_TOP = 5

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="pve_cluster_health",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Cluster health",
        description=(
            "Is the cluster healthy? One call checks quorum, nodes (online, CPU and memory pressure), Ceph, HA,"
            " replication, failed tasks, full storage, subscriptions and certificates. status ok|warning|critical,"
            " summary counts, findings worst first with the tool for a closer look; skipped: areas not readable."
        ),
        target=Rest("GET", "/cluster/status"),
        params=(
            Param(
                "since_hours",
                "integer",
                f"Failed tasks from the last this many hours (default {HEALTH_DEFAULTS['since_hours']}).",
                minimum=1,
                maximum=720,
                local=True,
            ),
            Param(
                "storage_threshold_percent",
                "integer",
                f"Report storage used above this percentage (default {HEALTH_DEFAULTS['storage_threshold_percent']}).",
                minimum=1,
                maximum=100,
                local=True,
            ),
        ),
        handler="cluster_health",
        catalog_listing=False,
    ),
    ToolSpec(
        name="pve_storage_capacity",
        category="storage",
        tier=Tier.READ_ONLY,
        title="Storage capacity",
        description=(
            "What is taking the space? Every storage (a shared one once) with used/total bytes and percent, its"
            " largest consumers grouped by guest (by content kind; ISOs and templates as unowned) and the week's"
            " growth per day with days_until_full."
        ),
        target=Rest("GET", "/cluster/resources"),
        params=(
            Param("storage", "string", "Only this storage ID, e.g. local-lvm.", local=True),
            Param("node", "string", "Only storages on this node (shared ones included).", local=True),
            Param(
                "top",
                "integer",
                f"Largest consumers listed per storage (default {CAPACITY_TOP}).",
                minimum=1,
                maximum=50,
                local=True,
            ),
        ),
        handler="storage_capacity",
        catalog_listing=False,
    ),
    ToolSpec(
        name="pve_cluster_view",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Cluster view",
        description=(
            "What the cluster app draws: nodes and guests with usage, a CPU sparkline per running guest (last"
            " hour), the health findings, and the guest actions this server offers with the tier each needs."
            " Listed only for clients that render MCP Apps, and only to the app."
        ),
        target=Rest("GET", "/cluster/resources"),
        handler="cluster_view",
        catalog_listing=False,
    ),
)

# What pve_cluster_health answers, as the consolidated pve_health declares it (outputSchema).
HEALTH_SHAPE = MappingProxyType(
    {
        "type": "object",
        "properties": {
            "status": {"enum": ["ok", "warning", "critical"]},
            "summary": {"type": "object"},
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "severity": {"enum": ["critical", "warning", "info"]},
                        "area": {"type": "string"},
                        "subject": {"type": "string"},
                        "message": {"type": "string"},
                        "next": {"type": "object"},
                    },
                    "required": ["severity", "area", "message"],
                },
            },
            "checked": {"type": "array", "items": {"type": "string"}},
            "skipped": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["status", "summary", "findings", "checked", "skipped"],
    }
)
