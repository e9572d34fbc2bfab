"""pve_preview: what a call would do, answered by pvemcp itself without changing anything."""

from pvemcp.catalog.spec import Local, Param, Tier, ToolSpec

TOOLS = (
    ToolSpec(
        name="pve_preview",
        category="cluster",
        tier=Tier.READ_ONLY,
        title="Preview a call",
        description=(
            "Say what a call would do without doing it: the exact Proxmox request(s), whether this server would"
            " allow it (tier, scope, protection, confirmation) and, for settings changes, each affected key's"
            " value before and after. Call it before a risky change and show the user the result. Changes nothing."
        ),
        target=Local(),
        # no endpoint of its own: api=False
        params=(
            Param("tool", "string", "The tool to preview, e.g. pve_qemu_update_config.", required=True),
            Param("arguments", "object", "The arguments you would call it with.", required=True),
        ),
        handler="preview",
    ),
)
