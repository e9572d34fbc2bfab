"""A storage's RRD history: today's use at the end, less what volumes written since took up before them."""

from __future__ import annotations

import itertools

import httpx2
import pytest

from pvesim import Simulator
from pvesim.rrd import TIMEFRAMES
from pvesim.state.records import Volume
from sim_support import API, data

pytestmark = pytest.mark.anyio
GIB = 1024**3


async def rows(client: httpx2.AsyncClient, node: str, storage: str, **params: str) -> list[dict[str, float]]:
    response = await client.get(f"{API}/nodes/{node}/storage/{storage}/rrddata", params=params)
    found: list[dict[str, float]] = data(response)
    return found


@pytest.mark.parametrize("timeframe", ["hour", "day", "week", "month", "year"])
async def test_each_timeframe_has_its_rows_ending_now_with_todays_use(
    sim: Simulator, client: httpx2.AsyncClient, timeframe: str
) -> None:
    found = await rows(client, "pve2", "local-lvm", timeframe=timeframe)
    reso, count = TIMEFRAMES[timeframe]
    storage = sim.state.storages["local-lvm"]
    assert len(found) == count
    assert all(b["time"] - a["time"] == reso for a, b in itertools.pairwise(found))
    assert found[-1]["time"] <= sim.clock.now() < found[-1]["time"] + reso
    assert found[-1]["used"] == storage.used_on("pve2") and found[-1]["total"] == storage.total


async def test_a_volume_written_during_the_week_shows_as_a_step_up(sim: Simulator, client: httpx2.AsyncClient) -> None:
    nfs = sim.state.storages["nfs-backup"]
    now = int(sim.clock.now())
    written = now - 3 * 86_400 + 900  # in the middle of a 30-minute step three days ago
    extra = Volume("nfs-backup:backup/extra.vma.zst", "backup", "vma.zst", 40 * GIB, ctime=written, vmid=100)
    sim.state.volumes[("nfs-backup", "")].append(extra)
    nfs.used[""] += 40 * GIB
    average = await rows(client, "pve1", "nfs-backup", timeframe="week")
    peak = await rows(client, "pve1", "nfs-backup", timeframe="week", cf="MAX")
    step = next(i for i, row in enumerate(average) if row["time"] >= written)
    before, during, after = average[step - 1], average[step], average[step + 1]
    assert during["used"] - before["used"] == pytest.approx(40 * GIB * (during["time"] - written) / 1800, abs=1)
    assert after["used"] - before["used"] >= 40 * GIB
    assert peak[step]["used"] - peak[step - 1]["used"] >= 40 * GIB  # MAX counts the step it appeared in
    assert average == await rows(client, "pve1", "nfs-backup", timeframe="week")  # deterministic
    assert [r["used"] for r in average] == sorted(r["used"] for r in average)  # backups only ever came in


async def test_no_history_for_a_storage_the_node_cannot_use(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.state.storages["local-lvm"].nodes = ("pve1",)
    for storage in ("local-lvm", "nowhere"):
        response = await client.get(f"{API}/nodes/pve2/storage/{storage}/rrddata", params={"timeframe": "day"})
        assert response.status_code == 500
        path = f"/var/lib/rrdcached/db/pve-storage-9.0/pve2/{storage}"
        assert response.json()["message"] == f"RRD error: opening '{path}': No such file or directory\n"
    bad = await client.get(f"{API}/nodes/pve1/storage/local/rrddata", params={"timeframe": "decade"})
    assert bad.status_code == 400 and "timeframe" in bad.json()["errors"]
