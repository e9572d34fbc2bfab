"""Node administration: systemd services, APT updates, disks and SMART, certificates, the journal,
the subscription and the node config."""

from __future__ import annotations

from pvemcp.catalog.spec import NODE, Module, Param, Rest, Tier, ToolSpec, reader

CATEGORY = "node-admin"
SERVICES = (
    "chrony", "corosync", "cron", "ksmtuned", "lxcfs", "postfix", "proxmox-firewall", "pve-cluster",
    "pve-firewall", "pve-ha-crm", "pve-ha-lrm", "pve-lxc-syscalld", "pvedaemon", "pvefw-logger", "pveproxy",
    "pvescheduler", "pvestatd", "qmeventd", "spiceproxy", "sshd", "syslog", "systemd-journald", "systemd-timesyncd",
)  # fmt: skip
SERVICE = Param(
    "service", "string", "Service, e.g. pveproxy (see pve_list_node_services).", required=True, enum=SERVICES
)
NODE_CONFIG_KEYS = (
    "acme", *(f"acmedomain{i}" for i in range(6)), "ballooning-target", "description",
    "startall-onboot-delay", "wakeonlan",
)  # fmt: skip

read = reader(CATEGORY, Module.ADVANCED)


def service_tool(command: str, tier: Tier, title: str, description: str, *, confirm: bool) -> ToolSpec:
    return ToolSpec(
        name=f"pve_{command}_node_service",
        category=CATEGORY,
        tier=tier,
        title=title,
        description=description,
        target=Rest("POST", f"/nodes/{{node}}/services/{{service}}/{command}"),
        params=(NODE, SERVICE),
        module=Module.ADVANCED,
        destructive=confirm,
        confirm=confirm,
        idempotent=True,
        returns_task=True,
    )


TOOLS = (
    read(
        "pve_get_node_service_state",
        "Node service state",
        "One service on a node: systemd sub-state (running, dead, ...), active state and unit file state.",
        "/nodes/{node}/services/{service}/state",
        NODE,
        SERVICE,
    ),
    service_tool(
        "start",
        Tier.READ_EXECUTE,
        "Start node service",
        "Start a stopped systemd service on a node (waits for the task). pveproxy and pvedaemon only restart.",
        confirm=False,
    ),
    service_tool(
        "restart",
        Tier.READ_EXECUTE,
        "Restart node service",
        "Restart a service on a node, e.g. pveproxy after a certificate change. Its clients lose their connection.",
        confirm=True,
    ),
    service_tool(
        "stop",
        Tier.FULL,
        "Stop node service",
        "Stop a service on a node. Stopping pve-cluster or corosync can cut the node off the cluster;"
        " pveproxy and pvedaemon refuse (restart them instead).",
        confirm=True,
    ),
    read(
        "pve_list_node_updates",
        "List available updates",
        "Packages a node can upgrade (Package, Version, OldVersion, Origin), as of its last package-list refresh.",
        "/nodes/{node}/apt/update",
        NODE,
    ),
    ToolSpec(
        name="pve_refresh_node_updates",
        category=CATEGORY,
        tier=Tier.READ_EXECUTE,
        title="Refresh package lists",
        description="Run apt-get update on a node (waits for the task), then list with pve_list_node_updates."
        " Installs nothing.",
        target=Rest("POST", "/nodes/{node}/apt/update"),
        params=(NODE,),
        module=Module.ADVANCED,
        idempotent=True,
        returns_task=True,
    ),
    read(
        "pve_list_node_disks",
        "List node disks",
        "A node's physical disks: device, model, serial, size, type (ssd/hdd/nvme), usage, SMART health, wearout.",
        "/nodes/{node}/disks/list",
        NODE,
        Param("include-partitions", "boolean", "Also list partitions (with parent)."),
        Param("skipsmart", "boolean", "Skip SMART health (faster)."),
        Param(
            "type", "string", "Only unused disks, or disks fit for a Ceph journal.", enum=("unused", "journal_disks")
        ),
    ),
    read(
        "pve_get_node_disk_smart",
        "Disk SMART data",
        "SMART health of one disk and its attributes (ATA) or health log text (NVMe). Device from pve_list_node_disks.",
        "/nodes/{node}/disks/smart",
        NODE,
        Param("device", "string", "Block device, e.g. /dev/sda.", required=True, free_text=True, wire="disk"),
        Param("healthonly", "boolean", "Only the overall health (PASSED or FAILED)."),
    ),
    read(
        "pve_get_node_certificates",
        "Node certificates",
        "TLS certificates a node uses: file, subject, issuer, SANs, fingerprint, notbefore/notafter (UNIX time).",
        "/nodes/{node}/certificates/info",
        NODE,
    ),
    read(
        "pve_get_node_journal",
        "Node journal",
        "A node's systemd journal lines; the first and last items are cursors to page with. Bound it with"
        " lastentries or since (the whole journal otherwise). pve_get_node_syslog filters by service.",
        "/nodes/{node}/journal",
        NODE,
        Param("lastentries", "integer", "Only the newest N entries (of those in range).", minimum=0),
        Param("since", "integer", "Only entries from this UNIX time on.", minimum=0),
        Param("until", "integer", "Only entries up to this UNIX time.", minimum=0),
        Param("startcursor", "string", "Only entries after this cursor (the last item of a result).", free_text=True),
        Param("endcursor", "string", "Only entries before this cursor (the first item of a result).", free_text=True),
    ),
    read(
        "pve_get_node_subscription",
        "Node subscription",
        "A node's subscription: status (active, notfound, expired, ...), level, product, next due date, server ID.",
        "/nodes/{node}/subscription",
        NODE,
    ),
    read(
        "pve_get_node_config",
        "Node config",
        "A node's own settings: description, wake-on-LAN MAC, ACME domains, start-on-boot delay; with digest.",
        "/nodes/{node}/config",
        NODE,
        Param("property", "string", "Only this setting.", enum=NODE_CONFIG_KEYS),
    ),
)
