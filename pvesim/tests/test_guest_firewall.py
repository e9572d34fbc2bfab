"""A guest's firewall options: read as PVE does (only what is set), written, reset, guarded by the digest."""

from __future__ import annotations

import httpx2
import pytest

from pvesim import Simulator
from sim_support import API, data

pytestmark = pytest.mark.anyio

WEB = "/nodes/pve1/qemu/100/firewall/options"  # web-01: seeded with its firewall on
PLAIN = "/nodes/pve3/lxc/201/firewall/options"  # ct-proxy: nothing set


async def test_a_read_returns_only_what_is_set_with_a_digest(client: httpx2.AsyncClient) -> None:
    seeded = data(await client.get(f"{API}{WEB}"))
    plain = data(await client.get(f"{API}{PLAIN}"))

    assert seeded.keys() == {"enable", "digest"} and seeded["enable"] == 1
    assert list(plain) == ["digest"]  # every option has its default
    assert seeded["digest"] != plain["digest"]


async def test_a_write_sets_and_deletes_options(sim: Simulator, client: httpx2.AsyncClient) -> None:
    stamp = data(await client.get(f"{API}{PLAIN}"))["digest"]

    given = {"enable": "1", "policy_in": "REJECT", "macfilter": "0", "digest": stamp}
    data(await client.put(f"{API}{PLAIN}", data=given))
    assert sim.state.firewall.guest_options[201] == {"enable": 1, "macfilter": 0, "policy_in": "REJECT"}

    data(await client.put(f"{API}{PLAIN}", data={"delete": "macfilter,policy_in", "log_level_out": "info"}))
    assert sim.state.firewall.guest_options[201] == {"enable": 1, "log_level_out": "info"}


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"policy_in": "ALLOW"}, 400, "enumeration"),
        ({"enable": "yes"}, 400, "type check"),
        ({"delete": "policy_forward"}, 400, "no such option 'policy_forward'"),
        ({"enable": "0", "digest": "0" * 40}, 500, "detected modified configuration"),
    ],
)
async def test_a_bad_write_changes_nothing(
    sim: Simulator, client: httpx2.AsyncClient, params: dict[str, str], status: int, words: str
) -> None:
    before = dict(sim.state.firewall.guest_options[100])

    response = await client.put(f"{API}{WEB}", data=params)

    assert response.status_code == status and words in response.text
    assert sim.state.firewall.guest_options[100] == before


async def test_a_guest_recreated_under_an_old_vmid_starts_without_options(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    path = f"{API}/nodes/pve1/qemu/103/firewall/options"  # db-01, seeded with enable and log_level_in
    data(await client.delete(f"{API}/nodes/pve1/qemu/103", params={"purge": "1"}))
    sim.clock.advance(30)
    assert list(data(await client.get(path))) == ["digest"]  # destroying a guest removes its .fw file

    data(await client.post(f"{API}/nodes/pve1/qemu", data={"vmid": "103", "memory": "512"}))
    sim.clock.advance(30)
    assert list(data(await client.get(path))) == ["digest"]

    data(await client.put(path, data={"radv": "1"}))
    assert data(await client.get(path)).keys() == {"radv", "digest"}
