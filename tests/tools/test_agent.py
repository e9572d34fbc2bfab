"""Guest-agent tools through the SDK client: ping, users, clock, file-read, and their refusals."""

from __future__ import annotations

import base64

import pytest

from pvemcp.catalog.spec import Module, Tier
from pvemcp.server.inventory import Policy
from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio

AGENT_TOOLS = [
    ("pve_qemu_agent_ping", {}),
    ("pve_get_qemu_agent_users", {}),
    ("pve_get_qemu_agent_time", {}),
    ("pve_qemu_agent_file_read", {"file": "/etc/hostname"}),
]


async def test_a_running_vm_with_the_agent_answers_ping_with_an_empty_result(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "running")
    assert await call(connect, "pve_qemu_agent_ping", {"vmid": guest.vmid}) == {"result": {}}
    assert (sim.requests[-1].method, sim.requests[-1].path.rsplit("/", 1)[-1]) == ("POST", "ping")


async def test_users_show_who_logged_in_after_the_vm_started(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    guest.config["ciuser"] = "deploy"
    users = (await call(connect, "pve_get_qemu_agent_users", {"vmid": guest.vmid}))["result"]
    assert [u["user"] for u in users] == ["deploy"]
    assert guest.started_at is not None and guest.started_at < users[0]["login-time"] <= sim.clock.now()


async def test_the_guest_clock_is_in_nanoseconds_close_to_the_hosts(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    nanoseconds = (await call(connect, "pve_get_qemu_agent_time", {"vmid": guest.vmid}))["result"]
    assert isinstance(nanoseconds, int) and abs(nanoseconds / 1e9 - sim.clock.now()) < 1


async def test_file_read_returns_the_guests_file_and_marks_a_cut_short_read(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "running")
    body = await call(connect, "pve_qemu_agent_file_read", {"vmid": guest.vmid, "file": "/etc/hostname"})
    assert body == {"content": guest.name + "\n"}
    body = await call(connect, "pve_qemu_agent_file_read", {"vmid": guest.vmid, "file": "/etc/os-release", "count": 12})
    assert body["content"] == "PRETTY_NAME=" and body["truncated"] == 1
    raw = await call(
        connect,
        "pve_qemu_agent_file_read",
        {"vmid": guest.vmid, "file": "/etc/hostname", "offset": 1, "decode": False},
    )
    assert base64.b64decode(raw["content"]).decode() == guest.name[1:] + "\n"


async def test_file_read_of_a_missing_file_fails_in_the_agents_words(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    body = await failed(connect, "pve_qemu_agent_file_read", {"vmid": guest.vmid, "file": "/etc/nope"})
    assert "failed to open file '/etc/nope'" in body["message"] and body["code"] == "PROXMOX_NOT_FOUND"


async def test_file_read_is_not_offered_to_read_only_callers(connect: McpFactory) -> None:
    async with connect(Policy(tier=Tier.READ_ONLY, module=Module.ADVANCED)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "pve_get_qemu_agent_users" in names and "pve_qemu_agent_file_read" not in names


@pytest.mark.parametrize(("tool", "extra"), AGENT_TOOLS, ids=[t for t, _ in AGENT_TOOLS])
@pytest.mark.parametrize("change", ["no agent", "agent off"])
async def test_every_agent_tool_answers_agent_unavailable_with_a_hint(
    connect: McpFactory, sim: Simulator, tool: str, extra: dict[str, str], change: str
) -> None:
    guest = pick(sim, "qemu", "running")
    if change == "no agent":
        del guest.config["agent"]
    else:
        guest.config["agent"] = "0"
    body = await failed(connect, tool, {"vmid": guest.vmid, **extra})
    assert body["code"] == "QEMU_GUEST_AGENT_UNAVAILABLE" and "qemu-guest-agent" in body["hint"]


@pytest.mark.parametrize(("tool", "extra"), AGENT_TOOLS, ids=[t for t, _ in AGENT_TOOLS])
async def test_every_agent_tool_refuses_a_stopped_vm_in_proxmox_words(
    connect: McpFactory, sim: Simulator, tool: str, extra: dict[str, str]
) -> None:
    guest = pick(sim, "qemu", "stopped")
    body = await failed(connect, tool, {"vmid": guest.vmid, **extra})
    assert f"VM {guest.vmid} is not running" in body["message"]
    assert body["code"] == "QEMU_GUEST_AGENT_UNAVAILABLE" and "The VM must run" in body["hint"]
