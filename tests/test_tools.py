"""Every tool, called through the SDK client in both protocol eras, checked against the simulator's state."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from pvemcp.catalog import ALL_TOOLS
from pvemcp.catalog.spec import Tier
from pvemcp.server.inventory import Policy
from pvesim import Simulator
from pvesim.state import Guest
from tests.conftest import McpFactory
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("name", ["pve_list_nodes", "listNodes"])
async def test_listing_nodes_returns_every_node(connect: McpFactory, sim: Simulator, name: str) -> None:
    body = await call(connect, name)
    assert body["count"] == len(sim.state.nodes)
    assert {n["node"] for n in body["items"]} == set(sim.state.nodes)


@pytest.mark.parametrize("name", ["pve_get_node_status", "getNodeStatus"])
async def test_node_status_reports_memory_and_cpu(connect: McpFactory, name: str) -> None:
    body = await call(connect, name, {"node": "pve2"})
    assert body["memory"]["total"] > 0 and body["cpuinfo"]["cpus"] > 0


async def test_cluster_status_reports_quorum(connect: McpFactory, sim: Simulator) -> None:
    items = (await call(connect, "pve_get_cluster_status"))["items"]
    cluster = next(i for i in items if i["type"] == "cluster")
    assert cluster["quorate"] == 1
    assert {i["name"] for i in items if i["type"] == "node"} == set(sim.state.nodes)


@pytest.mark.parametrize(("kind", "expected"), [("vm", {"qemu", "lxc"}), ("node", {"node"}), ("storage", {"storage"})])
async def test_cluster_resources_filter_by_type(connect: McpFactory, kind: str, expected: set[str]) -> None:
    items = (await call(connect, "pve_list_cluster_resources", {"type": kind}))["items"]
    assert {i["type"] for i in items} == expected


async def test_cluster_resources_list_every_guest(connect: McpFactory, sim: Simulator) -> None:
    items = (await call(connect, "pve_list_cluster_resources", {"type": "vm"}))["items"]
    assert sorted(i["vmid"] for i in items) == sorted(sim.state.guests)


async def test_next_vmid_is_the_lowest_free_id(connect: McpFactory, sim: Simulator) -> None:
    free = next(i for i in range(100, 10_000) if i not in sim.state.guests)
    assert (await call(connect, "pve_get_next_vmid")) == {"vmid": free}
    taken = next(iter(sim.state.guests))
    body = await failed(connect, "pve_get_next_vmid", {"vmid": taken})
    assert body["code"] == "PROXMOX_REQUEST_REJECTED" and str(taken) in body["message"]


@pytest.mark.parametrize(("tool", "kind"), [("pve_list_qemu_vms", "qemu"), ("pve_list_lxc_containers", "lxc")])
async def test_per_node_guest_lists_match_the_node(connect: McpFactory, sim: Simulator, tool: str, kind: str) -> None:
    items = (await call(connect, tool, {"node": "pve1"}))["items"]
    expected = {g.vmid for g in sim.state.guests.values() if g.type == kind and g.node == "pve1"}
    assert {int(i["vmid"]) for i in items} == expected


@pytest.mark.parametrize(
    ("tool", "kind"),
    [
        ("pve_get_qemu_status", "qemu"),
        ("getVMStatus", "qemu"),
        ("pve_get_lxc_status", "lxc"),
        ("getContainerStatus", "lxc"),
    ],
)
async def test_guest_status_finds_the_node_from_the_vmid(
    connect: McpFactory, sim: Simulator, tool: str, kind: str
) -> None:
    guest = pick(sim, kind, "running")
    body = await call(connect, tool, {"vmid": guest.vmid})
    assert body["status"] == "running" and int(body["vmid"]) == guest.vmid


@pytest.mark.parametrize(
    ("tool", "kind", "key"), [("pve_get_qemu_config", "qemu", "name"), ("pve_get_lxc_config", "lxc", "hostname")]
)
async def test_guest_config_matches_the_simulator(
    connect: McpFactory, sim: Simulator, tool: str, kind: str, key: str
) -> None:
    guest = pick(sim, kind, "stopped")
    body = await call(connect, tool, {"vmid": guest.vmid, "node": guest.node, "current": True})
    assert body[key] == guest.config[key]
    assert "digest" in body


@pytest.mark.parametrize(("tool", "kind"), [("listVMs", "qemu"), ("listContainers", "lxc")])
async def test_legacy_lists_answer_from_one_cluster_wide_call(
    connect: McpFactory, sim: Simulator, tool: str, kind: str
) -> None:
    items = (await call(connect, tool))["items"]
    assert {i["vmid"] for i in items} == {g.vmid for g in sim.state.guests.values() if g.type == kind}
    assert [r.path for r in sim.requests] == ["/cluster/resources"]
    on_pve2 = (await call(connect, tool, {"node": "pve2"}))["items"]
    assert {i["node"] for i in on_pve2} <= {"pve2"}


async def test_storage_definitions_are_listed(connect: McpFactory, sim: Simulator) -> None:
    items = (await call(connect, "pve_list_storage"))["items"]
    assert {i["storage"] for i in items} == set(sim.state.storages)


async def test_node_storage_reports_usage(connect: McpFactory) -> None:
    items = (await call(connect, "pve_list_node_storage", {"node": "pve1", "enabled": True}))["items"]
    local = next(i for i in items if i["storage"] == "local")
    assert local["total"] > 0


@pytest.mark.parametrize("content", ["iso", "vztmpl", "images"])
async def test_storage_content_filters_by_type(connect: McpFactory, content: str) -> None:
    storage = "local-lvm" if content == "images" else "local"
    items = (await call(connect, "pve_list_storage_content", {"node": "pve1", "storage": storage, "content": content}))[
        "items"
    ]
    assert items and all(i["content"] == content for i in items)


POWER = [
    ("qemu", "pve_start_qemu_vm", "stopped", "running", False),
    ("qemu", "startVM", "stopped", "running", False),
    ("qemu", "pve_stop_qemu_vm", "running", "stopped", True),
    ("qemu", "stopVM", "running", "stopped", True),
    ("qemu", "pve_shutdown_qemu_vm", "running", "stopped", True),
    ("qemu", "pve_reboot_qemu_vm", "running", "running", True),
    ("qemu", "pve_reset_qemu_vm", "running", "running", True),
    ("qemu", "pve_suspend_qemu_vm", "running", "paused", True),
    ("lxc", "pve_start_lxc_container", "stopped", "running", False),
    ("lxc", "startContainer", "stopped", "running", False),
    ("lxc", "pve_stop_lxc_container", "running", "stopped", True),
    ("lxc", "stopContainer", "running", "stopped", True),
    ("lxc", "pve_shutdown_lxc_container", "running", "stopped", True),
    ("lxc", "pve_reboot_lxc_container", "running", "running", True),
    ("lxc", "pve_suspend_lxc_container", "running", "stopped", True),  # a CRIU checkpoint stops the container
]


def state_of(guest: Guest) -> str:
    return "paused" if guest.paused else guest.status


@pytest.mark.parametrize(("kind", "tool", "before", "after", "confirm"), POWER, ids=[p[1] for p in POWER])
async def test_power_actions_start_a_task_that_changes_the_guest(
    connect: McpFactory, sim: Simulator, kind: str, tool: str, before: str, after: str, confirm: bool
) -> None:
    guest = pick(sim, kind, before)
    args: dict[str, Any] = {"vmid": guest.vmid}
    if confirm:
        args["confirm"] = True
    task = (await call(connect, tool, args))["task"]  # the call waits for its task
    assert task["upid"].startswith(f"UPID:{guest.node}:") and task["node"] == guest.node
    assert task["status"] == "stopped" and task["exitstatus"] == "OK"
    assert state_of(sim.state.guests[guest.vmid]) == after


@pytest.mark.parametrize(("kind", "tool"), [("qemu", "pve_resume_qemu_vm"), ("lxc", "pve_resume_lxc_container")])
async def test_resume_brings_a_suspended_guest_back(connect: McpFactory, sim: Simulator, kind: str, tool: str) -> None:
    guest = pick(sim, kind, "running")
    suspend = "pve_suspend_qemu_vm" if kind == "qemu" else "pve_suspend_lxc_container"
    await call(connect, suspend, {"vmid": guest.vmid, "confirm": True})
    sim.clock.advance(30)
    sim.settle()
    assert guest.paused if kind == "qemu" else guest.saved_state
    await call(connect, tool, {"vmid": guest.vmid})
    sim.clock.advance(30)
    sim.settle()
    assert state_of(sim.state.guests[guest.vmid]) == "running"


@pytest.mark.parametrize("tool", ["pve_stop_qemu_vm", "stopVM"])
async def test_a_destructive_tool_without_confirm_changes_nothing(
    connect: McpFactory, sim: Simulator, tool: str
) -> None:
    guest = pick(sim, "qemu", "running")
    body = await failed(connect, tool, {"vmid": guest.vmid})
    assert body["code"] == "CONFIRMATION_REQUIRED"
    assert str(guest.vmid) in body["message"] and "confirm=true" in body["message"]
    assert all(r.method == "GET" for r in sim.requests)
    sim.clock.advance(30)
    assert sim.state.guests[guest.vmid].status == "running"
    body = await failed(connect, tool, {"vmid": guest.vmid, "confirm": False})
    assert body["code"] == "CONFIRMATION_REQUIRED"


async def test_task_log_and_task_list_show_the_task(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    upid = (await call(connect, "pve_start_qemu_vm", {"vmid": guest.vmid}))["task"]["upid"]
    log = (await call(connect, "pve_get_task_log", {"upid": upid, "limit": 50}))["items"]
    assert log and log[-1]["t"] == "TASK OK"
    tasks = (await call(connect, "pve_list_tasks", {"node": guest.node, "vmid": guest.vmid, "limit": 10}))["items"]
    assert upid in {t["upid"] for t in tasks}
    limited = (await call(connect, "pve_list_tasks", {"node": guest.node, "limit": 1}))["items"]
    assert len(limited) == 1


async def test_proxmox_refusals_keep_proxmox_words(connect: McpFactory, sim: Simulator) -> None:
    container = pick(sim, "lxc", "running")
    body = await failed(connect, "pve_start_lxc_container", {"vmid": container.vmid})
    assert body["code"] == "PROXMOX_SERVER_ERROR"
    assert f"CT {container.vmid} already running" in body["message"]


async def test_a_task_that_fails_reports_proxmox_exit_status(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    body = await failed(connect, "pve_start_qemu_vm", {"vmid": guest.vmid})
    assert body["code"] == "TASK_FAILED" and f"VM {guest.vmid} already running" in body["message"]
    assert body["details"]["log_tail"][-1] == f"TASK ERROR: VM {guest.vmid} already running"
    task = await call(connect, "pve_get_task_status", {"upid": body["details"]["upid"]})
    assert task["status"] == "stopped"
    assert task["exitstatus"] == f"VM {guest.vmid} already running"


async def test_an_unknown_vmid_is_guest_not_found(connect: McpFactory) -> None:
    body = await failed(connect, "pve_get_qemu_status", {"vmid": 999_999})
    assert body["code"] == "GUEST_NOT_FOUND"


async def test_a_vmid_of_the_other_guest_type_is_guest_not_found_with_a_pointer(
    connect: McpFactory, sim: Simulator
) -> None:
    container = pick(sim, "lxc", "running")
    body = await failed(connect, "pve_get_qemu_status", {"vmid": container.vmid})
    assert body["code"] == "GUEST_NOT_FOUND" and "lxc" in body["hint"]


async def test_a_wrong_node_is_proxmox_not_found(connect: McpFactory, sim: Simulator) -> None:
    guest = next(g for g in sim.state.guests.values() if g.node != "pve1" and g.type == "qemu")
    body = await failed(connect, "pve_get_qemu_status", {"vmid": guest.vmid, "node": "pve1"})
    assert body["code"] == "PROXMOX_NOT_FOUND" and "does not exist" in body["message"]


async def test_unknown_and_hidden_tools_get_the_same_protocol_error(connect: McpFactory) -> None:
    messages = []
    async with connect(Policy(tier=Tier.READ_ONLY)) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        assert "pve_stop_qemu_vm" not in listed
        for name in ("pve_no_such_tool", "pve_stop_qemu_vm"):
            with pytest.raises(MCPError) as caught:
                await client.call_tool(name, {"vmid": 100, "confirm": True})
            messages.append(caught.value.message.replace(name, "X"))
    assert messages[0] == messages[1]


async def test_the_listing_has_every_tool_and_alias_with_aliases_marked_deprecated(connect: McpFactory) -> None:
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        instructions = client.instructions
    listed = [s for s in ALL_TOOLS if s.catalog_listing]  # the consolidated surface's own answers are not listed
    assert len(tools) == len(listed) + sum(len(s.aliases) for s in listed)
    assert tools["stopVM"].meta == {"aliasFor": "pve_stop_qemu_vm", "deprecated": True}
    assert tools["stopVM"].input_schema == tools["pve_stop_qemu_vm"].input_schema
    assert "confirm" in tools["pve_stop_qemu_vm"].input_schema["properties"]
    assert "confirm" not in tools["pve_start_qemu_vm"].input_schema["properties"]
    assert instructions is None or "confirm=true" in instructions


def test_every_catalog_tool_is_called_somewhere_in_the_tool_tests() -> None:
    from pathlib import Path

    here = Path(__file__).parent
    sources = "".join(p.read_text() for p in [here / "test_tools.py", *sorted((here / "tools").glob("test_*.py"))])
    missing = [s.name for s in ALL_TOOLS if f'"{s.name}"' not in sources]
    assert missing == []
