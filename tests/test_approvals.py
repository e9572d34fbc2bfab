"""An accepted confirmation carries out its action once, whatever the client sends back afterwards.

2026-07-28 rounds are driven leg by leg on the client session, as a client replaying a sealed requestState
would; 2025-11-25 approvals are answered by the elicitation callback inside the call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext, ClientSession

from pvemcp.audit import AuditLog
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.confirm import UsedApprovals
from pvemcp.server.context import CallContext
from pvemcp.server.dispatch import Runtime, call_tool
from pvemcp.server.inventory import Inventory
from pvesim import Simulator
from pvesim.state import Guest
from tests.conftest import FAST_RETRY, FULL, mcp_client, payload, sim_token
from tests.helpers import pick

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
STOP = "pve_stop_qemu_vm"
YES = types.ElicitResult(action="accept", content={"approve": True})
NO: dict[str, types.ElicitResult] = {
    "decline": types.ElicitResult(action="decline"),
    "cancel": types.ElicitResult(action="cancel"),
    "accept-without-approve": types.ElicitResult(action="accept", content={"approve": False}),
}


class Person:
    """The person at a 2025-11-25 client: answers each form with the next answer given."""

    def __init__(self, *answers: types.ElicitResult) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def __call__(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked += 1
        return self.answers.pop(0)


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@asynccontextmanager
async def serve(
    pve: ProxmoxClient, sim: Simulator, audit_path: Path, era: str = MODERN, person: Person | None = None
) -> AsyncIterator[Client]:
    """The real server with an audit log; the client declares elicitation even when legs are driven by hand."""
    audit = AuditLog(audit_path)
    try:
        async with mcp_client(pve, sim, era, person=person or Person(), audit=audit) as client:
            yield client
    finally:
        audit.close()


def audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def stops(sim: Simulator, guest: Guest) -> int:
    return sum(1 for r in sim.requests if r.method == "POST" and r.path.endswith(f"/qemu/{guest.vmid}/status/stop"))


async def ask(session: ClientSession, guest: Guest) -> str:
    """The first leg: the server asks, and the client keeps the sealed state."""
    first = await session.call_tool(STOP, {"vmid": guest.vmid}, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult) and first.request_state
    return first.request_state


async def answer(
    session: ClientSession, guest: Guest, state: str, reply: types.ElicitResult = YES
) -> types.CallToolResult:
    """The retry leg: the sealed state back, with an answer the client claims the person gave."""
    result = await session.call_tool(
        STOP, {"vmid": guest.vmid}, input_responses={"confirm": reply}, request_state=state
    )
    assert isinstance(result, types.CallToolResult)
    return result


def refused_as_used(result: types.CallToolResult, guest: Guest) -> None:
    body = payload(result)
    assert result.is_error and body["code"] == "APPROVAL_ALREADY_USED"
    assert f"VM {guest.vmid} '{guest.name}'" in body["message"] and "was already used" in body["message"]
    assert "nothing was changed" in body["message"] and "approve it again" in body["hint"]


async def test_a_replayed_approval_is_refused_and_the_vm_stops_once(
    pve: ProxmoxClient, sim: Simulator, audit_path: Path
) -> None:
    guest = pick(sim, "qemu", "running")
    async with serve(pve, sim, audit_path) as client:
        state = await ask(client.session, guest)
        done = await answer(client.session, guest, state)
        assert not done.is_error, done.structured_content
        guest.status = "running"  # started again: a replay that got through would stop it a second time
        replays = [await answer(client.session, guest, state) for _ in range(3)]
    for replay in replays:
        refused_as_used(replay, guest)
    assert stops(sim, guest) == 1 and sim.state.guests[guest.vmid].status == "running"
    entries = audit(audit_path)
    assert [e.get("approval") for e in entries].count("human") == 1
    refused = [e for e in entries if e["outcome"] == "refused"]
    assert len(refused) == 3 and {e["code"] for e in refused} == {"APPROVAL_ALREADY_USED"}
    assert all(e["target"]["vmid"] == guest.vmid and "approval" not in e for e in refused)


class HeldStops:
    """The simulator's API with every stop request held until `release`: one leg is still acting while the other
    is answered, so both retries of one state are in flight together."""

    def __init__(self, sim: Simulator) -> None:
        self.app = sim.app
        self.release = anyio.Event()
        self.held = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/status/stop"):
            self.held += 1
            await self.release.wait()
        await self.app(scope, receive, send)


async def test_two_concurrent_retries_of_one_approval_act_once(sim: Simulator, audit_path: Path) -> None:
    guest = pick(sim, "qemu", "running")
    gate = HeldStops(sim)
    transport = httpx2.ASGITransport(app=gate)
    pve = ProxmoxClient("https://pve1.sim:8006", sim_token(sim), transport=transport, timeout=5.0, retry=FAST_RETRY)
    results: list[types.CallToolResult] = []
    try:
        async with serve(pve, sim, audit_path) as client:
            state = await ask(client.session, guest)

            async def retry() -> None:
                results.append(await answer(client.session, guest, state))
                gate.release.set()  # the first leg to finish lets a held stop through

            with anyio.fail_after(10):  # two held stops would never finish: fail rather than hang
                async with anyio.create_task_group() as group:
                    group.start_soon(retry)
                    group.start_soon(retry)
    finally:
        await pve.aclose()
    refused, done = results  # the refusal came back while the other leg was still stopping the VM
    refused_as_used(refused, guest)
    assert not done.is_error, done.structured_content
    assert gate.held == 1 and stops(sim, guest) == 1
    outcomes = sorted((e["outcome"], e.get("approval") or e.get("code")) for e in audit(audit_path))
    assert outcomes == [("asked", None), ("ok", "human"), ("refused", "APPROVAL_ALREADY_USED")]


@pytest.mark.parametrize("no", NO.values(), ids=NO.keys())
async def test_a_declined_round_replayed_with_a_forged_yes_does_not_act(
    pve: ProxmoxClient, sim: Simulator, audit_path: Path, no: types.ElicitResult
) -> None:
    guest = pick(sim, "qemu", "running")
    async with serve(pve, sim, audit_path) as client:
        state = await ask(client.session, guest)
        declined = await answer(client.session, guest, state, no)
        forged = await answer(client.session, guest, state)
    assert payload(declined)["code"] == "CONFIRMATION_DECLINED"
    refused_as_used(forged, guest)
    assert stops(sim, guest) == 0 and sim.state.guests[guest.vmid].status == "running"
    assert [e["outcome"] for e in audit(audit_path)] == ["asked", "declined", "refused"]


async def test_a_fresh_round_after_a_used_one_acts_again(pve: ProxmoxClient, sim: Simulator, audit_path: Path) -> None:
    guest = pick(sim, "qemu", "running")
    async with serve(pve, sim, audit_path) as client:
        used = await ask(client.session, guest)
        assert not (await answer(client.session, guest, used)).is_error
        guest.status = "running"
        refused_as_used(await answer(client.session, guest, used), guest)
        fresh = await ask(client.session, guest)
        again = await answer(client.session, guest, fresh)
    assert fresh != used and not again.is_error, again.structured_content
    assert stops(sim, guest) == 2 and sim.state.guests[guest.vmid].status == "stopped"
    assert [e.get("approval") for e in audit(audit_path)].count("human") == 2


async def test_a_round_refused_for_a_changed_target_can_still_act_once(
    pve: ProxmoxClient, sim: Simulator, audit_path: Path
) -> None:
    guest = pick(sim, "qemu", "running")
    name = guest.name
    async with serve(pve, sim, audit_path) as client:
        state = await ask(client.session, guest)
        guest.config["name"] = "imposter"
        changed = await answer(client.session, guest, state)
        guest.config["name"] = name  # the guest the person approved is back: the approval was never used
        done = await answer(client.session, guest, state)
        replay = await answer(client.session, guest, state)
    assert payload(changed)["code"] == "TARGET_CHANGED"
    assert not done.is_error, done.structured_content
    assert payload(replay)["code"] == "APPROVAL_ALREADY_USED" and stops(sim, guest) == 1


async def test_a_2025_11_25_approval_is_asked_inside_the_call_and_acts_once(
    pve: ProxmoxClient, sim: Simulator, audit_path: Path
) -> None:
    guest = pick(sim, "qemu", "running")
    person = Person(YES, NO["decline"])
    async with serve(pve, sim, audit_path, "legacy", person) as client:
        done = await client.call_tool(STOP, {"vmid": guest.vmid})
        assert (person.asked, stops(sim, guest)) == (1, 1)
        guest.status = "running"
        second = await client.call_tool(STOP, {"vmid": guest.vmid})  # asks anew: the first "yes" is gone
    assert not done.is_error, done.structured_content
    assert payload(second)["code"] == "CONFIRMATION_DECLINED"
    assert (person.asked, stops(sim, guest)) == (2, 1) and sim.state.guests[guest.vmid].status == "running"
    assert [(e["outcome"], e.get("approval")) for e in audit(audit_path)] == [("ok", "human"), ("declined", None)]


async def test_a_state_without_a_nonce_is_asked_again_never_acted_on(pve: ProxmoxClient, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    target = [guest.vmid, guest.type, guest.name, guest.node]
    old = json.dumps({"kind": "pvemcp.confirm/1", "tool": STOP, "target": target})
    ctx = CallContext(era="modern", can_elicit=True, request_state=old, input_responses={"confirm": YES})
    result = await call_tool(Runtime(pve, Inventory(FULL), clock=sim.wait_clock()), STOP, {"vmid": guest.vmid}, ctx)
    assert isinstance(result, types.InputRequiredResult) and stops(sim, guest) == 0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_nonce_is_kept_until_its_state_could_no_longer_be_unsealed() -> None:
    clock = Clock()
    used = UsedApprovals(lifetime=720, clock=clock)
    assert await used.spend("a", minted=clock.now) is None
    assert await used.spend("a", minted=clock.now) == "was already used"
    clock.now += 719
    assert await used.spend("a", minted=1_000.0) == "was already used"
    clock.now += 1
    assert await used.spend("b", minted=clock.now) is None and len(used) == 1  # "a" dropped with its lifetime
    assert await used.spend("a", minted=1_000.0) is not None  # and a state that old is refused outright


async def test_a_full_store_forgets_the_oldest_and_refuses_states_that_old() -> None:
    clock = Clock()
    used = UsedApprovals(capacity=2, lifetime=720, clock=clock)
    for nonce, minted in (("a", 1_000.0), ("b", 1_001.0), ("c", 1_002.0)):
        assert await used.spend(nonce, minted) is None
    assert len(used) == 2
    assert await used.spend("a", 1_000.0) == "is too old to be checked for an earlier use"  # forgotten, still refused
    assert await used.spend("x", 999.0) is not None  # never seen, but no newer than what was forgotten
    assert await used.spend("c", 1_002.0) == "was already used"
