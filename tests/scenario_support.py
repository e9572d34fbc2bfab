"""The harness of the scenario suite: an admin's request, the calls an assistant makes for it, counted.

A scenario is an async function that plays the assistant on the consolidated surface: it calls tools through
`Assistant` (which counts every call, refused ones included) and reads the answers as an assistant would.
`Book` collects scenarios with their request, the exact number of calls and the policy they run under.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
from mcp import Client

from pvemcp.catalog.spec import Module
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.inventory import Policy
from pvesim import Simulator
from tests.conftest import FULL, payload

# The read-only default, that default with the advanced module, and everything.
READ = Policy(mode="consolidated")
READ_ADVANCED = Policy(mode="consolidated", module=Module.ADVANCED)
WRITE = replace(FULL, mode="consolidated")


class Assistant:
    """The assistant's side of one conversation: every tool call goes through here and is counted."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def _call(self, tool: str, arguments: Mapping[str, Any] | None, more: dict[str, Any]) -> tuple[bool, Any]:
        args = {**(arguments or {}), **more}
        self.calls.append((tool, args))
        result = await self.client.call_tool(tool, args)
        return bool(result.is_error), payload(result)

    async def ask(self, tool: str, arguments: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]:
        """A call that must succeed; its structured answer."""
        failed, body = await self._call(tool, arguments, more)
        assert not failed, (tool, body)
        return dict(body)

    async def refused(self, tool: str, arguments: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]:
        """A call that must fail with a structured error: code, message and hint."""
        failed, body = await self._call(tool, arguments, more)
        assert failed, (tool, body)
        assert set(body) >= {"code", "message", "hint"}, body
        return dict(body)

    async def follow(self, pointer: Mapping[str, Any], **more: Any) -> dict[str, Any]:
        """Make the call an answer points to (`next` or `use`: {"tool", "arguments"})."""
        return await self.ask(str(pointer["tool"]), dict(pointer["arguments"]), **more)


Run = Callable[[Assistant, Simulator], Awaitable[None]]
Setup = Callable[[Simulator, ProxmoxClient], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Scenario:
    request: str  # the admin's words
    run: Run
    calls: int  # the shortest sequence, exactly
    policy: Policy
    setup: Setup | None = None  # the cluster as the request finds it, set up through Proxmox's API
    pending: str | None = None  # why the surface cannot answer yet (xfail)

    @property
    def name(self) -> str:
        return self.run.__name__


class Book:
    """The scenarios of a module, in order, as pytest parameters."""

    def __init__(self) -> None:
        self.scenarios: list[Scenario] = []

    def __call__(
        self, request: str, *, calls: int, policy: Policy = READ, setup: Setup | None = None, pending: str | None = None
    ) -> Callable[[Run], Run]:
        def register(run: Run) -> Run:
            self.scenarios.append(Scenario(request, run, calls, policy, setup, pending))
            return run

        return register

    def params(self) -> list[Any]:
        return [
            pytest.param(case, id=case.name, marks=[pytest.mark.xfail(strict=False, reason=case.pending)])
            if case.pending
            else pytest.param(case, id=case.name)
            for case in self.scenarios
        ]


def where(items: Iterable[Mapping[str, Any]], **match: Any) -> list[dict[str, Any]]:
    """The rows whose fields equal every given value."""
    return [dict(row) for row in items if all(row.get(key) == value for key, value in match.items())]


def one(items: Iterable[Mapping[str, Any]], **match: Any) -> dict[str, Any]:
    rows = where(items, **match)
    assert len(rows) == 1, (match, rows)
    return rows[0]


SHARE = re.compile(r"\(([0-9.]+)%\)")


def percent(row: Mapping[str, Any], key: str) -> float:
    """A concise size's share of its maximum, as `<key>_percent` or as "x of y (z%)"."""
    if f"{key}_percent" in row:
        return float(row[f"{key}_percent"])
    found = SHARE.search(str(row[key]))
    assert found is not None, (key, row[key])
    return float(found.group(1))


def setting(sim: Simulator, vmid: int, key: str) -> str:
    """A guest's config value as Proxmox writes it in the config file."""
    return str(sim.state.guests[vmid].config.get(key))


def tags(row: Mapping[str, Any]) -> set[str]:
    return set(filter(None, str(row.get("tags", "")).split(";")))
