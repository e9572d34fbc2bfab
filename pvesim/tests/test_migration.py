"""Migration preconditions (GET .../migrate) and how a migrate call treats local disks and HA-managed guests."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from pvesim import Simulator
from pvesim.state.ha import HaRule
from sim_support import API, data

pytestmark = pytest.mark.anyio


async def precondition(client: httpx2.AsyncClient, path: str, **params: str) -> Any:
    return data(await client.get(f"{API}{path}/migrate", params=params))


async def test_a_running_vm_lists_its_local_disk_and_every_other_node(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    answer = await precondition(client, "/nodes/pve1/qemu/100", target="pve2")
    assert answer["running"] == 1 and answer["allowed_nodes"] == ["pve2", "pve3"]
    assert answer["not_allowed_nodes"] == {} and answer["local_resources"] == []
    assert answer["has-dbus-vmstate"] == 1 and "dependent-ha-resources" not in answer
    (disk,) = answer["local_disks"]
    assert disk["volid"] == "local-lvm:vm-100-disk-0" and disk["drivename"] == "scsi0"
    assert (disk["size"], disk["cdrom"], disk["is_unused"], disk["is_attached"]) == (128 * 1024**3, 0, 0, 1)


async def test_storage_limited_to_some_nodes_and_local_devices_are_reported(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    sim.state.storages["local-lvm"].nodes = ("pve1", "pve2")
    guest = sim.state.guests[100]
    guest.config["usb0"] = "host=1234:5678"
    guest.config["serial0"] = "socket"
    guest.config["ide2"] = "local:iso/debian-13.1.0-amd64-netinst.iso,media=cdrom"
    answer = await precondition(client, "/nodes/pve1/qemu/100")
    assert answer["allowed_nodes"] == ["pve2"]
    assert answer["not_allowed_nodes"] == {"pve3": {"unavailable_storages": ["local-lvm"]}}
    assert answer["local_resources"] == ["usb0"]
    cdrom = next(d for d in answer["local_disks"] if d["volid"].startswith("local:iso/"))
    assert cdrom["cdrom"] == 1 and cdrom["drivename"] == "ide2"


async def test_a_locked_guest_is_refused_as_pve_does(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.state.guests[100].lock = "backup"
    sim.state.guests[202].lock = "mounted"
    vm = await client.get(f"{API}/nodes/pve1/qemu/100/migrate")
    ct = await client.get(f"{API}/nodes/pve1/lxc/202/migrate")
    assert (vm.status_code, vm.json()["message"]) == (500, "VM is locked (backup)\n")
    assert (ct.status_code, ct.json()["message"]) == (500, "CT is locked (mounted)\n")


async def test_a_container_answers_with_dashed_keys(client: httpx2.AsyncClient) -> None:
    answer = await precondition(client, "/nodes/pve1/lxc/202")
    assert answer == {"running": 0, "allowed-nodes": ["pve2", "pve3"], "not-allowed-nodes": {}}


async def test_an_ha_managed_vm_names_its_dependants_and_the_nodes_a_peer_blocks(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    managed = next(g for g in sim.state.guests.values() if g.hastate)
    peer, partner = sim.state.guests[102], sim.state.guests[105]  # both on pve3
    peer.hastate = partner.hastate = "started"
    sid = f"vm:{managed.vmid}"
    sim.state.ha.rules["apart"] = HaRule("apart", "resource-affinity", (sid, "vm:102"), affinity="negative")
    sim.state.ha.rules["along"] = HaRule("along", "resource-affinity", (sid, "vm:105"), affinity="positive")
    answer = await precondition(client, f"/nodes/{managed.node}/qemu/{managed.vmid}")
    assert answer["dependent-ha-resources"] == ["vm:105"]
    blocked = {"blocking-ha-resources": [{"sid": "vm:102", "cause": "resource-affinity"}]}
    assert answer["not_allowed_nodes"] == {"pve3": blocked} and answer["allowed_nodes"] == ["pve1"]
    sim.state.ha.rules["apart"].disable = True
    assert (await precondition(client, f"/nodes/{managed.node}/qemu/{managed.vmid}"))["not_allowed_nodes"] == {}


async def test_migrating_an_ha_managed_guest_hands_it_to_the_ha_manager(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    managed = next(g for g in sim.state.guests.values() if g.hastate)
    source = managed.node
    path = f"{API}/nodes/{source}/qemu/{managed.vmid}/migrate"
    upid = data(await client.post(path, data={"target": "pve3", "online": "1"}))
    assert upid.split(":")[5:7] == ["hamigrate", str(managed.vmid)]
    sim.clock.advance(2)
    sim.settle()
    log = [row["t"] for row in data(await client.get(f"{API}/nodes/{source}/tasks/{upid}/log"))]
    assert log == [f"Requesting HA migration for VM {managed.vmid} to node pve3", "TASK OK"]
    assert managed.node == source and sim.state.ha.requests[managed].target == "pve3"
    crm = sim.state.tasks[sim.state.ha.requests[managed].upid]
    assert (crm.type, crm.user) == ("qmigrate", "root@pam")
    sim.clock.advance(60)
    sim.settle()
    assert managed.node == "pve3" and managed.running and managed not in sim.state.ha.requests


async def test_a_live_migration_with_local_disks_fails_in_its_task_without_with_local_disks(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    upid = data(await client.post(f"{API}/nodes/pve1/qemu/100/migrate", data={"target": "pve2", "online": "1"}))
    sim.clock.advance(60)
    status = data(await client.get(f"{API}/nodes/pve1/tasks/{upid}/status"))
    assert status["exitstatus"] == "can't live migrate attached local disks without with-local-disks option"
    assert sim.state.guests[100].node == "pve1"
