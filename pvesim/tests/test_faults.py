from __future__ import annotations

import time

import anyio
import httpx2
import pytest

from pvesim import Fault, Simulator
from sim_support import API, data, make_client

pytestmark = pytest.mark.anyio

FORBIDDEN = "Permission check failed (/vms/100, VM.PowerMgmt)"


async def test_a_status_fault_answers_in_pve_error_shape_then_wears_off(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    sim.arm(Fault("status", status=403, message=FORBIDDEN))

    faulted = await client.post(f"{API}/nodes/pve1/qemu/100/status/stop")
    normal = await client.post(f"{API}/nodes/pve1/qemu/100/status/stop")

    assert faulted.status_code == 403
    assert faulted.json() == {"data": None, "message": FORBIDDEN + "\n"}
    assert normal.status_code == 200


async def test_a_status_fault_without_a_message_uses_the_reason_phrase(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    sim.arm(Fault("status", status=503))
    sim.arm(Fault("status", status=596))

    first = await client.get(f"{API}/version")
    second = await client.get(f"{API}/version")

    assert (first.status_code, first.json()["message"]) == (503, "Service Unavailable\n")
    assert (second.status_code, second.json()["message"]) == (596, "Connection timed out\n")


async def test_a_fault_applies_only_under_its_path_prefix_and_method(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    sim.arm(Fault("status", status=500, path_prefix="/nodes/pve1/qemu", method="POST"))

    other_path = await client.get(f"{API}/version")
    other_method = await client.get(f"{API}/nodes/pve1/qemu")
    hit = await client.post(f"{API}/nodes/pve1/qemu/100/status/stop")

    assert (other_path.status_code, other_method.status_code, hit.status_code) == (200, 200, 500)


async def test_a_fault_with_count_zero_lasts_until_reset(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.arm(Fault("status", status=401, message="authentication failure", count=0))

    codes = [(await client.get(f"{API}/version")).status_code for _ in range(3)]
    sim.reset_faults()

    assert codes == [401, 401, 401]
    assert (await client.get(f"{API}/version")).status_code == 200


async def test_a_fault_with_a_count_fires_that_many_times(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.arm(Fault("status", status=500, count=2))

    codes = [(await client.get(f"{API}/version")).status_code for _ in range(3)]

    assert codes == [500, 500, 200]


async def test_an_html_fault_looks_like_a_proxy_error_page(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.arm(Fault("html"))

    response = await client.get(f"{API}/nodes")

    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text and "nginx" in response.text


async def test_a_bad_json_fault_answers_200_with_a_login_page(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.arm(Fault("bad-json"))

    response = await client.get(f"{API}/nodes")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError, match="Expecting value"):
        response.json()


async def test_a_hang_never_answers_and_can_be_cancelled(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.arm(Fault("hang"))

    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.5):
            await client.get(f"{API}/nodes")

    assert sim.requests[-1].path == "/nodes"
    assert (await client.get(f"{API}/nodes")).status_code == 200


async def test_faults_fire_before_authentication(sim: Simulator) -> None:
    sim.arm(Fault("status", status=503))

    async with make_client(sim, auth=False) as anonymous:
        response = await anonymous.get(f"{API}/version")

    assert response.status_code == 503
    assert len(sim.requests) == 1


async def test_latency_delays_every_request(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.latency_ms = 20

    began = time.perf_counter()
    data(await client.get(f"{API}/version"))

    assert time.perf_counter() - began >= 0.02


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"kind": "status", "count": -1}, "count must be"),
        ({"kind": "status", "status": 42}, "HTTP status code"),
    ],
)
def test_a_fault_that_makes_no_sense_is_rejected(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Fault.from_dict(fields)
