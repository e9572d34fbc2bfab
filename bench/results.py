"""What a result costs the assistant: bytes of the text content and of structuredContent, concise and detailed.

Typical answers on the consolidated surface, each made twice on the same simulated cluster: concise (the
default) and detailed (Proxmox's own fields). The text carries the same compact JSON as structuredContent,
because many clients give the model only the text; the table shows both so the duplication is visible.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import anyio
from mcp import Client

from bench.common import Headline, Report, Table, inprocess_client
from pvemcp.catalog.spec import Module, Tier
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvesim import Simulator

CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("pve_inventory", {"action": "resources", "type": "vm"}),
    ("pve_inventory", {"action": "nodes"}),
    ("pve_guest", {"action": "status", "vmid": 100}),
    ("pve_guest", {"action": "config", "vmid": 100}),
    ("pve_guest", {"action": "metrics", "vmid": 102, "timeframe": "week"}),
    ("pve_guest", {"action": "snapshots", "vmid": 100}),
    ("pve_task", {"action": "recent"}),
    ("pve_backup", {"action": "backups", "node": "pve1", "storage": "nfs-backup", "vmid": 100}),
    ("pve_health", {}),
    ("pve_storage", {"action": "capacity"}),
)


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def answer(mcp: Client, name: str, args: dict[str, Any]) -> tuple[int, int, bool]:
    result = await mcp.call_tool(name, args)
    text = sum(len(c.text.encode()) for c in result.content if c.type == "text")
    return text, size(result.structured_content), bool(result.is_error)


async def measure() -> Report:
    sim = Simulator()
    client = inprocess_client(sim)
    policy = replace(Policy(tier=Tier.FULL, module=Module.ADVANCED), mode="consolidated")
    server = build_server(Runtime(client, Inventory(policy), clock=sim.wait_clock()))
    table = Table(
        "Result bytes per call, consolidated surface",
        ["call", "concise text", "concise structured", "detailed text", "concise / detailed"],
        notes=[
            "text: the TextContent's bytes; structured: compact JSON of structuredContent (the text holds the same).",
            "detailed is what the catalog operation answers by its own name.",
        ],
    )
    totals = [0, 0]
    async with Client(server, mode="2026-07-28") as mcp:
        for name, args in CALLS:
            concise_text, concise_structured, failed = await answer(mcp, name, args)
            detailed_text, _, _ = await answer(mcp, name, {**args, "response_format": "detailed"})
            label = f"{name} " + " ".join(f"{k}={v}" for k, v in args.items()) + (" (error)" if failed else "")
            ratio = concise_text / max(detailed_text, 1)
            table.rows.append(
                [label, f"{concise_text:,}", f"{concise_structured:,}", f"{detailed_text:,}", f"{ratio:.2f}"]
            )
            totals[0] += concise_text
            totals[1] += detailed_text
    await client.aclose()
    report = Report("Result size", tables=[table])
    report.headlines.append(
        Headline("results: concise / detailed bytes, all calls", f"{totals[0] / max(totals[1], 1):.2f}")
    )
    return report


def main() -> Report:
    return anyio.run(measure)


if __name__ == "__main__":
    print(main().render())
