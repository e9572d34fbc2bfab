"""`pvemcp tools`: the catalog as a table or JSON, and why a tool is hidden."""

from __future__ import annotations

import io
import json
from typing import Any

from pvemcp.catalog import ALL_TOOLS
from pvemcp.catalog.spec import Raw, Rest, Ssh, ToolSpec
from pvemcp.server.inventory import Policy, hidden_by


def tool_rows(policy: Policy, *, show_all: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for spec in ALL_TOOLS:
        reason = hidden_by(spec, policy)
        if reason is not None and not show_all:
            continue
        row: dict[str, Any] = {
            "name": spec.name,
            "category": spec.category,
            "tier": spec.tier.label,
            "module": spec.module.value,
            "destructive": spec.destructive,
            "confirm": spec.confirm,
            "idempotent": spec.is_idempotent,
            "aliases": list(spec.aliases),
            "target": target_json(spec),
        }
        if spec.deprecated:
            row["deprecated"] = True
        if show_all:
            row["exposed"] = reason is None
            if reason is not None:
                row["hidden_by"] = reason
        rows.append(row)
    return rows


def render_tools(policy: Policy, *, as_json: bool, show_all: bool) -> str:
    rows = tool_rows(policy, show_all=show_all)
    if as_json:
        return json.dumps(rows, indent=2)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} tools (tier {policy.tier.label}, module {policy.module.value})")
    for column in ("name", "category", "tier", "flags", "endpoint", "aliases"):
        table.add_column(column)
    for row in rows:
        flags = "".join(
            letter for key, letter in (("destructive", "D"), ("confirm", "C"), ("idempotent", "I")) if row[key]
        )
        if show_all and not row["exposed"]:
            flags += f" (hidden: {row['hidden_by']})"
        table.add_row(
            row["name"],
            row["category"],
            row["tier"],
            flags,
            endpoint_text(row["target"]),
            ", ".join(row["aliases"]),
        )
    buffer = io.StringIO()
    Console(file=buffer, width=160, color_system=None, markup=False, emoji=False).print(table)
    return buffer.getvalue().rstrip()


def endpoint_text(target: dict[str, Any]) -> str:
    """A row's target in a few words: `GET /nodes`, `raw GET`, `over SSH`, `pvemcp itself`."""
    kind = target.get("kind")
    if kind == "rest":
        return f"{target['method']} {target['path']}"
    if kind == "raw":
        return "raw " + "/".join(target["methods"])
    return "over SSH" if kind == "ssh" else "pvemcp itself"


def target_json(spec: ToolSpec) -> dict[str, Any]:
    """What a tool sends where: a Proxmox endpoint, SSH, the raw API, or nothing (pvemcp answers itself)."""
    target = spec.target
    if isinstance(target, Rest):
        return {"kind": "rest", "method": target.method, "path": target.path}
    if isinstance(target, Raw):
        return {"kind": "raw", "methods": list(target.methods)}
    if isinstance(target, Ssh):
        return {"kind": "ssh", "writes": target.writes}
    return {"kind": "local"}
