"""Moving VM disks between storages and unlinking them, through the SDK client."""

from __future__ import annotations

from typing import Any

import pytest

from pvesim import Simulator
from pvesim.state import Storage, Volume
from tests.conftest import McpFactory, payload
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio
GIB = 1024**3


def add_storage(sim: Simulator, name: str = "fast-ssd", kind: str = "lvmthin") -> Storage:
    storage = Storage(name, kind, ("images", "rootdir"), False, {}, 500 * GIB)
    sim.state.storages[name] = storage
    return storage


def volids(sim: Simulator, vmid: int) -> set[str]:
    return {v.volid for vols in sim.state.volumes.values() for v in vols if v.vmid == vmid and v.content == "images"}


async def move(connect: McpFactory, args: dict[str, Any]) -> dict[str, Any]:
    async with connect() as client:
        result = await client.call_tool("pve_qemu_move_disk", {**args, "confirm": True})
    return payload(result) | {"failed": result.is_error}


async def test_moving_a_disk_points_the_config_at_the_copy_and_keeps_the_source_unused(
    connect: McpFactory, sim: Simulator
) -> None:
    add_storage(sim)
    guest = pick(sim, "qemu", "running")
    source = str(guest.config["scsi0"]).split(",")[0]
    body = await move(connect, {"vmid": guest.vmid, "disk": "scsi0", "storage": "fast-ssd"})
    assert not body["failed"] and body["task"]["exitstatus"] == "OK" and ":qmmove:" in body["task"]["upid"]
    assert str(guest.config["scsi0"]).startswith(f"fast-ssd:vm-{guest.vmid}-disk-0,iothread=1,size=")
    assert guest.config["unused0"] == source
    assert volids(sim, guest.vmid) == {source, f"fast-ssd:vm-{guest.vmid}-disk-0"}


async def test_moving_with_delete_frees_the_source_and_file_storages_get_qcow2(
    connect: McpFactory, sim: Simulator
) -> None:
    add_storage(sim, "nas-images", "nfs")
    guest = pick(sim, "qemu", "stopped")
    body = await move(connect, {"vmid": guest.vmid, "disk": "scsi0", "storage": "nas-images", "delete": True})
    assert body["task"]["exitstatus"] == "OK"
    new = f"nas-images:{guest.vmid}/vm-{guest.vmid}-disk-0.qcow2"
    assert str(guest.config["scsi0"]).split(",")[0] == new and "unused0" not in guest.config
    assert volids(sim, guest.vmid) == {new}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"disk": "scsi0", "storage": "local-lvm"}, "you can't move to the same storage with same format"),
        ({"disk": "ide2", "storage": "fast-ssd"}, "you can't move a cdrom"),
        ({"disk": "scsi3", "storage": "fast-ssd"}, "disk 'scsi3' does not exist"),
        ({"disk": "scsi0", "storage": "local"}, "does not support vm images"),
        ({"disk": "scsi0", "storage": "nosuch"}, "storage 'nosuch' does not exist"),
    ],
)
async def test_a_move_proxmox_refuses_changes_nothing(
    connect: McpFactory, sim: Simulator, args: dict[str, str], words: str
) -> None:
    add_storage(sim)
    guest = pick(sim, "qemu", "running")
    before = dict(guest.config)
    body = await failed(connect, "pve_qemu_move_disk", {"vmid": guest.vmid, **args, "confirm": True})
    assert words in body["message"] and dict(guest.config) == before


async def test_unlinking_keeps_a_disk_as_unused_and_force_or_unused_frees_it(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "stopped")
    guest.config["scsi1"] = f"local-lvm:vm-{guest.vmid}-disk-1,size=4G"
    guest.config["scsi2"] = f"local-lvm:vm-{guest.vmid}-disk-2,size=4G"
    volumes = sim.state.volumes[("local-lvm", guest.node)]
    volumes += [
        Volume(f"local-lvm:vm-{guest.vmid}-disk-{n}", "images", "raw", 4 * GIB, vmid=guest.vmid) for n in (1, 2)
    ]
    args = {"vmid": guest.vmid, "idlist": "scsi1", "confirm": True}
    assert await call(connect, "pve_qemu_unlink_disk", args) == {"value": None}
    assert "scsi1" not in guest.config and guest.config["unused0"] == f"local-lvm:vm-{guest.vmid}-disk-1"
    assert f"local-lvm:vm-{guest.vmid}-disk-1" in volids(sim, guest.vmid)
    await call(connect, "pve_qemu_unlink_disk", {**args, "idlist": "unused0,scsi2", "force": True})
    assert not {"unused0", "scsi1", "scsi2"} & set(guest.config)
    assert volids(sim, guest.vmid) == {str(guest.config["scsi0"]).split(",")[0]}


async def test_unlinking_needs_confirmation(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    async with connect() as client:
        result = await client.call_tool("pve_qemu_unlink_disk", {"vmid": guest.vmid, "idlist": "scsi0"})
    assert result.is_error and "scsi0" in guest.config
