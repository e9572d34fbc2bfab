"""The tools/list answer, built once from the exposed inventory."""

from __future__ import annotations

import mcp_types as types

from pvemcp.catalog.spec import ToolSpec
from pvemcp.server.inventory import Inventory


def tool_definition(spec: ToolSpec, *, alias: str | None = None) -> types.Tool:
    description = spec.description
    meta = None
    if alias is not None:
        description = f"Deprecated alias of {spec.name}: same arguments and result. Prefer {spec.name}."
        meta = {"aliasFor": spec.name, "deprecated": True}
    return types.Tool(
        name=alias or spec.name,
        title=spec.title,
        description=description,
        input_schema=spec.input_schema(),
        annotations=types.ToolAnnotations(
            read_only_hint=spec.read_only,
            destructive_hint=spec.destructive,
            idempotent_hint=spec.is_idempotent,
            open_world_hint=False,
        ),
        _meta=meta,
    )


def build_listing(inventory: Inventory) -> list[types.Tool]:
    return [tool_definition(e.spec, alias=name if e.alias_of else None) for name, e in inventory.listed()]
