"""Human confirmation through MCP elicitation, in both protocol eras, and the three confirmation modes.

The person at the client is played by the client's elicitation callback; what they may do to the cluster
while they read the form (rename the guest, replace it) happens inside that callback.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError

from pvemcp.audit import AuditLog
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.confirm import ConfirmMode
from pvesim import Simulator
from pvesim.state import Guest, GuestConfig
from tests.conftest import mcp_client, payload
from tests.helpers import pick

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
Answer = Literal["accept", "decline", "cancel"]


@dataclass
class Person:
    """Answers every form the same way and remembers what it was shown."""

    action: Answer = "accept"
    approve: bool = True
    meanwhile: Callable[[], None] | None = None  # a change to the cluster while the form is open
    refuse: bool = False  # the client fails the elicitation request instead of answering
    asked: list[types.ElicitRequestFormParams] = field(default_factory=list)

    async def __call__(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        assert isinstance(params, types.ElicitRequestFormParams)
        self.asked.append(params)
        if self.meanwhile is not None:
            self.meanwhile()
        if self.refuse:
            return types.ErrorData(code=types.INVALID_REQUEST, message="no one is at the keyboard")
        content: dict[str, Any] | None = {"approve": self.approve} if self.action == "accept" else None
        return types.ElicitResult(action=self.action, content=content)


Serve = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture
def serve(sim: Simulator, pve: ProxmoxClient, era: str, audit_path: Path) -> Serve:
    """An SDK client on a server in the given confirmation mode; `person=None` declares no elicitation."""

    @asynccontextmanager
    async def factory(
        mode: ConfirmMode = ConfirmMode.AUTO, person: Person | None = None, in_era: str | None = None
    ) -> AsyncIterator[Client]:
        audit = AuditLog(audit_path)
        try:
            async with mcp_client(pve, sim, in_era or era, person=person, confirm_mode=mode, audit=audit) as client:
                yield client
        finally:
            audit.close()

    return factory


def writes(sim: Simulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.requests if r.method != "GET"]


def last_audit(path: Path) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(path.read_text().splitlines()[-1])
    return entry


async def stop(client: Client, vmid: int, **extra: Any) -> types.CallToolResult:
    return await client.call_tool("pve_stop_qemu_vm", {"vmid": vmid, **extra})


def renamer(guest: Guest, name: str) -> Callable[[], None]:
    def rename() -> None:
        guest.config["name" if guest.type == "qemu" else "hostname"] = name

    return rename


def replacer(sim: Simulator, guest: Guest) -> Callable[[], None]:
    """Destroy the VM and create a container under the same VMID and node."""

    def replace() -> None:
        model = pick(sim, "lxc", "running")
        config = GuestConfig({**model.config, "hostname": "fresh-ct"})
        sim.state.guests[guest.vmid] = Guest(guest.vmid, "lxc", guest.node, config, model.profile, "running")

    return replace


async def test_an_approved_form_names_the_target_and_the_action_goes_ahead(
    serve: Serve, sim: Simulator, audit_path: Path
) -> None:
    guest = pick(sim, "qemu", "running")
    person = Person()
    async with serve(person=person) as client:
        result = await stop(client, guest.vmid)
    assert not result.is_error, result.structured_content
    assert sim.state.guests[guest.vmid].status == "stopped"
    [form] = person.asked
    assert form.message.startswith(f"Stop VM {guest.vmid} '{guest.name}' on {guest.node}. ")
    assert "like pulling the plug" in form.message
    schema = form.requested_schema
    assert schema["required"] == ["approve"]
    assert schema["properties"]["approve"]["type"] == "boolean"
    assert schema["properties"]["approve"]["default"] is False
    entry = last_audit(audit_path)
    assert entry["outcome"] == "ok" and entry["approval"] == "human"


@pytest.mark.parametrize(
    ("action", "approve", "why"),
    [("decline", True, "declined"), ("cancel", True, "dismissed"), ("accept", False, "did not approve")],
)
async def test_no_from_the_person_changes_nothing_and_says_so(
    serve: Serve, sim: Simulator, audit_path: Path, action: Answer, approve: bool, why: str
) -> None:
    guest = pick(sim, "qemu", "running")
    async with serve(person=Person(action, approve)) as client:
        result = await stop(client, guest.vmid)
    body = payload(result)
    assert result.is_error and body["code"] == "CONFIRMATION_DECLINED"
    assert f"VM {guest.vmid} '{guest.name}'" in body["message"]
    assert "was not carried out; nothing was changed" in body["message"] and why in body["message"]
    assert sim.state.guests[guest.vmid].status == "running" and writes(sim) == []
    assert last_audit(audit_path)["outcome"] == "declined"


# mode, confirm=true passed, client declares elicitation, the person is asked, refusal text (None: it acts)
MODES = [
    (ConfirmMode.AUTO, True, True, False, None),
    (ConfirmMode.AUTO, False, True, True, None),
    (ConfirmMode.AUTO, False, False, False, "needs confirm=true"),
    (ConfirmMode.ELICIT, True, True, True, None),
    (ConfirmMode.ELICIT, False, True, True, None),
    (ConfirmMode.ELICIT, True, False, False, "confirm=true alone is not accepted"),
    (ConfirmMode.ELICIT, False, False, False, "a person's approval, given in an MCP client that supports elicitation"),
    (ConfirmMode.FLAG, True, True, False, None),
    (ConfirmMode.FLAG, False, True, False, "needs confirm=true"),
]


@pytest.mark.parametrize(("mode", "flag", "elicits", "asked", "refusal"), MODES)
async def test_each_confirmation_mode_takes_what_it_promises(
    serve: Serve,
    sim: Simulator,
    audit_path: Path,
    mode: ConfirmMode,
    flag: bool,
    elicits: bool,
    asked: bool,
    refusal: str | None,
) -> None:
    guest = pick(sim, "qemu", "running")
    person = Person()
    async with serve(mode, person if elicits else None) as client:
        result = await stop(client, guest.vmid, **({"confirm": True} if flag else {}))
    assert bool(person.asked) is asked
    entry = last_audit(audit_path)
    if refusal is None:
        assert not result.is_error, result.structured_content
        assert sim.state.guests[guest.vmid].status == "stopped"
        assert entry["approval"] == ("human" if asked else "flag")
        return
    body = payload(result)
    assert result.is_error and body["code"] == "CONFIRMATION_REQUIRED"
    assert refusal in body["message"] and str(guest.vmid) in body["message"]
    assert sim.state.guests[guest.vmid].status == "running" and writes(sim) == []
    assert entry["outcome"] == "refused" and "approval" not in entry


async def test_a_guest_renamed_while_the_form_is_open_is_not_touched(serve: Serve, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    confirmed = guest.name
    async with serve(person=Person(meanwhile=renamer(guest, "imposter"))) as client:
        result = await stop(client, guest.vmid)
    body = payload(result)
    assert result.is_error and body["code"] == "TARGET_CHANGED"
    assert f"VMID {guest.vmid} is now VM {guest.vmid} 'imposter'" in body["message"]
    assert f"not the VM {guest.vmid} '{confirmed}' on {guest.node} that was confirmed" in body["message"]
    assert body["message"].endswith("nothing was changed.")
    assert sim.state.guests[guest.vmid].status == "running" and writes(sim) == []


async def test_a_vmid_that_became_a_container_is_not_touched(serve: Serve, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    rule = {"vmid": guest.vmid, "type": "in", "action": "DROP", "macro": "SSH"}
    async with serve(person=Person(meanwhile=replacer(sim, guest))) as client:
        result = await client.call_tool("pve_create_guest_firewall_rule", rule)
    body = payload(result)
    assert result.is_error and body["code"] == "TARGET_CHANGED"
    assert f"is now container {guest.vmid} 'fresh-ct'" in body["message"]
    assert writes(sim) == []


async def test_a_vm_replaced_by_a_container_before_the_answer_is_not_stopped(serve: Serve, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    async with serve(person=Person(meanwhile=replacer(sim, guest))) as client:
        result = await stop(client, guest.vmid)
    assert result.is_error and payload(result)["code"] == "TARGET_CHANGED"
    assert writes(sim) == []


async def test_a_guest_gone_before_the_answer_is_reported_missing(serve: Serve, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")

    def destroy() -> None:
        del sim.state.guests[guest.vmid]

    async with serve(person=Person(meanwhile=destroy)) as client:
        result = await stop(client, guest.vmid)
    assert result.is_error and payload(result)["code"] == "GUEST_NOT_FOUND"
    assert writes(sim) == []


async def test_a_form_for_a_tool_without_a_guest_names_what_it_touches(serve: Serve, sim: Simulator) -> None:
    person = Person("decline")
    async with serve(person=person) as client:
        result = await client.call_tool("pve_delete_storage", {"storage": "nfs-backup"})
    assert payload(result)["code"] == "CONFIRMATION_DECLINED"
    assert person.asked[0].message.startswith("Remove storage (storage=nfs-backup). ")
    assert "nfs-backup" in sim.state.storages and writes(sim) == []


async def test_a_client_that_fails_the_question_gets_no_action(serve: Serve, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    async with serve(person=Person(refuse=True), in_era="legacy") as client:
        result = await stop(client, guest.vmid)
    body = payload(result)
    assert body["code"] == "CONFIRMATION_REQUIRED" and "could not ask the user" in body["message"]
    assert writes(sim) == []


async def test_an_answer_sent_without_our_question_is_not_trusted(serve: Serve, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    person = Person("decline")
    forged = types.ElicitResult(action="accept", content={"approve": True})
    async with serve(person=person, in_era=MODERN) as client:
        result = await client.call_tool("pve_stop_qemu_vm", {"vmid": guest.vmid}, input_responses={"confirm": forged})
    assert len(person.asked) == 1 and payload(result)["code"] == "CONFIRMATION_DECLINED"
    assert writes(sim) == []


async def test_a_retry_without_an_answer_asks_again_and_the_state_fits_one_call_only(
    serve: Serve, sim: Simulator
) -> None:
    guest, other = pick(sim, "qemu", "running"), pick(sim, "lxc", "running")
    args = {"vmid": guest.vmid}
    yes = types.ElicitResult(action="accept", content={"approve": True})
    async with serve(person=Person(), in_era=MODERN) as client:
        session = client.session
        first = await session.call_tool("pve_stop_qemu_vm", args, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult) and first.request_state
        again = await session.call_tool(
            "pve_stop_qemu_vm", args, request_state=first.request_state, allow_input_required=True
        )
        assert isinstance(again, types.InputRequiredResult)
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await session.call_tool(
                "pve_stop_lxc_container",
                {"vmid": other.vmid},
                input_responses={"confirm": yes},
                request_state=first.request_state,
            )
        assert writes(sim) == []
        done = await session.call_tool(
            "pve_stop_qemu_vm", args, input_responses={"confirm": yes}, request_state=first.request_state
        )
    assert not done.is_error, done.structured_content
    assert sim.state.guests[guest.vmid].status == "stopped" and other.status == "running"
