"""Input that only breaks on the way out: a query too long for a URL, NaN and Infinity, integers written as 106.0.

Each is refused (or normalised) at validation with TOOL_INPUT_REJECTED, before any request reaches Proxmox,
never an INTERNAL_ERROR from the HTTP client.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from pvemcp.catalog import ALL_TOOLS, BY_NAME
from pvemcp.catalog.spec import Param, ToolSpec
from pvemcp.pve import wire
from pvemcp.pve.errors import ToolCallError
from pvemcp.server.validation import ArgumentValidator, check_query
from pvesim import Simulator
from tests.conftest import McpFactory, payload
from tests.helpers import failed

pytestmark = pytest.mark.anyio

LONG = "a" * (wire.MAX_QUERY + 1)
REQUIRED = {"node": "pve1", "vmid": 100, "storage": "local", "id": "100-0", "name": "x1"}


def required_args(spec: ToolSpec) -> dict[str, Any]:
    samples: dict[str, Any] = {"string": "x1", "integer": 1, "boolean": True, "number": 1, "array": [], "object": {}}
    args = {p.name: p.enum[0] if p.enum else REQUIRED.get(p.name, samples[p.type]) for p in spec.params if p.required}
    return {**args, "confirm": True} if spec.confirm else args


# Every catalog tool whose free text travels in a URL's query: none may reach the HTTP client too long.
QUERY_TEXT = [
    (spec, param)
    for spec in ALL_TOOLS
    if spec.api and not spec.ssh and not spec.raw and spec.method in ("GET", "DELETE")
    for param in spec.params
    if param.type == "string" and param.free_text and not param.local and param.name not in spec.placeholders
]


def test_the_query_limit_counts_the_encoded_query() -> None:
    fits = [("x", "a" * (wire.MAX_QUERY - 2))]
    assert wire.query_problem(fits) is None
    check_query("pve_api_get", fits)
    too_long = [("short", "1"), ("file", "/" * (wire.MAX_QUERY // 3))]  # '/' is sent as %2F: three bytes each
    problem = wire.query_problem(too_long)
    assert problem is not None and "'file'" in problem and f"{wire.MAX_QUERY:,}" in problem
    with pytest.raises(ToolCallError) as caught:
        check_query("pve_api_get", too_long)
    assert caught.value.code == "TOOL_INPUT_REJECTED" and caught.value.hint


@pytest.mark.parametrize(("spec", "param"), QUERY_TEXT, ids=lambda v: getattr(v, "name", repr(v)))
async def test_a_query_too_long_for_a_url_is_refused_before_any_request(
    connect: McpFactory, sim: Simulator, spec: ToolSpec, param: Param
) -> None:
    body = await failed(connect, spec.name, {**required_args(spec), param.name: LONG})
    assert body["code"] == "TOOL_INPUT_REJECTED", body
    assert "query string" in body["message"] and repr(param.api_name) in body["message"]
    assert sim.requests == []


@pytest.mark.parametrize(
    "args",
    [
        {"path": "/cluster/resources", "params": {"type": LONG}},
        {"path": "/cluster/tasks", "params": {"typefilter": ["qmstart" * 20] * 100}},  # many short values add up
    ],
    ids=["one-long-value", "many-values"],
)
async def test_the_raw_get_refuses_a_query_too_long_for_a_url(
    connect: McpFactory, sim: Simulator, args: dict[str, Any]
) -> None:
    body = await failed(connect, "pve_api_get", args)
    assert body["code"] == "TOOL_INPUT_REJECTED" and "query string" in body["message"], body
    assert sim.requests == []


async def test_a_raw_delete_is_held_to_the_query_limit_and_a_body_is_not(connect: McpFactory, sim: Simulator) -> None:
    delete = {"method": "DELETE", "path": "/pools/p1", "params": {"comment": LONG}, "confirm": True}
    body = await failed(connect, "pve_api_call", delete)
    assert body["code"] == "TOOL_INPUT_REJECTED" and "query string" in body["message"], body
    assert sim.requests == []
    put = {"method": "PUT", "path": "/pools/p1", "params": {"comment": LONG}, "confirm": True}
    async with connect() as client:
        result = await client.call_tool("pve_api_call", put)  # a form body: Proxmox judges it
    assert not result.is_error or payload(result)["code"] not in ("TOOL_INPUT_REJECTED", "INTERNAL_ERROR")
    assert sim.requests


async def test_a_query_just_within_the_limit_reaches_proxmox(connect: McpFactory, sim: Simulator) -> None:
    body = await failed(connect, "pve_api_get", {"path": "/cluster/resources", "params": {"type": "a" * 8000}})
    assert body["code"] == "PROXMOX_REQUEST_REJECTED", body  # Proxmox's own word on a bad type
    assert sim.requests


async def test_free_text_in_a_path_segment_is_bounded_too(connect: McpFactory, sim: Simulator) -> None:
    args = {"node": "pve1", "storage": "local", "volume": "local:iso/" + "a" * 2000, "confirm": True}
    body = await failed(connect, "pve_delete_storage_volume", args)
    assert body["code"] == "TOOL_INPUT_REJECTED" and "volume must be at most" in body["message"], body
    assert sim.requests == []


NON_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
@pytest.mark.parametrize(
    ("tool", "args", "where"),
    [
        ("pve_update_replication_job", {"id": "100-0"}, "rate"),  # a number parameter
        ("pve_get_qemu_status", {}, "vmid"),  # an integer parameter
        ("pve_api_get", {"path": "/cluster/resources"}, "params.x[1]"),  # raw parameters, at any depth
    ],
)
def test_nan_and_infinity_are_refused_for_every_number(
    tool: str, args: dict[str, Any], where: str, value: float
) -> None:
    value_args = {"params": {"x": [1, value]}} if where.startswith("params") else {where: value}
    with pytest.raises(ToolCallError) as caught:
        ArgumentValidator(BY_NAME[tool]).validate({**args, **value_args})
    assert caught.value.code == "TOOL_INPUT_REJECTED"
    assert f"{where} must be a finite number" in caught.value.message


@pytest.mark.parametrize("value", [True, False, 106.5, "106"], ids=repr)
def test_an_integer_parameter_takes_only_whole_numbers(value: object) -> None:
    with pytest.raises(ToolCallError) as caught:
        ArgumentValidator(BY_NAME["pve_get_qemu_status"]).validate({"vmid": value})
    assert caught.value.code == "TOOL_INPUT_REJECTED" and "vmid" in caught.value.message


def test_a_whole_number_written_as_106_0_is_the_integer_106() -> None:
    args = ArgumentValidator(BY_NAME["pve_get_qemu_status"]).validate({"vmid": 106.0})
    assert args["vmid"] == 106 and type(args["vmid"]) is int
    rate = ArgumentValidator(BY_NAME["pve_update_replication_job"]).validate({"id": "100-0", "rate": 2.0})
    assert type(rate["rate"]) is float  # a number parameter keeps its float


async def test_a_cursor_from_limit_2_0_serves_limit_2(connect: McpFactory) -> None:
    """Downstream sees one integer: the page's cursor, tagged with the query, fits the same query spelled 2."""
    async with connect() as client:
        first = payload(await client.call_tool("pve_list_cluster_resources", {"limit": 2.0}))
        cursor = first["next_cursor"]
        second = await client.call_tool("pve_list_cluster_resources", {"limit": 2, "cursor": cursor})
    assert not second.is_error, payload(second)
    assert len(first["items"]) == len(payload(second)["items"]) == 2
