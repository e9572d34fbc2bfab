"""What the scope boundary costs per call: time and requests to Proxmox, with no scope, the default protected
tag, and a node and VMID scope.

Every request a call sends is checked (server/guard.py, server/scoped_client.py). The table shows that price
for a read, a catalog write and a raw write, each through the real MCP server on the in-process simulator.
"""

from __future__ import annotations

from typing import Any

import anyio
from mcp import Client

from bench.common import Headline, Report, Stats, Table, inprocess_client, ms, timed
from pvemcp.catalog.spec import Module, Tier
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvemcp.server.scope import Scope
from pvesim import Simulator

CALLS = 300
WARMUP = 30
SCOPES = {
    "none": Scope(protected_tag=None),
    "protected tag (default)": Scope(),
    "nodes + VMIDs + tag": Scope(nodes=frozenset({"pve1", "pve2"}), vmids=((100, 199),)),
}
CALLS_MADE: dict[str, tuple[str, dict[str, Any]]] = {
    "read: pve_get_qemu_status": ("pve_get_qemu_status", {"vmid": 100}),
    "write: pve_qemu_update_config": ("pve_qemu_update_config", {"vmid": 100, "onboot": True, "confirm": True}),
    "raw write: PUT …/config": (
        "pve_api_call",
        {"method": "PUT", "path": "/nodes/pve1/qemu/100/config", "params": {"description": "x"}, "confirm": True},
    ),
}


async def measure(scope: Scope, name: str, args: dict[str, Any]) -> tuple[Stats, float]:
    sim = Simulator()
    client = inprocess_client(sim)
    policy = Policy(tier=Tier.FULL, module=Module.ADVANCED)
    server = build_server(Runtime(client, Inventory(policy), scope=scope, clock=sim.wait_clock()))
    try:
        async with Client(server, mode="legacy", cache=None) as mcp:

            async def once() -> None:
                result = await mcp.call_tool(name, args)
                if result.is_error:
                    raise RuntimeError(f"{name} failed: {result.content}")

            await timed(once, WARMUP)
            before = len(sim.requests)
            samples = await timed(once, CALLS)
            return Stats.of(samples), (len(sim.requests) - before) / CALLS
    finally:
        await client.aclose()


def main() -> Report:
    table = Table(
        f"Median per call over {CALLS} calls (after {WARMUP}), and requests sent to Proxmox per call",
        ["call", *(f"{label} (ms / requests)" for label in SCOPES)],
    )
    headlines: list[Headline] = []
    for label, (name, args) in CALLS_MADE.items():
        cells = []
        for scope_label, scope in SCOPES.items():
            stats, requests = anyio.run(measure, scope, name, args)
            cells.append(f"{ms(stats.median)} / {requests:.1f}")
            if scope_label == "nodes + VMIDs + tag":
                headlines.append(Headline(f"scoped {label}", f"{ms(stats.median)} ms, {requests:.1f} requests"))
        table.rows.append([label, *cells])
    table.notes.append(
        "A write reads the cluster once, fresh (GET /cluster/resources), to find the guest it acts on; the"
        " scope's checks, on the call and on each request its handler sends, reuse that read and add none."
    )
    return Report("Scope boundary", tables=[table], headlines=headlines)
