"""The effect record as pvemcp's own client meets it: ``touched`` over the requests it sent."""

from __future__ import annotations

import pytest

from pvesim import Simulator, Target
from tests.conftest import client_for

pytestmark = pytest.mark.anyio

PVE1, PVE2, PVE3 = ("node", "pve1"), ("node", "pve2"), ("node", "pve3")


def guest(vmid: int) -> Target:
    return ("guest", vmid)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(record_effects=True)


async def test_touched_unites_reads_and_changes_from_an_index(sim: Simulator) -> None:
    pve = client_for(sim)  # the project's own client, as the tools use it
    try:
        await pve.get("/nodes/pve1/qemu/100/config")
        mark = len(sim.requests)
        await pve.post("/nodes/pve2/qemu/101/status/stop")
        await pve.get("/nodes/pve3/lxc/201/status/current")
    finally:
        await pve.aclose()

    reads, changes = sim.touched(mark)

    assert reads == {guest(101), guest(201), PVE2, PVE3}
    assert changes == {guest(101), PVE2}
    assert sim.touched()[0] == reads | {guest(100), PVE1}
