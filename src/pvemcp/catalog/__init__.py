"""The tool catalog: every tool as a record, in a fixed order that the listing keeps."""

from __future__ import annotations

from pvemcp.catalog import (
    access,
    backup,
    cluster,
    firewall,
    lxc,
    monitoring,
    network,
    nodes,
    pools,
    preview,
    qemu,
    remote,
    storage,
    tasks,
    templates,
)
from pvemcp.catalog.spec import Module, Param, Tier, ToolSpec

ALL_TOOLS: tuple[ToolSpec, ...] = (
    *nodes.TOOLS,
    *cluster.TOOLS,
    *preview.TOOLS,
    *qemu.TOOLS,
    *lxc.TOOLS,
    *storage.TOOLS,
    *backup.TOOLS,
    *tasks.TOOLS,
    *network.TOOLS,
    *firewall.TOOLS,
    *pools.TOOLS,
    *access.TOOLS,
    *templates.TOOLS,
    *monitoring.TOOLS,
    *remote.TOOLS,
)

CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(spec.category for spec in ALL_TOOLS))
# Every name a tool answers to, aliases included, exposed or not.
BY_NAME: dict[str, ToolSpec] = {name: spec for spec in ALL_TOOLS for name in (spec.name, *spec.aliases)}

__all__ = ["ALL_TOOLS", "BY_NAME", "CATEGORIES", "Module", "Param", "Tier", "ToolSpec"]
