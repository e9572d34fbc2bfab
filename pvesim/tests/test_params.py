from __future__ import annotations

import httpx2
import pytest

from pvesim.errors import ApiError
from pvesim.params import Param, integer, text, validate
from sim_support import API

pytestmark = pytest.mark.anyio

UNKNOWN = "property is not defined in schema and the schema does not allow additional properties"


async def errors_of(response: httpx2.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["message"] == "Parameter verification failed.\n"
    assert body["data"] is None
    errors: dict[str, str] = body["errors"]
    return errors


async def test_an_unknown_parameter_is_refused_in_pve_words(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/qemu", params={"fulll": "1"})

    assert await errors_of(response) == {"fulll": UNKNOWN}


async def test_a_non_integer_is_refused_with_a_type_check_error(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/tasks", params={"limit": "abc"})

    assert await errors_of(response) == {"limit": "type check ('integer') failed - got 'abc'"}


async def test_a_non_integer_in_the_path_is_refused_the_same_way(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/qemu/abc/status/current")

    assert await errors_of(response) == {"vmid": "type check ('integer') failed - got 'abc'"}


async def test_a_vmid_below_100_fails_the_vmid_format_before_the_minimum(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/qemu/99/config")

    assert await errors_of(response) == {"vmid": "invalid format - value does not look like a valid VM ID\n"}


async def test_a_value_below_the_minimum_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/tasks", params={"start": "-1"})

    assert await errors_of(response) == {"start": "value must have a minimum value of 0"}


async def test_a_value_outside_the_enumeration_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/cluster/resources", params={"type": "qemu"})

    assert await errors_of(response) == {
        "type": "value 'qemu' does not have a value in the enumeration 'vm, storage, node, sdn'"
    }


@pytest.mark.parametrize("value", ["true", "yes", "on", "2"])
async def test_booleans_must_be_0_or_1_as_pve_checks_them(client: httpx2.AsyncClient, value: str) -> None:
    response = await client.get(f"{API}/nodes/pve1/qemu", params={"full": value})

    assert await errors_of(response) == {"full": f"type check ('boolean') failed - got '{value}'"}


@pytest.mark.parametrize("value", ["0", "1"])
async def test_booleans_0_and_1_are_accepted(client: httpx2.AsyncClient, value: str) -> None:
    response = await client.get(f"{API}/nodes/pve1/qemu", params={"full": value})

    assert response.status_code == 200


async def test_json_booleans_and_numbers_are_accepted(client: httpx2.AsyncClient) -> None:
    response = await client.post(f"{API}/nodes/pve1/qemu/100/status/shutdown", json={"forceStop": True, "timeout": 30})

    assert response.status_code == 200


async def test_every_problem_is_reported_in_one_answer(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/tasks", params={"limit": "x", "source": "old", "colour": "red"})

    assert await errors_of(response) == {
        "limit": "type check ('integer') failed - got 'x'",
        "source": "value 'old' does not have a value in the enumeration 'archive, active, all'",
        "colour": UNKNOWN,
    }


async def test_list_formats_check_every_element(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/storage", params={"content": "iso,pictures"})

    assert await errors_of(response) == {"content": "invalid format - invalid content type 'pictures'\n"}


async def test_a_malformed_storage_id_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/storage/9lives/content")

    assert await errors_of(response) == {
        "storage": "invalid format - storage ID '9lives' contains illegal characters\n"
    }


def test_a_missing_required_parameter_is_reported() -> None:
    declared = {"name": text("name", optional=False), "count": integer("count")}

    with pytest.raises(ApiError) as caught:
        validate(declared, {"count": "3"})

    assert caught.value.status == 400
    assert caught.value.errors == {"name": "property is missing and it is not optional"}


def test_values_are_converted_to_their_declared_types() -> None:
    declared = {
        "n": integer("n"),
        "on": Param("on", "boolean"),
        "ratio": Param("ratio", "number"),
        "s": text("s"),
    }

    assert validate(declared, {"n": "+7", "on": "1", "ratio": "0.5", "s": 12}) == {
        "n": 7,
        "on": 1,
        "ratio": 0.5,
        "s": "12",
    }


@pytest.mark.parametrize(
    ("param", "value", "error"),
    [
        (Param("ratio", "number"), "1e", "type check ('number') failed - got '1e'"),
        (text("word", max_length=3), "abcd", "value may only be 3 characters long"),
        (text("code", pattern=r"[a-z]+\d"), "abc", "value does not match the regex pattern"),
        (integer("small", maximum=10), "11", "value must have a maximum value of 10"),
        (Param("flag", "boolean"), ["1"], "type check ('boolean') failed - got ARRAY"),
        (integer("n"), True, "type check ('integer') failed - got JSON::PP::Boolean"),
    ],
)
def test_each_schema_rule_has_pve_wording(param: Param, value: object, error: str) -> None:
    with pytest.raises(ApiError) as caught:
        validate({param.name: param}, {param.name: value})

    assert caught.value.errors == {param.name: error}
