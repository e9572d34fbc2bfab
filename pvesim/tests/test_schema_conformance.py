"""The simulator must never disagree with the official PVE 9.1 API schema (check data only)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from pvesim import Simulator
from pvesim.handlers import ALL_ROUTES
from pvesim.routes import Route
from sim_support import API, load_endpoints, sample_path, schema_dir

SCHEMA = schema_dir()
pytestmark = pytest.mark.skipif(SCHEMA is None, reason="the PVE API schema (../shared/pve-api) is not present")


@pytest.fixture(scope="module")
def endpoints() -> dict[tuple[str, str], dict[str, Any]]:
    assert SCHEMA is not None
    return load_endpoints(SCHEMA)


def bound(value: object) -> float | None:
    """The schema writes a few bounds as strings ("0"), as Perl does not tell them apart."""
    return None if value is None else float(str(value))


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


@pytest.mark.parametrize("route", ALL_ROUTES, ids=route_id)
def test_every_route_exists_in_the_schema_with_the_same_parameters(
    route: Route, endpoints: dict[tuple[str, str], dict[str, Any]]
) -> None:
    endpoint = endpoints.get((route.method, route.path))
    assert endpoint is not None, f"{route.method} {route.path} is not in the PVE API"
    schema_params: dict[str, dict[str, Any]] = endpoint["parameters"]

    assert set(route.declared) == set(schema_params), "declared parameters differ from the schema"
    for name, param in route.declared.items():
        facts = schema_params[name]
        assert param.type == facts["type"], name
        assert param.optional == bool(facts.get("optional", False)), name
        assert param.enum == (tuple(facts["enum"]) if facts.get("enum") is not None else None), name
        assert bound(param.minimum) == bound(facts.get("minimum")), name
        assert bound(param.maximum) == bound(facts.get("maximum")), name
        assert param.max_length == facts.get("maxLength"), name
        assert param.pattern == facts.get("pattern"), name
        fmt = facts.get("format")
        assert param.format == (fmt if isinstance(fmt, str) else None), name


PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (int,),
    "object": (dict,),
    "array": (list,),
}


def check_fields(where: str, record: dict[str, Any], fields: dict[str, dict[str, Any]]) -> None:
    for name, facts in fields.items():
        if not facts.get("optional"):
            assert name in record, f"{where}: missing {name}"
        if name not in record or record[name] is None:
            continue
        value = record[name]
        assert isinstance(value, PY_TYPES.get(facts["type"], (object,))), f"{where}: {name}={value!r}"
        assert not isinstance(value, bool), f"{where}: {name} must be 0/1, not a JSON boolean"
        if facts["type"] == "boolean":
            assert value in (0, 1), f"{where}: {name}={value!r}"
        if "enum" in facts and facts["type"] == "string":
            assert value in facts["enum"], f"{where}: {name}={value!r}"


@pytest.mark.anyio
async def test_every_answer_carries_the_fields_the_schema_promises_with_their_types(
    endpoints: dict[tuple[str, str], dict[str, Any]],
) -> None:
    sim = Simulator()
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=sim.app),
        base_url="https://pve1.sim:8006",
        headers={"Authorization": sim.authorization},
    ) as client:
        for route in ALL_ROUTES:
            if route.method != "GET":
                continue
            endpoint = endpoints[(route.method, route.path)]
            # Required query parameters with a choice (an RRD timeframe, a cloud-init dump type): the first.
            query = {
                name: facts["enum"][0]
                for name, facts in endpoint["parameters"].items()
                if not facts.get("optional") and name not in route.placeholders and "enum" in facts
            }
            body = (await client.get(API + sample_path(sim, route.path), params=query)).json()
            fields: dict[str, dict[str, Any]] = endpoint.get("returns_fields") or {}
            payload = body["data"]
            records = payload if endpoint["returns"] == "array" else [payload]
            if endpoint["returns"] == "array":
                assert isinstance(payload, list) and payload, route.path
            for record in records:
                if fields and isinstance(record, dict):
                    check_fields(route.path, record, fields)
