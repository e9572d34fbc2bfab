"""The raw API: any Proxmox endpoint no other tool covers, under the same tiers, scope, confirmation and audit.

Neither tool names an endpoint of its own (target Raw): the caller passes the path, which pvemcp checks for
shape (server/rawpath.py) and reach (server/reach.py, with the write table in server/raw_table.py); Proxmox
answers as it would any client, unknown paths included.
"""

from pvemcp.catalog.spec import Module, Param, Raw, Tier, ToolSpec

PATH = Param(
    "path",
    "string",
    "API path below /api2/json, e.g. /nodes/pve1/qemu/100/config; no query string.",
    required=True,
    free_text=True,
    max_length=1024,
)
PARAMS = Param("params", "object", 'Parameters by their Proxmox names, e.g. {"type": "vm"}; flat values.')

TOOLS = (
    ToolSpec(
        name="pve_api_get",
        category="raw",
        tier=Tier.READ_ONLY,
        title="Read any API path",
        description=(
            "GET any Proxmox API path that no other tool covers and return Proxmox's answer as it is. Prefer a"
            " dedicated tool when one exists. Guests and nodes outside this server's scope read as unknown."
            " A path keeps the tier of the tool that covers it; guest-agent and file-restore paths need read-execute."
        ),
        target=Raw(("GET",)),
        params=(PATH, PARAMS),
        module=Module.ADVANCED,
        handler="raw_api",
    ),
    ToolSpec(
        name="pve_api_call",
        category="raw",
        tier=Tier.FULL,
        title="Call any API path",
        description=(
            "Send a POST, PUT or DELETE to a Proxmox API path that no other tool covers; an escape hatch, a dedicated"
            " tool should be preferred. Under a scope or protected tag only endpoints whose reach pvemcp models are"
            " sent; params values are strings, integers or booleans. pve_preview shows the request first. Waits for"
            " a task it starts."
        ),
        target=Raw(("POST", "PUT", "DELETE")),
        params=(
            Param("method", "string", "HTTP method of the endpoint.", required=True, enum=("POST", "PUT", "DELETE")),
            PATH,
            PARAMS,
        ),
        module=Module.ADVANCED,
        destructive=True,
        confirm=True,
        returns_task=True,
        handler="raw_api",
    ),
)
