"""The 5,000-guest inventory: pages of pve_list_cluster_resources on a 50-node cluster.

Reports upstream requests per page (aim: one) and the server's own time per page (aim: ≤ 100 ms), the
latter measured as the page's wall time minus the same upstream request made directly.
"""

from __future__ import annotations

import time
from statistics import median
from typing import Any

import anyio
from mcp import Client

from bench.common import Headline, Report, Table, inprocess_client
from pvemcp.catalog.spec import Module, Tier
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvesim import Simulator

BUDGET = 40_000


async def measure() -> Report:
    sim = Simulator(nodes=50, guests=5000)
    client = inprocess_client(sim)
    policy = Policy(tier=Tier.FULL, module=Module.ADVANCED)
    server = build_server(Runtime(client, Inventory(policy), max_result_bytes=BUDGET))
    page_ms: list[float] = []
    direct_ms: list[float] = []
    sizes: list[int] = []
    seen = 0
    before = len(sim.requests)
    async with Client(server, mode="2026-07-28") as mcp:
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"type": "vm"} | ({"cursor": cursor} if cursor else {})
            started = time.perf_counter()
            result = await mcp.call_tool("pve_list_cluster_resources", args)
            page_ms.append((time.perf_counter() - started) * 1000)
            body = result.structured_content or {}
            sizes.append(len(result.content[0].text.encode()) if result.content else 0)  # type: ignore[union-attr]
            seen += int(body.get("count", 0))
            started = time.perf_counter()
            await client.get("/cluster/resources", {"type": "vm"})
            direct_ms.append((time.perf_counter() - started) * 1000)
            cursor = body.get("next_cursor")
            if not cursor:
                break
    upstream = sum(1 for r in sim.requests[before:] if r.path == "/cluster/resources")
    await client.aclose()
    pages = len(page_ms)
    per_page = upstream / 2 / pages  # every page made one request through the server and one directly
    server_ms = median([p - d for p, d in zip(page_ms, direct_ms, strict=True)])
    table = Table(
        "pve_list_cluster_resources type=vm, 50 nodes × 5,000 guests, budget 40,000 bytes",
        [
            "pages",
            "guests returned",
            "upstream requests per page",
            "median page ms",
            "median server ms",
            "largest page bytes",
        ],
        [[str(pages), f"{seen:,}", f"{per_page:g}", f"{median(page_ms):.1f}", f"{server_ms:.1f}", f"{max(sizes):,}"]],
        notes=["server ms: page wall time minus the same /cluster/resources request made directly with our client."],
    )
    return Report(
        "5,000-guest inventory",
        [table],
        [
            Headline("upstream requests per page", f"{per_page:g}", "1", per_page == 1),
            Headline("server time per page (median)", f"{server_ms:.1f} ms", "≤ 100 ms", server_ms <= 100),
            Headline("every guest returned once", f"{seen:,} of 5,000", "5,000", seen == 5000),
        ],
    )


def main() -> Report:
    return anyio.run(measure)


if __name__ == "__main__":
    print(main().render())
