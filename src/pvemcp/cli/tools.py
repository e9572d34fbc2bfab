"""`pvemcp tools`: what this configuration exposes, as the assistant sees it, or the whole catalog.

In consolidated mode (PVE_TOOL_MODE, the default) the assistant lists about twenty tools whose actions
reach the catalog's operations, so that is what the default view shows; --operations (or catalog mode)
lists the operations themselves, --all the whole catalog with what hides each tool. On a terminal the
table fits its width; into a pipe it is tab-separated, one row per line; --json is the operations' records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pvemcp.catalog import ALL_TOOLS, BY_NAME
from pvemcp.catalog.spec import Raw, Rest, Ssh, ToolSpec
from pvemcp.cli import console
from pvemcp.cli.console import Column
from pvemcp.cli.counts import counted, exposed
from pvemcp.server.inventory import Inventory, Policy, hidden_by
from pvemcp.setup.text import fill, wrap

FLAGS = (("destructive", "D"), ("confirm", "C"), ("idempotent", "I"))
LEGEND = "flags: D destructive, C asks for confirmation, I idempotent (safe to repeat)."
ACTION_LEGEND = "An action marked (D) is destructive; (DC) also asks for confirmation."
OPERATIONS = (
    Column("name"),
    Column("category", drop=2),
    Column("tier", drop=4),
    Column("flags"),
    Column("endpoint", drop=3, shrink=True, least=16),
    Column("aliases", drop=1, shrink=True),
)
HIDDEN_BY = Column("hidden by")
FRONTS = (Column("tool"), Column("for"), Column("actions"))


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


def render_tools(
    policy: Policy,
    *,
    as_json: bool,
    show_all: bool,
    operations: bool = False,
    terminal: bool | None = None,
    width: int | None = None,
) -> str:
    """The listing; `terminal` and `width` default to where stdout goes (a terminal, or a pipe)."""
    if as_json:
        return json.dumps(tool_rows(policy, show_all=show_all), indent=2)
    terminal = console.is_terminal() if terminal is None else terminal
    width = console.width() if width is None else width
    if show_all or operations or policy.mode == "catalog":
        return _operations(policy, show_all=show_all, terminal=terminal, width=width)
    return _fronts(policy, terminal=terminal, width=width)


def _exposed_count(policy: Policy) -> str:
    return counted(*exposed(Inventory(policy)))


def _configuration(policy: Policy) -> str:
    ssh = "on" if policy.ssh else "off"
    return f"tier {policy.tier.label}, module {policy.module.value}, SSH {ssh}, PVE_TOOL_MODE={policy.mode}"


def _operations(policy: Policy, *, show_all: bool, terminal: bool, width: int) -> str:
    rows = tool_rows(policy, show_all=show_all)
    if show_all:
        whole = counted(len(ALL_TOOLS), sum(len(spec.aliases) for spec in ALL_TOOLS))
        title = [
            f"The whole catalog: {whole}.",
            f"This configuration exposes {_exposed_count(policy)} ({_configuration(policy)});"
            " 'hidden by' names the setting that hides each of the others.",
        ]
    else:
        title = [f"{_exposed_count(policy)} exposed by this configuration ({_configuration(policy)})."]
        if policy.mode == "consolidated":
            title.append("The assistant reaches them through the consolidated tools' actions (`pvemcp tools`).")
    columns = [*OPERATIONS, HIDDEN_BY] if show_all else list(OPERATIONS)
    cells = [_operation_cells(row, show_all=show_all) for row in rows]
    return _render(title, LEGEND, columns, cells, terminal=terminal, width=width)


def _operation_cells(row: dict[str, Any], *, show_all: bool) -> list[str]:
    flags = "".join(letter for key, letter in FLAGS if row[key])
    cells = [row["name"], row["category"], row["tier"], flags, _endpoint(row["target"]), ", ".join(row["aliases"])]
    return [*cells, row.get("hidden_by", "")] if show_all else cells


def _endpoint(target: dict[str, Any]) -> str:
    kind = target["kind"]
    if kind == "rest":
        return f"{target['method']} {target['path']}"
    if kind == "raw":
        return f"{'/'.join(target['methods'])} (any path)"
    if kind == "ssh":
        return "ssh (writes)" if target["writes"] else "ssh"
    return "(pvemcp itself)"


def _fronts(policy: Policy, *, terminal: bool, width: int) -> str:
    from pvemcp.server.fronts import Fronts

    fronts = Fronts(Inventory(policy))
    standalone = [tool.name for tool in fronts.tools if tool.name not in fronts]
    title = [
        f"{len(fronts.tools)} tools listed to the assistant ({_configuration(policy)}).",
        f"Their actions reach the {_exposed_count(policy)} this configuration exposes, each also callable by"
        " its own name: `pvemcp tools --operations` lists them.",
    ]
    rows: list[list[str]] = []
    for offered in fronts.offered.values():
        actions = [name + _action_flags(variants.values()) for name, variants in offered.actions.items()]
        rows.append([offered.front.name, offered.front.title, ", ".join(actions)])
    rows += [[name, BY_NAME[name].title, ""] for name in standalone]
    if not terminal:
        return _render(title, ACTION_LEGEND, list(FRONTS), rows, terminal=False, width=width)
    lines = [wrap(line, width) for line in [*title, ACTION_LEGEND]] + [""]
    name_width = max(len(row[0]) for row in rows) + 2
    for name, purpose, listed in rows:
        lines += fill(purpose, width, first=name.ljust(name_width), rest=" " * name_width)
        if listed:
            lines += fill(listed, width, first=" " * 4, rest=" " * 4)
    return "\n".join(lines)


def _action_flags(specs: Iterable[ToolSpec]) -> str:
    """(D) or (DC) when any operation behind the action is destructive or confirmed."""
    specs = list(specs)
    flags = ("D" if any(s.destructive for s in specs) else "") + ("C" if any(s.confirm for s in specs) else "")
    return f"({flags})" if flags else ""


def _render(
    title: list[str], legend: str, columns: list[Column], rows: list[list[str]], *, terminal: bool, width: int
) -> str:
    """On a terminal: the title and legend filled to the width, then the table fitted to it. Into a pipe:
    the same lines as # comments, then the rows tab-separated."""
    if not terminal:
        return "\n".join([*(f"# {line}" for line in [*title, legend]), *console.tsv(columns, rows)])
    head = [wrap(line, width) for line in [*title, legend]]
    return "\n".join([*head, "", *console.table(columns, rows, width)])


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
