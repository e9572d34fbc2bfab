"""tools/list size per configuration: every byte of it sits in the model's context on every turn.

The size is that of the compact JSON `tools` array as the SDK client receives it over the real
server; tokens are estimated as bytes / 4, the usual rule of thumb for English and JSON.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import anyio
from mcp import Client

from bench.common import Headline, Report, Table, inprocess_client, server_for
from pvemcp.catalog.spec import Module, Tier
from pvemcp.server.inventory import Inventory, Policy, ToolMode
from pvesim import Simulator

MODES: tuple[ToolMode, ...] = ("consolidated", "catalog")
CONFIGS: tuple[tuple[str, Policy], ...] = tuple(
    (f"{mode}: {label}", Policy(tier=tier, module=module, ssh=ssh, mode=mode))
    for mode in MODES
    for label, tier, module, ssh in (
        ("default (read-only, core)", Tier.READ_ONLY, Module.CORE, False),
        ("read-execute, core", Tier.READ_EXECUTE, Module.CORE, False),
        ("full + advanced, SSH on", Tier.FULL, Module.ADVANCED, True),
    )
)
DEFAULT = Policy(mode="consolidated")


def compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def listed_tools(policy: Policy) -> list[dict[str, Any]]:
    """The `tools` array of a tools/list answer, as plain JSON data."""
    sim = Simulator()
    client = inprocess_client(sim)
    try:
        async with Client(server_for(client, policy), mode="legacy", cache=None) as mcp:
            result = await mcp.list_tools()
    finally:
        await client.aclose()
    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    tools: list[dict[str, Any]] = dumped["tools"]
    return tools


def aliases(policy: Policy) -> int:
    """Aliases listed as tools of their own: in consolidated mode they stay callable but are not listed."""
    if policy.mode == "consolidated":
        return 0
    return sum(exposed.alias_of is not None for exposed in Inventory(policy).by_name.values())


def parts(tool: dict[str, Any]) -> tuple[int, int, int]:
    """Bytes of (description, input schema, output schema) of one tool."""
    return (
        compact(tool.get("description", "")),
        compact(tool.get("inputSchema", {})),
        compact(tool["outputSchema"]) if "outputSchema" in tool else 0,
    )


# The protocol's defaults for the four hints; a hint equal to its default could be left out.
HINT_DEFAULTS = {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False, "openWorldHint": True}


def structural_floor(tools: list[dict[str, Any]], *, bare: bool) -> int:
    """Bytes of the listing with every description emptied: what no rewording can remove.

    bare also drops titles and the hints that equal the protocol's defaults (or that the protocol calls
    meaningless for read-only tools), which is as far as the listing could shrink without losing
    parameters or schema strictness.
    """
    stripped = copy.deepcopy(tools)
    for tool in stripped:
        tool["description"] = ""
        for prop in tool["inputSchema"].get("properties", {}).values():
            prop["description"] = ""
        if bare:
            tool.pop("title", None)
            hints = tool.get("annotations", {})
            read_only = hints.get("readOnlyHint") is True
            for hint, default in HINT_DEFAULTS.items():
                meaningless = read_only and hint in ("destructiveHint", "idempotentHint")
                if hints.get(hint) == default or meaningless:
                    hints.pop(hint, None)
    return compact(stripped)


async def measure() -> Report:
    report = Report("tools/list size")
    sizes = Table(
        "tools/list payload per configuration",
        ["configuration", "tools", "of which aliases", "bytes", "~tokens", "bytes/tool", "largest tool (bytes)"],
        notes=[
            "bytes: compact JSON of the `tools` array; ~tokens = bytes / 4.",
            "an alias is listed as a tool of its own, with a full copy of its tool's schema.",
        ],
    )
    share = Table(
        "Where the bytes go",
        ["configuration", "descriptions", "input schemas", "output schemas", "everything else"],
        notes=["share of the configuration's bytes; everything else: names, titles, annotations, keys, punctuation."],
    )
    floor = Table(
        "Structural floor: the listing with every description emptied",
        ["configuration", "bytes", "bytes/tool", "also without titles and default hints", "bytes/tool"],
        notes=[
            "names, parameter names, types and limits, required lists, additionalProperties, hints and titles.",
            "one tool per operation cannot go below it; the consolidated surface has fewer, larger tools.",
        ],
    )
    largest: list[tuple[int, str]] = []
    for label, policy in CONFIGS:
        tools = await listed_tools(policy)
        total = compact(tools)
        per_tool = [(compact(tool), tool["name"]) for tool in tools]
        biggest = max(per_tool, default=(0, "-"))
        tokens = total / 4
        sizes.rows.append(
            [
                label,
                str(len(tools)),
                str(aliases(policy)),
                f"{total:,}",
                f"{tokens:,.0f}",
                f"{total / max(len(tools), 1):,.0f}",
                f"{biggest[0]:,}",
            ]
        )
        desc, inp, out = (sum(column) for column in zip(*(parts(tool) for tool in tools), strict=True))
        rest = total - desc - inp - out

        def pct(n: int, total: int = total) -> str:
            return f"{100 * n / max(total, 1):.0f}%"

        share.rows.append([label, pct(desc), pct(inp), pct(out), pct(rest)])
        count = max(len(tools), 1)
        kept, bare = structural_floor(tools, bare=False), structural_floor(tools, bare=True)
        floor.rows.append([label, f"{kept:,}", f"{kept / count:,.0f}", f"{bare:,}", f"{bare / count:,.0f}"])
        consolidated = policy.mode == "consolidated"
        if policy.tier is Tier.FULL and consolidated:
            largest = sorted(per_tool, reverse=True)[:5]
        report.headlines.append(Headline(f"{label}: tools / ~tokens", f"{len(tools)} / {tokens:,.0f}"))
        if policy.tier is Tier.FULL and consolidated:
            fits = total <= 32_000 and len(tools) <= 25
            report.headlines.append(
                Headline(f"{label}: tools, bytes", f"{len(tools)}, {total:,}", "≤ 25, ≤ 32,000", fits)
            )
        elif policy == DEFAULT:
            report.headlines.append(
                Headline(f"{label}: bytes", f"{total:,}", "≤ 12,000 (nandi 42,861)", total <= 12_000)
            )
    top = Table("Largest tools, consolidated, full + advanced", ["tool", "bytes"])
    top.rows.extend([name, f"{size:,}"] for size, name in largest)
    report.tables.extend([sizes, share, floor, top])
    return report


def main() -> Report:
    return anyio.run(measure)


if __name__ == "__main__":
    print(main().render())
