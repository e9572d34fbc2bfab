"""Cloud-init drive tools: current against pending values, and regenerating the drive."""

from __future__ import annotations

import pytest

from pvesim import Simulator
from pvesim.state import Guest
from tests.conftest import McpFactory
from tests.helpers import call, pick

pytestmark = pytest.mark.anyio


def with_drive(guest: Guest) -> Guest:
    guest.config["ide0"] = f"local-lvm:vm-{guest.vmid}-cloudinit,media=cdrom"
    return guest


async def values(connect: McpFactory, guest: Guest) -> dict[str, dict[str, object]]:
    items = (await call(connect, "pve_get_qemu_cloudinit", {"vmid": guest.vmid}))["items"]
    return {item["key"]: {k: v for k, v in item.items() if k != "key"} for item in items}


async def test_a_cloud_init_template_lists_its_options_as_current_values(connect: McpFactory, sim: Simulator) -> None:
    template = next(g for g in sim.state.guests.values() if g.template)
    assert await values(connect, template) == {"ciuser": {"value": "debian"}, "ipconfig0": {"value": "ip=dhcp"}}


async def test_changes_are_pending_until_the_drive_is_regenerated(connect: McpFactory, sim: Simulator) -> None:
    guest = with_drive(pick(sim, "qemu", "running"))
    guest.config.update(ciuser="ops", nameserver="192.0.2.53")
    args = {"vmid": guest.vmid, "ciuser": "deploy", "cipassword": "s3cret", "confirm": True}
    await call(connect, "pve_set_qemu_cloudinit", args)
    async with connect() as client:
        await client.call_tool("pve_qemu_update_config", {"vmid": guest.vmid, "delete": "nameserver", "confirm": True})
    assert guest.config["ciuser"] == "deploy" and "nameserver" not in guest.config  # applied to the config at once
    assert await values(connect, guest) == {
        "cipassword": {"pending": "**********"},
        "ciuser": {"value": "ops", "pending": "deploy"},
        "nameserver": {"value": "192.0.2.53", "delete": 1},
    }
    assert await call(connect, "pve_regenerate_qemu_cloudinit", {"vmid": guest.vmid}) == {"value": None}
    assert await values(connect, guest) == {"cipassword": {"value": "**********"}, "ciuser": {"value": "deploy"}}
    assert sim.state.admin.of(guest).cloudinit == {}


async def test_without_a_cloud_init_drive_regenerating_changes_nothing(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    await call(connect, "pve_set_qemu_cloudinit", {"vmid": guest.vmid, "ciuser": "deploy", "confirm": True})
    await call(connect, "pve_regenerate_qemu_cloudinit", {"vmid": guest.vmid})
    assert await values(connect, guest) == {"ciuser": {"pending": "deploy"}}


async def test_starting_the_vm_writes_the_pending_values_to_the_drive(connect: McpFactory, sim: Simulator) -> None:
    guest = with_drive(pick(sim, "qemu", "stopped"))
    await call(connect, "pve_set_qemu_cloudinit", {"vmid": guest.vmid, "ciuser": "deploy", "confirm": True})
    await call(connect, "pve_start_qemu_vm", {"vmid": guest.vmid})
    assert await values(connect, guest) == {"ciuser": {"value": "deploy"}}
