"""SDN tools through the SDK client: listings, vnets and subnets staying pending until applied, PVE's refusals."""

from __future__ import annotations

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio


async def test_zones_vnets_subnets_and_controllers_are_listed(connect: McpFactory) -> None:
    zones = (await call(connect, "pve_list_sdn_zones"))["items"]
    assert {z["zone"]: z["type"] for z in zones} == {"evpn1": "evpn", "lan": "vlan", "sim": "simple"}
    assert all(len(z["digest"]) == 40 for z in zones)
    vlan = (await call(connect, "pve_list_sdn_zones", {"type": "vlan"}))["items"]
    assert [z["zone"] for z in vlan] == ["lan"] and vlan[0]["bridge"] == "vmbr0"
    vnets = (await call(connect, "pve_list_sdn_vnets"))["items"]
    assert {v["vnet"]: v["zone"] for v in vnets} == {"labnet": "sim", "office": "lan"}
    office = await call(connect, "pve_get_sdn_vnet", {"vnet": "office"})
    assert office["tag"] == 10 and office["type"] == "vnet" and office["alias"] == "Office LAN"
    (subnet,) = (await call(connect, "pve_list_sdn_subnets", {"vnet": "labnet"}))["items"]
    assert subnet["subnet"] == "sim-10.10.0.0-24" and subnet["cidr"] == "10.10.0.0/24" and subnet["zone"] == "sim"
    assert subnet["snat"] == 1 and subnet["dhcp-range"] == [
        {"start-address": "10.10.0.100", "end-address": "10.10.0.200"}
    ]
    (controller,) = (await call(connect, "pve_list_sdn_controllers", {"type": "evpn"}))["items"]
    assert controller["controller"] == "evpnctl" and controller["asn"] == 65000


async def test_a_new_vnet_and_subnet_stay_pending_until_applied(connect: McpFactory, sim: Simulator) -> None:
    sdn = sim.state.sdn
    await call(connect, "pve_create_sdn_vnet", {"vnet": "dmz", "zone": "lan", "tag": 20, "alias": "DMZ hosts"})
    assert sdn.config["vnets"]["dmz"] == {"type": "vnet", "zone": "lan", "tag": 20, "alias": "DMZ hosts"}
    assert "dmz" not in sdn.running["vnets"]
    pending = {v["vnet"]: v for v in (await call(connect, "pve_list_sdn_vnets", {"pending": True}))["items"]}
    assert pending["dmz"]["state"] == "new" and pending["dmz"]["pending"] == {
        "zone": "lan",
        "tag": 20,
        "alias": "DMZ hosts",
    }
    assert "state" not in pending["office"] and pending["office"]["zone"] == "lan"
    running = (await call(connect, "pve_list_sdn_vnets", {"running": True}))["items"]
    assert "dmz" not in {v["vnet"] for v in running}

    args = {"vnet": "dmz", "subnet": "172.16.20.0/24", "gateway": "172.16.20.1", "snat": True}
    await call(
        connect,
        "pve_create_sdn_subnet",
        {**args, "dhcp-range": ["start-address=172.16.20.50,end-address=172.16.20.99"]},
    )
    stored = sdn.config["subnets"]["lan-172.16.20.0-24"]
    assert stored["vnet"] == "dmz" and stored["gateway"] == "172.16.20.1" and stored["snat"] == 1
    assert stored["dhcp-range"] == ["start-address=172.16.20.50,end-address=172.16.20.99"]
    (subnet,) = (await call(connect, "pve_list_sdn_subnets", {"vnet": "dmz", "pending": True}))["items"]
    assert subnet["subnet"] == "lan-172.16.20.0-24" and subnet["state"] == "new"

    task = (await call(connect, "pve_apply_sdn_changes", {"confirm": True}))["task"]
    assert task["upid"].startswith("UPID:pve1:") and ":reloadnetworkall::" in task["upid"]
    assert task["status"] == "stopped" and task["exitstatus"] == "OK"
    assert "dmz" in sdn.running["vnets"] and "lan-172.16.20.0-24" in sdn.running["subnets"]
    assert not sdn.has_pending()
    reloads = [t for t in sim.state.tasks.values() if t.type == "srvreload" and t.id == "networking"]
    assert {t.node for t in reloads} == set(sim.state.nodes)
    applied = await call(connect, "pve_get_sdn_vnet", {"vnet": "dmz", "pending": True})
    assert "state" not in applied and applied["tag"] == 20


