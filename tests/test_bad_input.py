"""Bad input gets a clear TOOL_INPUT_REJECTED and changes nothing: no request reaches Proxmox."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pvemcp.catalog import ALL_TOOLS
from pvemcp.catalog.spec import Param, ToolSpec
from pvesim import Simulator
from tests.conftest import FULL, McpFactory, payload

pytestmark = pytest.mark.anyio

UPID = "UPID:pve1:00001234:00005678:6743A1B2:qmstart:100:root@pam!pvemcp:"
BASE: dict[str, Any] = {"node": "pve1", "vmid": 100, "upid": UPID, "storage": "local"}
PATH_BREAKERS = ["../etc", "pve1/../x", "a/b", "a?b=1", "a#b", "a\nb", "a\x00b", "-oProxyCommand=x", "a b", ""]
TEXT_BREAKERS = ["-rf", "a\x00b", "a\x1bb"]
WRONG_TYPE: dict[str, object] = {
    "integer": "100",
    "boolean": "yes",
    "string": 7,
    "number": "1",
    "array": "x",
    "object": [],
}


def sample(param: Param) -> object:
    if param.name in BASE:
        return BASE[param.name]
    if param.enum:
        return param.enum[0]
    samples = {
        "string": "x1",
        "integer": param.minimum or 1,
        "boolean": True,
        "number": 1,
        "array": ["x1"],
        "object": {},
    }
    return samples[param.type]


def valid_args(spec: ToolSpec) -> dict[str, Any]:
    args = {p.name: sample(p) for p in spec.params if p.required}
    for group in (spec.at_least_one, spec.only_one):
        if group:
            first = spec.param(group[0])
            assert first is not None
            args[first.name] = sample(first)
    if spec.confirm:
        args["confirm"] = True
    return args


STRING_CASES = [
    (spec, param.name, value)
    for spec in ALL_TOOLS
    for param in spec.params
    if param.type == "string" and not param.enum
    for value in (TEXT_BREAKERS if param.free_text else PATH_BREAKERS)
]
TYPE_CASES = [(spec, param.name, WRONG_TYPE[param.type]) for spec in ALL_TOOLS for param in spec.params]


SSH_TOOLS = frozenset(spec.name for spec in ALL_TOOLS if spec.ssh)


async def assert_rejected(connect: McpFactory, sim: Simulator, name: str, args: dict[str, Any]) -> dict[str, Any]:
    async with connect(replace(FULL, ssh=name in SSH_TOOLS)) as client:  # SSH tools are listed only with SSH on
        result = await client.call_tool(name, args)
    assert result.is_error
    body = payload(result)
    assert body["code"] == "TOOL_INPUT_REJECTED", body
    assert body["hint"]
    assert sim.requests == []
    return body


@pytest.mark.parametrize(("spec", "param", "value"), STRING_CASES, ids=lambda v: getattr(v, "name", repr(v)))
async def test_path_breaking_values_are_rejected_before_any_request(
    connect: McpFactory, sim: Simulator, spec: ToolSpec, param: str, value: str
) -> None:
    body = await assert_rejected(connect, sim, spec.name, {**valid_args(spec), param: value})
    assert param in body["message"]


@pytest.mark.parametrize(("spec", "param", "value"), TYPE_CASES, ids=lambda v: getattr(v, "name", repr(v)))
async def test_wrong_types_are_rejected_before_any_request(
    connect: McpFactory, sim: Simulator, spec: ToolSpec, param: str, value: object
) -> None:
    body = await assert_rejected(connect, sim, spec.name, {**valid_args(spec), param: value})
    assert param in body["message"]


@pytest.mark.parametrize("spec", ALL_TOOLS, ids=lambda s: s.name)
async def test_unknown_properties_are_rejected_before_any_request(
    connect: McpFactory, sim: Simulator, spec: ToolSpec
) -> None:
    body = await assert_rejected(connect, sim, spec.name, {**valid_args(spec), "bogus": 1})
    assert "bogus" in body["message"]


@pytest.mark.parametrize("spec", [s for s in ALL_TOOLS if any(p.required for p in s.params)], ids=lambda s: s.name)
async def test_missing_required_arguments_are_rejected(connect: McpFactory, sim: Simulator, spec: ToolSpec) -> None:
    required = next(p.name for p in spec.params if p.required)
    args = valid_args(spec)
    del args[required]
    body = await assert_rejected(connect, sim, spec.name, args)
    assert required in body["message"]


async def test_out_of_range_vmids_are_rejected(connect: McpFactory, sim: Simulator) -> None:
    await assert_rejected(connect, sim, "pve_get_qemu_status", {"vmid": 99})
