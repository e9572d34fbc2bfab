"""The tool catalog: every tool as a record, in a fixed order that the listing keeps."""

from __future__ import annotations

from pvemcp.catalog import (
    access,
    agent,
    backup,
    ceph,
    cloudinit,
    cluster,
    disks,
    firewall,
    firewall_extra,
    firewall_view,
    guest_answers,
    ha,
    health,
    lxc,
    monitoring,
    network,
    node_admin,
    nodes,
    pools,
    preview,
    qemu,
    raw,
    remote,
    replication,
    sdn,
    storage,
    storage_admin,
    tasks,
    templates,
)
from pvemcp.catalog.spec import Module, Param, Tier, ToolSpec

ALL_TOOLS: tuple[ToolSpec, ...] = (
    *nodes.TOOLS,
    *cluster.TOOLS,
    *preview.TOOLS,
    *qemu.TOOLS,
    *disks.TOOLS,
    *lxc.TOOLS,
    *storage.TOOLS,
    *storage_admin.TOOLS,
    *backup.TOOLS,
    *ha.TOOLS,
    *replication.TOOLS,
    *tasks.TOOLS,
    *network.TOOLS,
    *firewall.TOOLS,
    *firewall_extra.TOOLS,
    *sdn.TOOLS,
    *pools.TOOLS,
    *access.TOOLS,
    *templates.TOOLS,
    *cloudinit.TOOLS,
    *monitoring.TOOLS,
    *agent.TOOLS,
    *node_admin.TOOLS,
    *ceph.TOOLS,
    *remote.TOOLS,
    *raw.TOOLS,
    *health.TOOLS,
    *guest_answers.TOOLS,
    *firewall_view.TOOLS,
)

CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(spec.category for spec in ALL_TOOLS))
# Every name a tool answers to, aliases included, exposed or not.
BY_NAME: dict[str, ToolSpec] = {name: spec for spec in ALL_TOOLS for name in (spec.name, *spec.aliases)}

__all__ = ["ALL_TOOLS", "BY_NAME", "CATEGORIES", "Module", "Param", "Tier", "ToolSpec"]