async def test_a_vnet_with_subnets_cannot_be_deleted(connect: McpFactory, sim: Simulator) -> None:
    refused = await failed(connect, "pve_delete_sdn_vnet", {"vnet": "labnet", "confirm": True})
    assert "Can't delete vnet if subnets exists" in refused["message"]
    assert "labnet" in sim.state.sdn.config["vnets"]
    await call(connect, "pve_delete_sdn_subnet", {"vnet": "labnet", "subnet": "sim-10.10.0.0-24", "confirm": True})
    await call(connect, "pve_delete_sdn_vnet", {"vnet": "labnet", "confirm": True})
    assert "labnet" not in sim.state.sdn.config["vnets"] and "labnet" in sim.state.sdn.running["vnets"]
    listed = {v["vnet"] for v in (await call(connect, "pve_list_sdn_vnets"))["items"]}
    assert listed == {"office"}
    pending = {v["vnet"]: v for v in (await call(connect, "pve_list_sdn_vnets", {"pending": True}))["items"]}
    assert pending["labnet"]["state"] == "deleted"
    await call(connect, "pve_apply_sdn_changes", {"confirm": True})
    assert "labnet" not in sim.state.sdn.running["vnets"]
    gone = await failed(connect, "pve_get_sdn_vnet", {"vnet": "labnet"})
    assert gone["code"] == "PROXMOX_NOT_FOUND" and "sdn vnet 'labnet' does not exist" in gone["message"]


@pytest.mark.parametrize(
    ("vnet", "words"),
    [("toolongid", "may only be 8 characters long"), ("9lives", "does not match the regex pattern")],
)
async def test_vnet_ids_follow_pves_rules(connect: McpFactory, sim: Simulator, vnet: str, words: str) -> None:
    body = await failed(connect, "pve_create_sdn_vnet", {"vnet": vnet, "zone": "sim"})
    assert body["code"] == "PROXMOX_REQUEST_REJECTED" and words in body["message"]
    assert vnet not in sim.state.sdn.config["vnets"]


async def test_zone_rules_and_missing_vnets_are_refused_in_pves_words(connect: McpFactory, sim: Simulator) -> None:
    untagged = await failed(connect, "pve_create_sdn_vnet", {"vnet": "guests", "zone": "lan"})
    assert "tag: missing vlan tag" in untagged["message"]
    tagged = await failed(connect, "pve_create_sdn_vnet", {"vnet": "guests", "zone": "sim", "tag": 5})
    assert "vlan tag is not allowed on simple zone" in tagged["message"]
    taken = await failed(connect, "pve_create_sdn_vnet", {"vnet": "guests", "zone": "lan", "tag": 10})
    assert "tag 10 already exist in vnet office" in taken["message"]
    twice = await failed(connect, "pve_create_sdn_vnet", {"vnet": "office", "zone": "lan", "tag": 11})
    assert "sdn vnet object ID 'office' already defined" in twice["message"]
    orphan = await failed(connect, "pve_create_sdn_subnet", {"vnet": "nowhere", "subnet": "10.9.0.0/24"})
    assert orphan["code"] == "PROXMOX_NOT_FOUND" and "sdn vnet 'nowhere' does not exist" in orphan["message"]
    bad = await failed(connect, "pve_create_sdn_subnet", {"vnet": "office", "subnet": "10.9.0.0/99"})
    assert "value does not look like a valid CIDR network" in bad["message"]
    again = await failed(connect, "pve_create_sdn_subnet", {"vnet": "office", "subnet": "192.168.10.0/24"})
    assert "sdn subnet object ID 'lan-192.168.10.0-24' already defined" in again["message"]
    assert set(sim.state.sdn.config["vnets"]) == {"office", "labnet"}
