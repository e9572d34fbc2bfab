"""Pool tools through the SDK client: members, adding and removing them, and deleting only empty pools."""

from __future__ import annotations

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio


async def test_pools_are_listed_and_a_pool_shows_its_members(connect: McpFactory, sim: Simulator) -> None:
    pools = (await call(connect, "pve_list_pools"))["items"]
    assert pools == [{"poolid": "production", "comment": "Customer-facing services"}]
    (pool,) = (await call(connect, "pve_get_pool", {"poolid": "production"}))["items"]
    guests = {g.vmid for g in sim.state.guests.values() if g.pool == "production"}
    assert {m["vmid"] for m in pool["members"] if m["type"] != "storage"} == guests
    assert {m["storage"] for m in pool["members"] if m["type"] == "storage"} == {"nfs-backup"}
    (only,) = (await call(connect, "pve_get_pool", {"poolid": "production", "type": "storage"}))["items"]
    assert [m["id"] for m in only["members"]] == ["storage/pve1/nfs-backup"]


async def test_members_are_added_removed_and_moved(connect: McpFactory, sim: Simulator) -> None:
    await call(connect, "pve_create_pool", {"poolid": "lab", "comment": "test bench"})
    assert sim.state.pools["lab"].comment == "test bench"
    free = sorted(g.vmid for g in sim.state.guests.values() if g.pool is None)[:2]
    vms = ",".join(map(str, free))
    await call(connect, "pve_update_pool", {"poolid": "lab", "vms": vms, "storage": "local", "confirm": True})
    assert all(sim.state.guests[v].pool == "lab" for v in free) and sim.state.pools["lab"].storages == ["local"]
    again = await failed(connect, "pve_update_pool", {"poolid": "lab", "vms": str(free[0]), "confirm": True})
    assert f"VM {free[0]} is already a pool member" in again["message"]
    args = {"poolid": "lab", "vms": vms, "storage": "local", "delete": True, "confirm": True}
    await call(connect, "pve_update_pool", args)
    assert all(sim.state.guests[v].pool is None for v in free) and sim.state.pools["lab"].storages == []
    prod = next(g for g in sim.state.guests.values() if g.pool == "production")
    moving = {"poolid": "lab", "vms": str(prod.vmid), "confirm": True}
    refused = await failed(connect, "pve_update_pool", moving)
    assert "'allow-move' is not set" in refused["message"] and prod.pool == "production"
    await call(connect, "pve_update_pool", {**moving, "allow-move": True})
    assert prod.pool == "lab"


async def test_only_an_empty_pool_can_be_deleted(connect: McpFactory, sim: Simulator) -> None:
    body = await failed(connect, "pve_delete_pool", {"poolid": "production", "confirm": True})
    assert "pool 'production' is not empty (contains VM" in body["message"]
    for guest in sim.state.guests.values():
        guest.pool = None
    body = await failed(connect, "pve_delete_pool", {"poolid": "production", "confirm": True})
    assert "contains storage 'nfs-backup'" in body["message"]
    await call(
        connect, "pve_update_pool", {"poolid": "production", "storage": "nfs-backup", "delete": True, "confirm": True}
    )
    await call(connect, "pve_delete_pool", {"poolid": "production", "confirm": True})
    assert "production" not in sim.state.pools
    gone = await failed(connect, "pve_get_pool", {"poolid": "production"})
    assert "pool 'production' does not exist" in gone["message"]
