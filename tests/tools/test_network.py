"""Network tools through the SDK client: filtered lists, and writes that stay pending until applied."""

from __future__ import annotations

import httpx2
import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("pve_list_networks", {}, {"eno1", "eno2", "eno3", "eno4", "bond0", "vmbr0", "vmbr1"}),
        ("pve_list_networks", {"type": "bond"}, {"bond0"}),
        ("pve_list_node_bridges", {}, {"vmbr0", "vmbr1"}),
        ("pve_list_node_bonds", {}, {"bond0"}),
        ("pve_list_node_physical_nics", {}, {"eno1", "eno2", "eno3", "eno4"}),
    ],
)
async def test_interface_lists_keep_what_their_names_promise(
    connect: McpFactory, tool: str, args: dict[str, str], expected: set[str]
) -> None:
    items = (await call(connect, tool, {"node": "pve2", **args}))["items"]
    assert {i["iface"] for i in items} == expected


async def test_an_interface_reads_with_its_address(connect: McpFactory, sim: Simulator) -> None:
    body = await call(connect, "pve_get_network", {"node": "pve2", "iface": "vmbr0"})
    assert body["cidr"] == f"{sim.state.nodes['pve2'].ip}/24" and body["bridge_ports"] == "eno1"
    assert body["method"] == "static" and body["active"] == 1
    missing = await failed(connect, "pve_get_network", {"node": "pve2", "iface": "vmbr7"})
    assert "interface does not exist" in missing["message"]


async def envelope(sim: Simulator, node: str) -> dict[str, object]:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=sim.app),
        base_url="https://pve1.sim:8006",
        headers={"Authorization": sim.authorization},
    ) as client:
        body: dict[str, object] = (await client.get(f"/api2/json/nodes/{node}/network")).json()
        return body


async def test_a_new_bridge_stays_pending_until_applied(connect: McpFactory, sim: Simulator) -> None:
    args = {"node": "pve1", "iface": "vmbr9", "type": "bridge", "bridge_ports": "eno4", "cidr": "198.51.100.9/24"}
    await call(connect, "pve_create_network", {**args, "bridge_vlan_aware": True, "autostart": True, "confirm": True})
    network = sim.state.networks["pve1"]
    assert "vmbr9" not in network.live and "vmbr9" in network.current()
    pending = await call(connect, "pve_get_network", {"node": "pve1", "iface": "vmbr9"})
    assert pending["cidr"] == "198.51.100.9/24" and pending["method"] == "static" and "active" not in pending
    changes = str((await envelope(sim, "pve1"))["changes"])
    assert "+auto vmbr9" in changes and "+\tbridge-ports eno4" in changes
    task = (await call(connect, "pve_apply_network_changes", {"node": "pve1", "confirm": True}))["task"]
    assert task["upid"].startswith("UPID:pve1:") and ":srvreload:networking:" in task["upid"]
    assert task["status"] == "stopped" and task["exitstatus"] == "OK"
    assert network.pending is None and "vmbr9" in network.live
    live = await call(connect, "pve_get_network", {"node": "pve1", "iface": "vmbr9"})
    assert live["active"] == 1 and live["bridge_vlan_aware"] == 1
    assert "changes" not in await envelope(sim, "pve1")


async def test_an_update_sends_the_type_and_keeps_the_address(connect: McpFactory, sim: Simulator) -> None:
    await call(connect, "pve_update_network", {"node": "pve2", "iface": "vmbr0", "comments": "uplink", "confirm": True})
    sent = next(r for r in sim.requests if r.method == "PUT")
    assert sent.params["type"] == "bridge" and sent.params["cidr"] == f"{sim.state.nodes['pve2'].ip}/24"
    vmbr0 = sim.state.networks["pve2"].current()["vmbr0"]
    assert vmbr0["comments"] == "uplink" and vmbr0["method"] == "static" and vmbr0["gateway"]
    await call(connect, "pve_update_network", {"node": "pve2", "iface": "vmbr1", "delete": "comments", "confirm": True})
    vmbr1 = sim.state.networks["pve2"].current()["vmbr1"]
    assert "comments" not in vmbr1 and vmbr1["method"] == "manual"


async def test_a_second_default_gateway_is_refused(connect: McpFactory, sim: Simulator) -> None:
    args = {"node": "pve1", "iface": "vmbr1", "cidr": "203.0.113.5/24", "gateway": "203.0.113.1", "confirm": True}
    body = await failed(connect, "pve_update_network", args)
    assert "Default gateway already exists on interface 'vmbr0'" in body["message"]
    assert sim.state.networks["pve1"].pending is None


async def test_a_deleted_interface_comes_back_when_changes_are_reverted(connect: McpFactory, sim: Simulator) -> None:
    await call(connect, "pve_delete_network", {"node": "pve3", "iface": "vmbr1", "confirm": True})
    listed = (await call(connect, "pve_list_node_bridges", {"node": "pve3"}))["items"]
    assert {i["iface"] for i in listed} == {"vmbr0"}
    assert "vmbr1" in sim.state.networks["pve3"].live
    await call(connect, "pve_revert_network_changes", {"node": "pve3", "confirm": True})
    assert sim.state.networks["pve3"].pending is None
    listed = (await call(connect, "pve_list_node_bridges", {"node": "pve3"}))["items"]
    assert {i["iface"] for i in listed} == {"vmbr0", "vmbr1"}
