"""What the MCP layer costs per call: pve_list_nodes through the server vs the same GET made directly.

Both paths use the same in-process simulator and the same ProxmoxClient, so the difference of the
medians is what the server adds: SDK framing, validation, node resolution, shaping and the SDK
client's own share (in-memory transport in legacy mode, direct dispatch in the modern era).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr

import anyio
from mcp import Client

from bench.common import ERAS, Headline, Report, Stats, Table, inprocess_client, ms, server_for, timed
from pvemcp.logs import configure_logging
from pvemcp.pve.client import ProxmoxClient
from pvesim import Simulator

CALLS = 500
WARMUP = 50
AIM_MS = 0.5


async def direct(client: ProxmoxClient) -> Stats:
    async def once() -> None:
        await client.get("/nodes")

    await timed(once, WARMUP)
    return Stats.of(await timed(once, CALLS))


@contextmanager
def logging_like_run(secret: str) -> Iterator[None]:
    """Log as `pvemcp run` does (info level, one redacted line per call), into /dev/null."""
    root, ours = logging.getLogger(), logging.getLogger("pvemcp")
    saved = (root.handlers[:], root.level, ours.level)
    with open(os.devnull, "w") as sink, redirect_stderr(sink):
        configure_logging(logging.INFO, [secret])
        try:
            yield
        finally:
            root.handlers[:], root.level = saved[0], saved[1]
            ours.setLevel(saved[2])


async def through_server(client: ProxmoxClient, era: str) -> Stats:
    async with Client(server_for(client), mode=era, cache=None) as mcp:
        first = await mcp.call_tool("pve_list_nodes", {})
        if first.is_error:
            raise RuntimeError(f"pve_list_nodes failed through the server: {first.content}")

        async def once() -> None:
            await mcp.call_tool("pve_list_nodes", {})

        await timed(once, WARMUP)
        return Stats.of(await timed(once, CALLS))


async def measure() -> Report:
    sim = Simulator()
    client = inprocess_client(sim)
    try:
        baseline = await direct(client)
        rows = {f"MCP {era}": await through_server(client, era) for era in ERAS}
        with logging_like_run(sim.token_secret):
            rows[f"MCP {ERAS[0]}, logging as `pvemcp run`"] = await through_server(client, ERAS[0])
        # A second direct run after the server runs shows how much the machine drifted meanwhile.
        again = await direct(client)
    finally:
        await client.aclose()
    report = Report("Per-call overhead of the MCP server")
    table = Table(
        f"pve_list_nodes, {CALLS} sequential calls after {WARMUP} warm-up, in-process simulator",
        ["path", "median ms", "p95 ms", "min ms", "overhead vs direct (median) ms"],
        notes=[
            "direct: ProxmoxClient.get('/nodes'); the server rows add the whole MCP round trip on top.",
            f"aim: overhead ≤ {AIM_MS} ms median. Rows without logging leave it unconfigured, as a library would;"
            " `pvemcp run` writes one redacted info line per call (sent to /dev/null here).",
        ],
    )
    ref = statistics_reference(baseline, again)
    table.rows.append(["direct GET /nodes", ms(baseline.median), ms(baseline.p95), ms(baseline.minimum), "-"])
    for label, stats in rows.items():
        overhead = stats.median - ref
        table.rows.append([label, ms(stats.median), ms(stats.p95), ms(stats.minimum), ms(overhead)])
        met = overhead * 1000 <= AIM_MS
        report.headlines.append(
            Headline(f"overhead per call, {label} (median)", f"{ms(overhead)} ms", f"≤ {AIM_MS} ms", met)
        )
    table.rows.append(["direct GET /nodes (again)", ms(again.median), ms(again.p95), ms(again.minimum), "-"])
    report.tables.append(table)
    return report


def statistics_reference(before: Stats, after: Stats) -> float:
    """The direct median to subtract: the mean of the runs before and after the server runs."""
    return (before.median + after.median) / 2


def main() -> Report:
    return anyio.run(measure)


if __name__ == "__main__":
    print(main().render())
