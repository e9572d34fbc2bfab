from __future__ import annotations

import httpx2
import pytest

from pvesim import Simulator
from pvesim.tasks import UpidInfo, decode_upid, encode_upid
from sim_support import API, data

pytestmark = pytest.mark.anyio


async def tasks(client: httpx2.AsyncClient, node: str = "pve1", **params: str) -> httpx2.Response:
    return await client.get(f"{API}/nodes/{node}/tasks", params=params)


async def test_the_task_list_is_seeded_newest_first_with_a_total(client: httpx2.AsyncClient) -> None:
    response = await tasks(client)
    body = response.json()
    items = body["data"]

    assert body["total"] == len(items) > 5
    ends = [t["endtime"] for t in items]
    assert ends == sorted(ends, reverse=True)
    assert {"startall", "qmstart", "vzdump", "aptupdate"} <= {t["type"] for t in items}
    for task in items:
        assert {"upid", "node", "pid", "pstart", "starttime", "endtime", "type", "id", "user", "status"} <= set(task)
        assert task["node"] == "pve1"


async def test_a_failed_backup_job_is_among_the_seeded_tasks(client: httpx2.AsyncClient) -> None:
    failed = data(await tasks(client, errors="1"))

    assert failed and all(t["status"] != "OK" for t in failed)
    backup = next(t for t in failed if t["type"] == "vzdump")
    assert backup["status"] == "job errors"
    log = data(await client.get(f"{API}/nodes/pve1/tasks/{backup['upid']}/log", params={"limit": "0"}))
    assert any(line["t"].startswith("ERROR: Backup of VM") for line in log)
    assert log[-1]["t"] == "TASK ERROR: job errors"


async def test_list_filters_by_type_vmid_status_and_user(client: httpx2.AsyncClient) -> None:
    backups = data(await tasks(client, typefilter="vzdump"))
    for_100 = data(await tasks(client, vmid="100"))
    errors = data(await tasks(client, statusfilter="error"))
    ok = data(await tasks(client, statusfilter="ok"))
    nobody = data(await tasks(client, userfilter="alice@pve"))

    assert backups and {t["type"] for t in backups} == {"vzdump"}
    assert for_100 and {t["id"] for t in for_100} == {"100"}
    assert errors and all(t["status"] not in ("OK",) for t in errors)
    assert ok and {t["status"] for t in ok} == {"OK"}
    assert nobody == []


async def test_list_pages_with_start_and_limit_and_keeps_the_total(client: httpx2.AsyncClient) -> None:
    everything = (await tasks(client)).json()
    page = (await tasks(client, start="2", limit="3")).json()

    assert page["data"] == everything["data"][2:5]
    assert page["total"] == everything["total"]


async def test_since_and_until_bound_the_start_time(client: httpx2.AsyncClient) -> None:
    items = data(await tasks(client))
    pivot = sorted(t["starttime"] for t in items)[len(items) // 2]

    later = data(await tasks(client, since=str(pivot)))
    earlier = data(await tasks(client, until=str(pivot - 1)))

    assert all(t["starttime"] >= pivot for t in later)
    assert all(t["starttime"] < pivot for t in earlier)
    assert len(later) + len(earlier) == len(items)


async def test_a_running_task_is_active_not_archived(sim: Simulator, client: httpx2.AsyncClient) -> None:
    upid = data(await client.post(f"{API}/nodes/pve1/qemu/100/status/stop"))

    archive = data(await tasks(client))
    active = data(await tasks(client, source="active"))
    both = data(await tasks(client, source="all"))

    assert upid not in {t["upid"] for t in archive}
    assert [t["upid"] for t in active] == [upid]
    assert active[0]["status"] == "RUNNING" and active[0]["user"] == "root@pam!pvemcp"
    assert both[0]["upid"] == upid
    sim.clock.advance(2.0)
    finished = data(await tasks(client))[0]
    assert finished["upid"] == upid and finished["status"] == "OK"
    assert finished["user"] == "root@pam" and finished["tokenid"] == "pvemcp"


async def test_the_log_pages_with_start_and_limit(client: httpx2.AsyncClient) -> None:
    backup = data(await tasks(client, typefilter="vzdump"))[0]
    path = f"{API}/nodes/pve1/tasks/{backup['upid']}/log"

    whole = (await client.get(path, params={"limit": "0"})).json()
    page = (await client.get(path, params={"start": "2", "limit": "3"})).json()
    default = (await client.get(path)).json()

    assert whole["total"] == len(whole["data"]) > 5
    assert [line["n"] for line in whole["data"]] == list(range(1, whole["total"] + 1))
    assert whole["data"][0]["t"].startswith("INFO: starting new backup job: vzdump")
    assert page["data"] == whole["data"][2:5] and page["total"] == whole["total"]
    assert default["data"] == whole["data"][:50]


async def test_the_log_can_be_downloaded_as_text(client: httpx2.AsyncClient) -> None:
    backup = data(await tasks(client, typefilter="vzdump"))[0]

    response = await client.get(f"{API}/nodes/pve1/tasks/{backup['upid']}/log", params={"download": "1"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("INFO: starting new backup job")


async def test_an_unparsable_upid_is_a_parameter_error(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/tasks/not-a-upid/status")

    assert response.status_code == 400
    assert response.json()["errors"] == {"upid": "unable to parse worker upid"}


async def test_a_task_of_another_node_is_no_such_task_here(client: httpx2.AsyncClient) -> None:
    upid = data(await tasks(client, node="pve2"))[0]["upid"]

    status = await client.get(f"{API}/nodes/pve1/tasks/{upid}/status")
    log = await client.get(f"{API}/nodes/pve1/tasks/{upid}/log")

    assert status.status_code == 400 and status.json()["errors"] == {"upid": "no such task"}
    assert log.json() == {
        "data": [{"n": 1, "t": "unable to open file - No such file or directory"}],
        "total": 1,
    }


def test_upids_round_trip_in_pve_format() -> None:
    info = UpidInfo("pve1", 0xABCD, 0x12F00D, 0x6743A1B2, "qmstart", "100", "root@pam!pvemcp")

    upid = encode_upid(info)

    assert upid == "UPID:pve1:0000ABCD:0012F00D:6743A1B2:qmstart:100:root@pam!pvemcp:"
    assert decode_upid(upid) == info
    assert decode_upid("UPID:pve1:xyz") is None
