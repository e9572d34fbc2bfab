"""The SSH tools' test rig: the simulator served over HTTPS, a real sshd whose `pct` stand-in asks it about
containers, and the MCP server with an SshChannel to that sshd.

The stand-ins (tests/sshd_bin) record every `pct` argv in `Rig.record`, so a test sees exactly what ran.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import Client

from pvemcp.catalog.spec import Module, Tier
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvemcp.ssh.client import SshChannel
from pvesim import Simulator
from pvesim.serve import serving
from tests.conftest import payload
from tests.sshd import Sshd, make_sshd

SSH_FULL = Policy(tier=Tier.FULL, module=Module.ADVANCED, ssh=True)
# pve1 and pve3 are the entry host itself; pve2 is reached directly under another name.
NODE_HOSTS = {"pve1": "127.0.0.1", "pve2": "localhost", "pve3": "127.0.0.1"}
DOCKER_TAG, NORUN_TAG = "docker", "norun"


def add_tag(sim: Simulator, vmid: int, tag: str) -> None:
    config = sim.state.guests[vmid].config
    config["tags"] = ";".join(t for t in (str(config.get("tags") or ""), tag) if t)


def running_containers(sim: Simulator) -> list[int]:
    return sorted(g.vmid for g in sim.state.guests.values() if g.type == "lxc" and g.status == "running")


@dataclass
class Rig:
    client: Client
    runtime: Runtime
    sshd: Sshd
    channel: SshChannel
    record: Path

    def calls(self) -> list[list[str]]:
        """Every argv the `pct` stand-in received, oldest first."""
        lines = self.record.read_text().splitlines()
        return [list(json.loads(line)["argv"]) for line in lines]

    async def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await self.client.call_tool(name, args)
        assert not result.is_error, result.structured_content
        return payload(result)

    async def error(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await self.client.call_tool(name, args)
        assert result.is_error, result.structured_content
        return payload(result)


@asynccontextmanager
async def rig(
    sim: Simulator, pve: ProxmoxClient, directory: Path, era: str = "legacy", policy: Policy = SSH_FULL
) -> AsyncIterator[Rig]:
    async with serving(sim) as (url, cert):
        record = directory / "pct-calls.jsonl"
        record.touch()
        env = {
            "PVEMCP_STANDIN_API": url,
            "PVEMCP_STANDIN_TOKEN": f"PVEAPIToken={sim.token_id}={sim.token_secret}",
            "PVEMCP_STANDIN_FINGERPRINT": cert.fingerprint,
            "PVEMCP_STANDIN_RECORD": str(record),
        }
        server = make_sshd(directory / "sshd", env)
        try:
            with server.known_hosts.open("a") as known:
                known.write(server.known_hosts_line("localhost") + "\n")
            channel = SshChannel(server.settings(node_hosts=NODE_HOSTS), pve)
            runtime = Runtime(pve, Inventory(policy), clock=sim.wait_clock(), ssh=channel)
            try:
                async with Client(build_server(runtime), mode=era) as client:
                    yield Rig(client, runtime, server, channel, record)
            finally:
                await channel.close()
        finally:
            server.stop()
