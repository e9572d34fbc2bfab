from __future__ import annotations

import pytest

from pvesim import ManualClock, Simulator
from sim_support import API, data, make_client

pytestmark = pytest.mark.anyio


async def test_a_50_node_5000_guest_cluster_lists_every_resource() -> None:
    sim = Simulator(nodes=50, guests=5000)

    async with make_client(sim) as client:
        everything = data(await client.get(f"{API}/cluster/resources"))
        vms = data(await client.get(f"{API}/cluster/resources", params={"type": "vm"}))
        nodes = data(await client.get(f"{API}/nodes"))

    assert len(everything) >= 5050
    assert len({item["id"] for item in everything}) == len(everything)
    assert len(vms) == 5000
    assert len(nodes) == 50
    assert {v["node"] for v in vms} == {f"pve{i}" for i in range(1, 51)}


def test_the_same_seed_builds_the_same_cluster() -> None:
    one = Simulator(seed=3, clock=ManualClock(start=1_700_000_000.0))
    two = Simulator(seed=3, clock=ManualClock(start=1_700_000_000.0))

    assert {v: g.config.as_dict() for v, g in one.state.guests.items()} == {
        v: g.config.as_dict() for v, g in two.state.guests.items()
    }
    assert sorted(one.state.tasks) == sorted(two.state.tasks)
    assert [n.ssl_fingerprint for n in one.state.nodes.values()] == [
        n.ssl_fingerprint for n in two.state.nodes.values()
    ]


def test_another_seed_builds_another_cluster() -> None:
    one, two = Simulator(seed=1), Simulator(seed=2)

    assert one.state.guests[100].config["net0"] != two.state.guests[100].config["net0"]


def test_the_guest_count_splits_into_vms_and_containers() -> None:
    sim = Simulator(nodes=2, guests=32)
    kinds = [g.type for g in sim.state.guests.values()]

    assert (kinds.count("qemu"), kinds.count("lxc")) == (20, 12)
    assert min(g.vmid for g in sim.state.guests.values() if g.type == "lxc") == 200


def test_an_empty_cluster_is_allowed() -> None:
    sim = Simulator(nodes=1, guests=0)

    assert sim.state.guests == {}


@pytest.mark.parametrize(("nodes", "guests"), [(0, 1), (721, 1), (1, -1)])
def test_impossible_sizes_are_rejected(nodes: int, guests: int) -> None:
    with pytest.raises(ValueError, match="must"):
        Simulator(nodes=nodes, guests=guests)


def test_task_seconds_must_be_an_ordered_pair() -> None:
    with pytest.raises(ValueError, match="task_seconds"):
        Simulator(task_seconds=(2.0, 1.0))
