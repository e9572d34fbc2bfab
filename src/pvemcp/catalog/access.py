"""Access tools."""

from pvemcp.catalog.spec import ToolSpec

TOOLS: tuple[ToolSpec, ...] = ()
