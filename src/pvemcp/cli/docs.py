"""docs/TOOLS.md from the catalog (`pvemcp tools --markdown`), and the settings and listing-size tables of the
docs pages from the settings table and the live listing (`python -m pvemcp.cli.docs README.md docs/*.md`);
tests keep all of them current."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from pathlib import Path

from pvemcp.catalog import ALL_TOOLS, CATEGORIES
from pvemcp.catalog.fronts import APP_ONLY, CANONICAL, FRONTS, STANDALONE
from pvemcp.catalog.spec import Module, Tier, ToolSpec
from pvemcp.config.table import SECTIONS, SETTINGS, Section, Setting
from pvemcp.server.inventory import Inventory, Policy

GENERAL_DIFFERENCES = (
    "The default access tier is read-only (nandi: full); the tier is a ceiling that no whitelist raises.",
    "Unknown tiers, module modes, categories and tool names stop start-up with the closest valid name"
    " (nandi ignores them silently or crashes).",
    "Whitelisting or blacklisting an alias acts on its tool too; PVE_ALIASES=listed|hidden|off.",
    "Every tool and parameter is described for the model; `node` is optional wherever a vmid names the guest.",
    "Results are structured content plus compact JSON; failures set isError with {code, message, hint} and keep"
    " Proxmox's own words; reads are retried only on transient failures, writes never.",
    "Big lists page (fields, limit, cursor) and every result fits PVE_RESULT_MAX_BYTES, saying when it was cut.",
    "Tools that start a task wait for it (wait_seconds, with progress notifications) and return"
    " task {upid, node, type, status, exitstatus, duration_s}; a failed task is TASK_FAILED with its log tail"
    " (nandi returns the bare UPID).",
    "Destructive tools can be confirmed by the person through MCP elicitation (PVE_CONFIRM_MODE), bound to the"
    " exact guest; nandi trusts confirm=true from the model.",
    "Scoping (PVE_ALLOWED_NODES, PVE_ALLOWED_VMIDS, PVE_PROTECTED_TAG), pve_preview and a hash-chained audit"
    " log of every change attempt have no counterpart in nandi.",
)


def _flags(spec: ToolSpec) -> str:
    return "".join(
        letter for on, letter in ((spec.destructive, "D"), (spec.confirm, "C"), (spec.is_idempotent, "I")) if on
    )


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _endpoint(spec: ToolSpec) -> str:
    if spec.ssh:
        return "over SSH (`pct exec` in the container, or commands on the node)"
    if not spec.api:
        return "answered by pvemcp (reads only)"
    return f"`{spec.method} {spec.path}`" + (f" (via {spec.handler})" if spec.handler else "")


def _place(spec: ToolSpec) -> str:
    """Where an operation sits on the consolidated surface: `front` action, and the selector that picks it."""
    if spec.name in STANDALONE:
        return f"`{spec.name}` (as it is)"
    if spec.name in APP_ONLY:
        return "for the cluster app only"
    front, action, picks = CANONICAL[spec.name]
    chosen = "".join(f", {key} {value}" if key == "timeframe" else f" ({value})" for key, value in picks.items())
    return f"`{front}` {action}{chosen}"


def _consolidated() -> list[str]:
    lines = [
        "## Consolidated surface (PVE_TOOL_MODE=consolidated, the default)",
        "",
        "Each tool takes an `action`; guest actions pick the VM or container operation from the vmid (`type` when"
        " creating), metrics from `timeframe`. An action is listed only when the policy exposes its operation;"
        " every operation below is also callable by its own name in both modes.",
        "",
        _row(["tool", "actions → operations"]),
        _row(["---", "---"]),
    ]
    for front in FRONTS:
        cells = []
        for action in front.actions:
            ops = " / ".join(f"`{op}`" for op in dict.fromkeys(action.ops.values()))
            cells.append(f"{action.name} → {ops}")
        lines.append(_row([f"`{front.name}`<br>{front.title}", "<br>".join(cells)]))
    lines.append(_row([" / ".join(f"`{name}`" for name in STANDALONE), "listed as it is"]))
    return [*lines, ""]


def render_markdown() -> str:
    lines = [
        "# pvemcp tools",
        "",
        "Generated from the catalog by `pvemcp tools --markdown`; do not edit by hand.",
        "Flags: D destructive, C needs confirm=true, I idempotent. Tiers: RO read-only, RX read-execute, F full.",
        "",
        *_consolidated(),
        "## Counts",
        "",
        _row(["category", "tools", "core / advanced", "RO / RX / F", "confirm", "aliases"]),
        _row(["---", "---:", "---", "---", "---:", "---:"]),
    ]
    tier_short = {Tier.READ_ONLY: "RO", Tier.READ_EXECUTE: "RX", Tier.FULL: "F"}
    for category in [*CATEGORIES, None]:
        specs = [s for s in ALL_TOOLS if category is None or s.category == category]
        modules = Counter(s.module for s in specs)
        tiers = Counter(s.tier for s in specs)
        lines.append(
            _row(
                [
                    "**total**" if category is None else category,
                    str(len(specs)),
                    f"{modules[Module.CORE]} / {modules[Module.ADVANCED]}",
                    " / ".join(str(tiers[t]) for t in Tier),
                    str(sum(s.confirm for s in specs)),
                    str(sum(len(s.aliases) for s in specs)),
                ]
            )
        )
    lines += [
        "",
        "Tools exposed by each policy (canonical tools + aliases, PVE_ALIASES=listed, no other filters):",
        "",
        _row(["PVE_ACCESS_TIER", "core", "advanced"]),
        _row(["---", "---:", "---:"]),
    ]
    for tier in Tier:
        cells = [tier.label + (" (default)" if tier is Tier.READ_ONLY else "")]
        for module in Module:
            inventory = Inventory(Policy(tier=tier, module=module))
            aliases = sum(1 for e in inventory.by_name.values() if e.alias_of)
            cells.append(f"{len(inventory) - aliases} + {aliases}")
        lines.append(_row(cells))
    for category in CATEGORIES:
        header = ["tool", "tier", "module", "flags", "endpoint", "consolidated", "description"]
        lines += ["", f"## {category}", "", _row(header)]
        lines.append(_row(["---"] * len(header)))
        for spec in (s for s in ALL_TOOLS if s.category == category):
            name = f"`{spec.name}`" + "".join(f"<br>alias `{a}`" for a in spec.aliases)
            lines.append(
                _row(
                    [
                        name,
                        tier_short[spec.tier],
                        spec.module.value,
                        _flags(spec),
                        _endpoint(spec),
                        _place(spec),
                        spec.description.replace("|", "\\|"),
                    ]
                )
            )
    lines += ["", "## Differences from nandi-proxmox-mcp", "", "In general:", ""]
    lines += [f"- {text}" for text in GENERAL_DIFFERENCES]
    lines += ["", "Tool by tool:", ""]
    lines += [f"- `{s.name}`: {s.differs}" for s in ALL_TOOLS if s.differs]
    return "\n".join(lines) + "\n"


def render_errors_markdown() -> str:
    """docs/errors.md: every code, when it happens and its hint, grouped by where the failure arose."""
    from pvemcp.pve.error_table import SOURCES, error_rows

    lines = [
        "# pvemcp error codes",
        "",
        "Generated from pvemcp.pve.error_table by `pvemcp tools --errors`; do not edit by hand.",
        "",
        "A failed tool call is a result with `isError: true` whose structured content is",
        "`{code, message, hint, status?, details?}`: `code` is stable, `message` keeps Proxmox's own words and",
        "`hint` says what to do next (below, the general hint; an error's own can be more precise).",
        "No result carries a stack trace, and no result or log line carries a secret: an unexpected failure",
        "is `INTERNAL_ERROR` in the result, with the trace in the server log only.",
    ]
    for title, codes in SOURCES:
        lines += ["", f"## {title}", "", _row(["code", "when", "hint"]), _row(["---"] * 3)]
        lines += [_row([f"`{r.code}`", _cell(r.when), _cell(r.hint)]) for r in error_rows(codes)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# -- the docs pages' settings tables, generated from pvemcp.config.table (`make docs`) --------------------

SETTINGS_BLOCK = re.compile(r"(<!-- settings:(?P<section>[a-z]+) -->\n)(?P<body>.*?)(<!-- /settings -->)", re.DOTALL)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _shown(setting: Setting) -> str:
    shown = setting.shown_default()
    if setting.kind in ("integer", "number") and setting.low is not None and setting.high is not None:
        shown += f" ({_number(setting.low)}–{_number(setting.high)})"
    return shown


def render_settings(section: Section) -> str:
    """One settings table: a row per setting, or per group of settings that share a meaning."""
    rows: list[list[Setting]] = []
    for setting in (s for s in SETTINGS if s.section == section):
        if setting.shares_row and rows:
            rows[-1].append(setting)
        else:
            rows.append([setting])
    lines = [_row(["Variable", "Default", "Meaning"]), "|---|---|---|"]
    for group in rows:
        defaults = [_shown(s) for s in group]
        lines.append(
            _row(
                [
                    ", ".join(f"`{s.name}`" for s in group),
                    "—" if set(defaults) == {"—"} else ", ".join(defaults),
                    _cell(group[0].doc),
                ]
            )
        )
    if section == "connection":
        seconds = ", ".join(f"`{s.name}`" for s in SETTINGS if s.kind == "number")
        note = (
            "Every setting is read the same way from the environment and from the configuration file. Whole"
            " numbers (ports, sizes, counts, milliseconds) are digits only: `22.5` or `3000.0` is refused; the"
            f" seconds of {seconds} may have decimals. A number must lie in the range shown in brackets."
            " Booleans are `true`/`false`, `yes`/`no`, `on`/`off` or `1`/`0`, in any case. An empty value"
            " means the default (but an empty `PVE_PROTECTED_TAG` means that no tag protects)."
        )
        lines += ["", *textwrap.wrap(note, width=110, break_on_hyphens=False)]
    return "\n".join(lines) + "\n"


LISTING_BLOCK = re.compile(r"(<!-- listing -->\n)(?P<body>.*?)(<!-- /listing -->)", re.DOTALL)


def render_listing_sizes() -> str:
    """tools/list per mode and tier: tools, bytes of compact JSON and tokens estimated as bytes / 4."""
    import json

    from pvemcp.server.fronts import Fronts
    from pvemcp.server.listing import build_listing

    lines = [_row(["PVE_ACCESS_TIER, module", "consolidated", "catalog"]), "|---|---:|---:|"]
    for tier, module in ((Tier.READ_ONLY, Module.CORE), (Tier.READ_EXECUTE, Module.CORE), (Tier.FULL, Module.ADVANCED)):
        cells = [f"{tier.label}, {module.value}" + (" (default)" if tier is Tier.READ_ONLY else "")]
        for mode in ("consolidated", "catalog"):
            inventory = Inventory(Policy(tier=tier, module=module, ssh=tier is Tier.FULL, mode=mode))
            tools = Fronts(inventory).tools if mode == "consolidated" else build_listing(inventory)
            dumped = [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in tools]
            size = len(json.dumps(dumped, separators=(",", ":"), ensure_ascii=False).encode())
            cells.append(f"{len(tools)} tools, {size:,} B (~{size / 4 / 1000:.1f}k tokens)")
        lines.append(_row(cells))
    return "\n".join(lines) + "\n"


def update_generated(text: str) -> str:
    """A page with every `<!-- settings:SECTION -->` … `<!-- /settings -->` block generated anew, and the
    listing sizes (`<!-- listing -->`); a page without markers comes back unchanged."""
    text = LISTING_BLOCK.sub(lambda m: m.group(1) + render_listing_sizes() + m.group(3), text)

    def block(match: re.Match[str]) -> str:
        sections: dict[str, Section] = {name: name for name in SECTIONS}
        section = sections.get(match.group("section"))
        if section is None:
            raise ValueError(f"a page names an unknown settings section {match.group('section')!r}")
        return match.group(1) + render_settings(section) + match.group(4)

    return SETTINGS_BLOCK.sub(block, text)


def pages(root: Path) -> list[Path]:
    """The pages that may hold generated blocks: the README and every page under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


if __name__ == "__main__":  # `make docs`: python -m pvemcp.cli.docs README.md docs/*.md
    import sys

    for page in [Path(arg) for arg in sys.argv[1:]] or pages(Path.cwd()):
        text = page.read_text("utf-8")
        if (updated := update_generated(text)) != text:
            page.write_text(updated, "utf-8")
