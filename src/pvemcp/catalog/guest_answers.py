"""Answers about one guest: can it move, and why is it down or slow.

Both read several endpoints and judge what they say, so the assistant gets a verdict with reasons and the
call to make next instead of raw records. The migrate tools run the same preflight before they send.
"""

from __future__ import annotations

from pvemcp.catalog.spec import GUEST_TYPE, NODE_FOR_GUEST, VMID, Param, Rest, Tier, ToolSpec

GUEST = (NODE_FOR_GUEST, VMID, GUEST_TYPE)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="pve_migration_preflight",
        category="qemu",
        tier=Tier.READ_ONLY,
        title="Can this guest migrate?",
        description=(
            "Checks a VM's or container's migration before it starts: blockers (HA, local disks, locks, nodes"
            " not allowed or offline), warnings, allowed nodes, local disks, HA state, and `use`: the exact"
            " call that does it right."
        ),
        target=Rest("GET", "/nodes/{node}/{guest_type}/{vmid}/migrate"),
        params=(*GUEST, Param("target", "string", "Destination node; default: the best allowed one.")),
        handler="migration_preflight",
        catalog_listing=False,
    ),
    ToolSpec(
        name="pve_diagnose_guest",
        category="qemu",
        tier=Tier.READ_ONLY,
        title="Why is this guest down or slow?",
        description=(
            "One call for a VM or container that is down or slow: findings worst first (failed tasks with their"
            " error, locks, missing disks, memory, agent, HA), its usage, its node's pressure and recent tasks."
        ),
        target=Rest("GET", "/nodes/{node}/{guest_type}/{vmid}/status/current"),
        params=(
            *GUEST,
            Param("tasks", "integer", "Recent tasks to include (default 5).", minimum=1, maximum=50, local=True),
        ),
        handler="diagnose_guest",
        catalog_listing=False,
    ),
)
