"""The tool catalog: every tool as a record, in a fixed order that the listing keeps."""

from __future__ import annotations

from pvemcp.catalog import cluster, lxc, nodes, qemu, storage, tasks
from pvemcp.catalog.spec import Module, Param, Tier, ToolSpec

ALL_TOOLS: tuple[ToolSpec, ...] = (
    *nodes.TOOLS,
    *cluster.TOOLS,
    *qemu.TOOLS,
    *lxc.TOOLS,
    *storage.TOOLS,
    *tasks.TOOLS,
)

CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(spec.category for spec in ALL_TOOLS))

__all__ = ["ALL_TOOLS", "CATEGORIES", "Module", "Param", "Tier", "ToolSpec"]
