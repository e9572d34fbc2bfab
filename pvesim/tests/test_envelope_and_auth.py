from __future__ import annotations

import json

import httpx2
import pytest

from pvesim import Simulator
from sim_support import API, data, make_client

pytestmark = pytest.mark.anyio


async def test_a_request_with_the_token_gets_its_data_in_a_compact_envelope(
    client: httpx2.AsyncClient,
) -> None:
    response = await client.get(f"{API}/version")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert response.text.startswith('{"data":{')
    assert ": " not in response.text and ", " not in response.text
    assert data(response) == {"version": "9.1.4", "release": "9.1", "repoid": "5ad4ae8d1f0d3b0a"}


async def test_a_request_without_a_token_is_refused_with_401(sim: Simulator) -> None:
    async with make_client(sim, auth=False) as anonymous:
        response = await anonymous.get(f"{API}/version")

    assert response.status_code == 401
    assert response.json() == {"data": None, "message": "authentication failure\n"}


@pytest.mark.parametrize(
    "header",
    [
        "PVEAPIToken=root@pam!pvemcp=wrong-secret",
        "PVEAPIToken=root@pam!other=5e1f3b5c-0d7a-4c2e-9f4b-8a6d2c1e7b90",
        "Bearer 5e1f3b5c-0d7a-4c2e-9f4b-8a6d2c1e7b90",
        "PVEAPIToken=root@pam!pvemcp",
    ],
)
async def test_a_wrong_or_malformed_token_is_refused_with_401(sim: Simulator, header: str) -> None:
    async with make_client(sim, auth=False) as c:
        response = await c.get(f"{API}/version", headers={"Authorization": header})

    assert response.status_code == 401


async def test_the_authorization_value_names_the_configured_token() -> None:
    sim = Simulator(token_id="ops@pve!ci", token_secret="s3cret")

    assert sim.authorization == "PVEAPIToken=ops@pve!ci=s3cret"
    async with make_client(sim) as c:
        assert (await c.get(f"{API}/version")).status_code == 200


def test_a_token_id_without_user_realm_and_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="user@realm!name"):
        Simulator(token_id="root")


async def test_every_request_is_recorded_even_when_refused(sim: Simulator) -> None:
    async with make_client(sim, auth=False) as anonymous:
        await anonymous.get(f"{API}/nodes/pve1/qemu", params={"full": "1"})

    assert [(r.method, r.path, r.params) for r in sim.requests] == [("GET", "/nodes/pve1/qemu", {"full": "1"})]


async def test_an_unknown_path_answers_501_not_implemented(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/frobnicate")

    assert response.status_code == 501
    assert response.json() == {"data": None, "message": "Method 'GET /nodes/pve1/frobnicate' not implemented"}


async def test_a_known_path_with_another_method_answers_501(client: httpx2.AsyncClient) -> None:
    response = await client.delete(f"{API}/version")

    assert response.status_code == 501
    assert response.json()["message"] == "Method 'DELETE /version' not implemented"


async def test_a_node_outside_the_cluster_fails_the_hostname_lookup_with_500(
    client: httpx2.AsyncClient,
) -> None:
    response = await client.get(f"{API}/nodes/pve9/qemu", params={"bogus": "1"})

    assert response.status_code == 500
    assert response.json() == {
        "data": None,
        "message": "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known\n",
    }


async def test_an_offline_node_answers_595_from_the_proxy(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.state.nodes["pve2"].online = False

    response = await client.get(f"{API}/nodes/pve2/status")

    assert response.status_code == 595


async def test_localhost_stands_for_the_node_that_answers(client: httpx2.AsyncClient) -> None:
    guests = data(await client.get(f"{API}/nodes/localhost/qemu"))

    assert [g["vmid"] for g in guests] == [100, 103, 106, 109]


async def test_form_json_and_query_parameters_are_all_accepted(sim: Simulator, client: httpx2.AsyncClient) -> None:
    form = await client.post(f"{API}/nodes/pve1/qemu/100/status/stop", data={"timeout": "5"})
    body = await client.post(f"{API}/nodes/pve1/qemu/106/status/stop", json={"timeout": 5, "keepActive": False})
    query = await client.post(f"{API}/nodes/pve1/qemu/103/status/start", params={"timeout": "5"})

    assert [form.status_code, body.status_code, query.status_code] == [200, 200, 200]
    assert [r.params for r in sim.requests] == [
        {"timeout": "5"},
        {"timeout": 5, "keepActive": False},
        {"timeout": "5"},
    ]


async def test_a_malformed_json_body_is_refused_with_400(client: httpx2.AsyncClient) -> None:
    response = await client.post(
        f"{API}/nodes/pve1/qemu/100/status/stop",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["data"] is None


async def test_a_path_parameter_repeated_with_another_value_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/qemu/100/config", params={"vmid": "101"})

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "vmid": "duplicate parameter (already defined in URI) with conflicting values!"
    }


async def test_paths_outside_the_api_are_not_found(client: httpx2.AsyncClient) -> None:
    response = await client.get("/pve2/index.html")

    assert response.status_code == 404


async def test_error_bodies_are_json_with_a_null_data_member(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/qemu/101/config")

    body = json.loads(response.text)
    assert response.status_code == 500
    assert body == {"data": None, "message": "Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist\n"}
