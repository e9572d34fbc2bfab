"""Guest agent: ask qemu-guest-agent inside a running VM whether it answers, who is logged in, its
clock, and the contents of a file.

The inventory reads (network, OS, filesystems) live in monitoring; command execution lives in qemu.
Every call fails with QEMU_GUEST_AGENT_UNAVAILABLE (and a hint) while the agent is not configured
(agent=1) or does not answer. Reading a file is read-execute, not read-only: it returns whatever
the guest holds (keys, password hashes, application secrets), not facts about the VM, which is why
Proxmox guards it with its own privilege, VM.GuestAgent.FileRead.
"""

from pvemcp.catalog.spec import NODE_FOR_GUEST, VMID, Module, Param, Rest, Tier, ToolSpec

AGENT = "/nodes/{node}/qemu/{vmid}/agent"
NEEDS = " Needs a running VM with agent=1 and qemu-guest-agent."
FILE_MAX = 16 * 1024 * 1024

TOOLS = (
    ToolSpec(
        name="pve_qemu_agent_ping",
        category="agent",
        tier=Tier.READ_EXECUTE,
        title="Ping guest agent",
        description="Check that qemu-guest-agent in a VM answers; an empty result means it does." + NEEDS,
        target=Rest("POST", f"{AGENT}/ping"),
        params=(NODE_FOR_GUEST, VMID),
        module=Module.ADVANCED,
        idempotent=True,
    ),
    ToolSpec(
        name="pve_get_qemu_agent_users",
        category="agent",
        tier=Tier.READ_ONLY,
        title="Guest users (agent)",
        description="Users logged in to the guest, with login-time (UNIX seconds) and, on Windows, domain." + NEEDS,
        target=Rest("GET", f"{AGENT}/get-users"),
        params=(NODE_FOR_GUEST, VMID),
        module=Module.ADVANCED,
    ),
    ToolSpec(
        name="pve_get_qemu_agent_time",
        category="agent",
        tier=Tier.READ_ONLY,
        title="Guest clock (agent)",
        description="The guest's clock in nanoseconds since the epoch; compare with pve_get_node_time to spot drift."
        + NEEDS,
        target=Rest("GET", f"{AGENT}/get-time"),
        params=(NODE_FOR_GUEST, VMID),
        module=Module.ADVANCED,
    ),
    ToolSpec(
        name="pve_qemu_agent_file_read",
        category="agent",
        tier=Tier.READ_EXECUTE,
        title="Read guest file (agent)",
        description="Read a file inside the guest: content, and truncated=1 when it holds more than count bytes."
        " Returns what the guest stores, secrets included." + NEEDS,
        target=Rest("GET", f"{AGENT}/file-read"),
        params=(
            NODE_FOR_GUEST,
            VMID,
            Param(
                "file", "string", "Absolute path inside the guest, e.g. /etc/os-release.", required=True, free_text=True
            ),
            Param(
                "count",
                "integer",
                f"Bytes to read at most (default and limit {FILE_MAX}).",
                minimum=1,
                maximum=FILE_MAX,
            ),
            Param("offset", "integer", "Start at this byte (default 0).", minimum=0),
            Param("decode", "boolean", "false: return the bytes base64-encoded (for binary files)."),
        ),
        module=Module.ADVANCED,
    ),
)
