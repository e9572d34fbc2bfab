from __future__ import annotations

import httpx2
import pytest

from pvesim import RealClock, Simulator
from sim_support import API, data, make_client

pytestmark = pytest.mark.anyio


async def test_the_control_api_needs_the_token(sim: Simulator) -> None:
    async with make_client(sim, auth=False) as anonymous:
        response = await anonymous.get("/_sim/requests")

    assert response.status_code == 401


async def test_faults_can_be_armed_and_cleared_over_http(client: httpx2.AsyncClient) -> None:
    armed = await client.post("/_sim/faults", json={"kind": "status", "status": 403, "message": "nope", "count": 0})
    refused = await client.get(f"{API}/version")
    await client.delete("/_sim/faults")
    allowed = await client.get(f"{API}/version")

    assert data(armed)[0]["kind"] == "status"
    assert refused.status_code == 403 and refused.json()["message"] == "nope\n"
    assert allowed.status_code == 200


async def test_a_bad_fault_is_refused_with_400(client: httpx2.AsyncClient) -> None:
    unknown_field = await client.post("/_sim/faults", json={"kind": "status", "colour": "red"})
    wrong_type = await client.post("/_sim/faults", json={"kind": "status", "count": "3"})

    assert unknown_field.status_code == wrong_type.status_code == 400


async def test_advancing_the_clock_over_http_finishes_tasks(sim: Simulator, client: httpx2.AsyncClient) -> None:
    upid = data(await client.post(f"{API}/nodes/pve1/qemu/100/status/stop"))

    advanced = data(await client.post("/_sim/clock/advance", json={"seconds": 5}))
    guest = data(await client.get("/_sim/guests/100"))

    assert advanced["finished"] == 1
    assert guest["status"] == "stopped" and guest["node"] == "pve1" and guest["config"]["name"] == "web-01"
    assert sim.state.tasks[upid].status == "OK"


async def test_a_real_clock_cannot_be_advanced() -> None:
    sim = Simulator(clock=RealClock())
    async with make_client(sim) as client:
        response = await client.post("/_sim/clock/advance", json={"seconds": 1})

    assert response.status_code == 409


async def test_latency_can_be_set_over_http(sim: Simulator, client: httpx2.AsyncClient) -> None:
    response = await client.post("/_sim/latency", json={"ms": 15})

    assert data(response) == {"ms": 15.0}
    assert sim.latency_ms == 15.0


async def test_an_unknown_guest_is_404(client: httpx2.AsyncClient) -> None:
    response = await client.get("/_sim/guests/999")

    assert response.status_code == 404


async def test_requests_list_what_reached_the_api_but_not_control_calls(client: httpx2.AsyncClient) -> None:
    await client.get(f"{API}/nodes", params={"x": "1"})
    await client.post("/_sim/latency", json={"ms": 0})

    listed = data(await client.get("/_sim/requests"))

    assert listed == [{"method": "GET", "path": "/nodes", "params": {"x": "1"}}]


async def test_an_unknown_control_endpoint_is_404(client: httpx2.AsyncClient) -> None:
    response = await client.post("/_sim/explode")

    assert response.status_code == 404
