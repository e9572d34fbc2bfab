"""Whole-catalog invariants: every record is complete, safe and faithful to the official API schema."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from pvemcp.catalog import ALL_TOOLS
from pvemcp.catalog.spec import Local, Raw, Rest, Ssh, Tier, ToolSpec
from pvemcp.server.dispatch import OWN_HANDLERS
from pvemcp.server.handlers import HANDLERS
from pvemcp.server.inventory import Inventory
from pvemcp.server.listing import build_listing
from tests.conftest import FULL, SCHEMA_DIR

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,63}$")
IDS = [spec.name for spec in ALL_TOOLS]


@cache
def endpoints() -> dict[tuple[str, str], dict[str, Any]]:
    path = SCHEMA_DIR / "endpoints.json"
    if not path.is_file():
        pytest.skip("the official PVE API schema (../shared/pve-api) is not available here")
    return {(e["method"], e["path"]): e for e in json.loads(path.read_text())}


def test_tool_and_alias_names_are_unique_and_valid() -> None:
    names = [spec.name for spec in ALL_TOOLS] + [alias for spec in ALL_TOOLS for alias in spec.aliases]
    assert len(names) == len(set(names))
    assert all(NAME.match(name) for name in names)


@pytest.mark.parametrize("spec", ALL_TOOLS, ids=IDS)
def test_every_tool_is_described_for_the_model(spec: ToolSpec) -> None:
    assert spec.title and len(spec.description) >= 40
    assert all(len(p.description) >= 10 for p in spec.params)
    assert spec.handler is None or spec.handler in HANDLERS or spec.handler in OWN_HANDLERS


@pytest.mark.parametrize("spec", ALL_TOOLS, ids=IDS)
def test_every_placeholder_is_a_parameter_that_is_required_or_resolvable(spec: ToolSpec) -> None:
    for name in spec.placeholders:
        param = spec.param(name)
        assert param is not None, name
        resolvable = (name == "node" and (spec.guest_type is not None or spec.param("upid") is not None)) or (
            name == "guest_type" and spec.guest_type == "any"
        )
        assert param.required or resolvable, name


@pytest.mark.parametrize("spec", ALL_TOOLS, ids=IDS)
def test_safety_flags_are_consistent(spec: ToolSpec) -> None:
    if spec.confirm:
        assert spec.destructive
    if spec.tier is Tier.READ_ONLY:
        assert spec.read_only and not spec.destructive
    if not spec.read_only:
        assert spec.tier > Tier.READ_ONLY
    words = ("stop", "shutdown", "reboot", "reset", "suspend", "delete", "rollback", "restore", "migrate")
    if any(word in spec.name for word in words) and not spec.read_only:
        assert spec.confirm, "tools that stop, remove, roll back, restore or migrate things confirm"
    for name in spec.at_least_one:
        assert spec.param(name) is not None, name


def test_every_listed_tool_carries_all_four_annotations_and_a_closed_schema() -> None:
    for tool in build_listing(Inventory(FULL)):
        assert tool.annotations is not None
        hints = tool.annotations.model_dump(by_alias=True, exclude_none=True)
        assert set(hints) >= {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}
        assert hints["openWorldHint"] is False
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False


def official_paths(spec: ToolSpec) -> list[str]:
    """A {guest_type} path stands for both the QEMU and the LXC endpoint."""
    if "{guest_type}" in spec.path:
        return [spec.path.replace("{guest_type}", kind) for kind in ("qemu", "lxc")]
    return [spec.path]


# Tools that pvemcp answers itself (api=False) name no endpoint of their own; nor does the raw API (raw=True),
# whose caller names the path (checked for shape and scope at call time, answered by Proxmox itself).
API_TOOLS = [spec for spec in ALL_TOOLS if spec.api and not spec.raw]


@pytest.mark.parametrize("spec", API_TOOLS, ids=[spec.name for spec in API_TOOLS])
def test_method_path_and_parameters_exist_in_the_official_schema(spec: ToolSpec) -> None:
    for path in official_paths(spec):
        endpoint = endpoints().get((spec.method, path))
        assert endpoint is not None, f"{spec.method} {path} is not in the PVE API"
        official = endpoint["parameters"]
        for key in spec.fixed:
            assert key in official
        for param in spec.params:
            if param.local or param.name == "guest_type":
                continue
            name = param.api_name
            if name not in official:  # numbered properties (ipconfig0, net1) are declared once, as ipconfig[n]
                name = re.sub(r"\d+$", "[n]", name)
            assert name in official, f"{param.api_name} is not a parameter of {spec.method} {path}"
            schema = official[name]
            assert param.type == schema["type"], name
            if param.enum and schema.get("enum"):
                assert set(param.enum) <= set(schema["enum"]), name
            if param.minimum is not None and schema.get("minimum") is not None:
                assert param.minimum >= float(schema["minimum"]), name
            if not schema.get("optional", False) and param.name not in spec.placeholders and name not in spec.fixed:
                assert param.required, f"{name} is required by Proxmox"


@pytest.mark.parametrize("spec", ALL_TOOLS, ids=IDS)
def test_the_record_says_what_the_tool_sends(spec: ToolSpec) -> None:
    """No placeholder endpoints: a tool without one of its own has no method or path to report."""
    if spec.rest is None and not spec.raw:
        with pytest.raises(TypeError, match="sends no request of its own"):
            _ = spec.path
        assert spec.placeholders == () and spec.guest_type is None
    assert spec.api == isinstance(spec.target, Rest | Raw)
    assert spec.ssh == isinstance(spec.target, Ssh)
    if isinstance(spec.target, Ssh):  # an SSH command that can change things is never read-only
        assert spec.read_only is not spec.target.writes
        assert spec.target.writes == spec.destructive
    if isinstance(spec.target, Local):
        assert spec.read_only and spec.tier is Tier.READ_ONLY
