"""Answers an assistant could misread or not recover from, each through the MCP client against the simulator.

recovery.explain is driven through our client against the simulator too: the server calls it from dispatch.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import mcp_types as types
import pytest

from pvemcp.catalog import ALL_TOOLS, BY_NAME
from pvemcp.pve import wire
from pvemcp.pve.client import ProxmoxClient
from pvemcp.pve.error_table import WHEN, error_rows
from pvemcp.pve.errors import ErrorCode, PveMcpError, ToolCallError
from pvemcp.server import scope as scoping
from pvemcp.server.recovery import LIST_GUESTS, explain
from pvemcp.server.scope import parse_scope
from pvesim import Simulator
from pvesim.faults import Fault
from tests.conftest import McpFactory, mcp_client
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio

# Well-formed, naming a node of this cluster, but no task of it: a UPID from another cluster.
FOREIGN_UPID = "UPID:pve1:0000DEAD:0000BEEF:65000000:qmstart:100:root@pam:"
CT_TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst"
GIB = 1024**3


async def listing(connect: McpFactory) -> dict[str, types.Tool]:
    async with connect() as client:
        return {tool.name: tool for tool in (await client.list_tools()).tools}


# 1. An unknown UPID is an error, not a log line.

TASK_CALLS: dict[str, dict[str, Any]] = {
    "pve_get_task_status": {},
    "pve_get_task_log": {},
    "pve_wait_task": {"timeout": 0},
    "pve_stop_task": {"confirm": True},
}


@pytest.mark.parametrize("tool", TASK_CALLS)
async def test_an_unknown_upid_is_task_not_found(connect: McpFactory, sim: Simulator, tool: str) -> None:
    before = {upid: (task.status, task.endtime) for upid, task in sim.state.tasks.items()}
    body = await failed(connect, tool, {"upid": FOREIGN_UPID, **TASK_CALLS[tool]})
    assert body["code"] == "TASK_NOT_FOUND" and body["message"] == "Parameter verification failed: upid: no such task"
    assert "pve_list_cluster_tasks" in body["hint"] and "unable to open file" not in json.dumps(body)
    assert {upid: (task.status, task.endtime) for upid, task in sim.state.tasks.items()} == before


async def test_a_known_tasks_log_reads_as_before_even_a_line_like_proxmoxs_own(
    connect: McpFactory, sim: Simulator
) -> None:
    finished = next(t for t in sim.state.node_tasks["pve2"] if t.status == "OK")
    items = (await call(connect, "pve_get_task_log", {"upid": finished.upid}))["items"]
    assert [row["t"] for row in items] == finished.log[:50]
    finished.log[:] = ["unable to open file - /etc/pve/qemu-server/100.conf"]  # the task's own words
    items = (await call(connect, "pve_get_task_log", {"upid": finished.upid}))["items"]
    assert items == [{"n": 1, "t": "unable to open file - /etc/pve/qemu-server/100.conf"}]


# 2. An unknown node or guest: the hint names what exists.


async def failure(pve: ProxmoxClient, method: str, path: str, params: dict[str, Any] | None = None) -> PveMcpError:
    with pytest.raises(PveMcpError) as caught:
        await pve.request(method, path, params)
    return caught.value


async def test_an_unknown_node_is_explained_with_the_clusters_nodes(sim: Simulator, pve: ProxmoxClient) -> None:
    sim.state.nodes["pve3"].online = False
    error = await failure(pve, "GET", "/nodes/pve9/qemu")
    assert error.code is ErrorCode.PROXMOX_NOT_FOUND
    explained = await explain(error, BY_NAME["pve_list_qemu_vms"], {"node": "pve9"}, pve)
    assert (explained.code, explained.message, explained.status) == (error.code, error.message, error.status)
    assert (
        explained.hint
        == "Node 'pve9' (node) is not in this cluster. Its nodes: pve1, pve2, pve3 (offline); pass one of them."
    )
    assert explained.details == {"nodes": ["pve1", "pve2", "pve3"]}
    target = await failure(pve, "POST", "/nodes/pve1/qemu/103/migrate", {"target": "pve9"})
    args = {"vmid": 103, "node": "pve1", "target": "pve9", "confirm": True}
    explained = await explain(target, BY_NAME["pve_qemu_migrate"], args, pve)
    assert explained.hint.startswith("Node 'pve9' (target) is not in this cluster.")
    assert sim.state.guests[103].node == "pve1"


async def test_a_upid_of_another_cluster_says_so(sim: Simulator, pve: ProxmoxClient) -> None:
    upid = FOREIGN_UPID.replace(":pve1:", ":elsewhere:")
    error = await failure(
        pve, "GET", wire.expand_path("/nodes/{node}/tasks/{upid}/status", {"node": "elsewhere", "upid": upid})
    )
    for args in ({"upid": upid}, {"upid": upid, "node": "elsewhere"}):  # node: as filled in from the UPID
        explained = await explain(error, BY_NAME["pve_get_task_status"], args, pve)
        assert explained.hint.startswith("The UPID names node 'elsewhere', which is not in this cluster")
        assert explained.hint.endswith("This cluster's nodes: pve1, pve2, pve3.")


async def test_the_scope_does_not_show_through_the_explanation(sim: Simulator, pve: ProxmoxClient) -> None:
    scope, _ = parse_scope("pve1,pve2", None, None)
    spec = BY_NAME["pve_list_qemu_vms"]
    hidden = await explain(scoping.unknown_node("pve3"), spec, {"node": "pve3"}, pve, scope)  # the guard's answer
    unknown = await explain(await failure(pve, "GET", "/nodes/pve9/qemu"), spec, {"node": "pve9"}, pve, scope)
    assert json.dumps(hidden.to_payload()).replace("pve3", "pve9") == json.dumps(unknown.to_payload())
    assert unknown.details == {"nodes": ["pve1", "pve2"]}


async def test_a_guest_asked_on_the_wrong_node_is_pointed_to_its_node(sim: Simulator, pve: ProxmoxClient) -> None:
    guest = pick(sim, "qemu", "running")
    other = next(n for n in sim.state.nodes if n != guest.node)
    error = await failure(pve, "GET", f"/nodes/{other}/qemu/{guest.vmid}/status/current")
    explained = await explain(error, BY_NAME["pve_get_qemu_status"], {"vmid": guest.vmid, "node": other}, pve)
    assert explained.hint.startswith(f"VMID {guest.vmid} is on node {guest.node}, not {other}: call again")
    assert explained.details == {"node": guest.node}
    snapshot = await failure(pve, "GET", f"/nodes/{guest.node}/qemu/{guest.vmid}/config", {"snapshot": "nosuch"})
    args = {"vmid": guest.vmid, "node": guest.node}
    assert await explain(snapshot, BY_NAME["pve_get_qemu_config"], args, pve) is snapshot  # not the guest's place


async def test_guest_not_found_points_to_the_guest_list(pve: ProxmoxClient) -> None:
    assert LIST_GUESTS["tool"] in BY_NAME
    unknown = await explain(scoping.not_found_guest(999), BY_NAME["pve_get_qemu_status"], {"vmid": 999}, pve)
    assert unknown.details == {"next": LIST_GUESTS} and "pve_list_cluster_resources" in unknown.hint
    mismatch = ToolCallError(ErrorCode.GUEST_NOT_FOUND, "VMID 200 is a LXC container.", "Use the lxc tools.")
    explained = await explain(mismatch, BY_NAME["pve_get_qemu_status"], {"vmid": 200}, pve)
    assert explained.hint.startswith("Use the lxc tools. List guests with pve_list_cluster_resources")


async def test_when_nothing_can_be_read_the_error_stands(sim: Simulator, pve: ProxmoxClient) -> None:
    error = await failure(pve, "GET", "/nodes/pve9/qemu")
    sim.arm(Fault("status", status=500, message="got timeout", count=0, path_prefix="/nodes", method="GET"))
    assert await explain(error, BY_NAME["pve_list_qemu_vms"], {"node": "pve9"}, pve) is error


async def test_through_the_server_an_unknown_node_names_the_clusters_nodes(connect: McpFactory) -> None:
    body = await failed(connect, "pve_list_qemu_vms", {"node": "pve9"})
    assert "Its nodes: pve1, pve2, pve3" in body["hint"]


# 3. Unknown fields are refused, naming the keys there are.


async def test_unknown_fields_are_refused_naming_the_keys_the_items_have(connect: McpFactory, sim: Simulator) -> None:
    await call(connect, "pve_start_qemu_vm", {"vmid": pick(sim, "qemu", "stopped").vmid, "wait_seconds": 0})
    body = await failed(connect, "pve_list_cluster_tasks", {"fields": ["upid", "state"]})
    assert body["code"] == "TOOL_INPUT_REJECTED" and body["message"] == "fields names keys no item has: state."
    assert body["details"]["unknown_fields"] == ["state"]
    assert {"upid", "status", "type", "endtime"} <= set(body["details"]["valid_fields"]) and "status" in body["hint"]
    items = (await call(connect, "pve_list_cluster_tasks", {"fields": ["upid", "status"]}))["items"]
    assert any("status" not in item for item in items)  # a running task has none: still a key of the rows
    assert all(set(item) <= {"upid", "status"} for item in items)


# 4. A write whose follow-up read fails succeeds, with a warning.


async def test_a_config_change_whose_pending_read_fails_succeeds_with_a_warning(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "stopped")
    pending = f"/nodes/{guest.node}/qemu/{guest.vmid}/pending"
    sim.arm(Fault("status", status=500, message="got timeout", count=0, path_prefix=pending))
    body = await call(connect, "pve_qemu_update_config", {"vmid": guest.vmid, "cores": 3, "confirm": True})
    assert body["changed"] == ["cores"] and "pending" not in body
    assert body["warning"].startswith("The change was made, but reading the pending changes afterwards failed")
    assert "pve_get_qemu_pending_config" in body["warning"]
    assert body["next"] == {
        "tool": "pve_get_qemu_pending_config",
        "arguments": {"vmid": guest.vmid, "node": guest.node},
    }
    assert int(str(guest.config["cores"])) == 3


async def test_a_firewall_rule_whose_listing_fails_is_still_created(connect: McpFactory, sim: Simulator) -> None:
    before = len(sim.state.firewall.rules)
    sim.arm(
        Fault("status", status=500, message="got timeout", count=0, path_prefix="/cluster/firewall/rules", method="GET")
    )
    args = {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "443", "confirm": True}
    body = await call(connect, "pve_create_cluster_firewall_rule", args)
    assert body["pos"] == 0 and body["warning"].startswith("The change was made")
    assert len(sim.state.firewall.rules) == before + 1 and sim.state.firewall.rules[0]["dport"] == "443"


# 5. One tool converts a VM to a template; the other name is its alias.


async def test_one_tool_converts_a_vm_to_a_template_and_the_other_name_is_its_alias(
    connect: McpFactory, sim: Simulator
) -> None:
    tools = await listing(connect)
    titled = [t.name for t in tools.values() if t.title == "Convert VM to template" and not t.meta]
    assert titled == ["pve_create_qemu_template"]
    assert tools["pve_qemu_create_template"].meta == {"aliasFor": "pve_create_qemu_template", "deprecated": True}
    guest = pick(sim, "qemu", "stopped")
    body = await call(connect, "pve_qemu_create_template", {"vmid": guest.vmid, "confirm": True})
    assert body["task"]["exitstatus"] == "OK" and guest.template


def test_no_two_tools_share_a_title() -> None:
    assert [title for title, n in Counter(spec.title for spec in ALL_TOOLS).items() if n > 1] == []


# 6. The HA moves take the destination as target; Proxmox still gets node.


async def test_ha_moves_take_the_destination_as_target(connect: McpFactory, sim: Simulator) -> None:
    tools = await listing(connect)
    for name in ("pve_migrate_ha_resource", "pve_relocate_ha_resource"):
        schema = tools[name].input_schema
        assert schema["required"] == ["target", "sid"] and "node" not in schema["properties"], name
    guest = next(g for g in sim.state.guests.values() if g.hastate)
    sid, source = f"vm:{guest.vmid}", guest.node
    target = next(n for n in sim.state.nodes if n != source)
    old = await failed(connect, "pve_migrate_ha_resource", {"sid": sid, "node": target, "confirm": True})
    assert old["code"] == "TOOL_INPUT_REJECTED"
    answer = await call(connect, "pve_migrate_ha_resource", {"sid": sid, "target": target, "confirm": True})
    assert answer == {"sid": sid, "requested-node": target}
    sent = next(r for r in sim.requests if r.method == "POST")
    assert sent.path == f"/cluster/ha/resources/{sid}/migrate" and sent.params == {"node": target}
    sim.clock.advance(120)
    sim.settle()
    assert guest.node == target


# 7. Start and resume are not destructive, and ask no confirmation.

CALM = ("start", "resume")
ENDING = ("stop", "shutdown", "reboot", "suspend")


async def test_start_and_resume_are_not_destructive(connect: McpFactory, sim: Simulator) -> None:
    tools = await listing(connect)
    suffixes = ("qemu_vm", "lxc_container")
    calm = [f"pve_{a}_{s}" for a in CALM for s in suffixes] + ["startVM", "startContainer"]
    for name in calm:
        hints = tools[name].annotations
        assert hints is not None and (hints.destructive_hint, hints.read_only_hint) == (False, False), name
        assert "confirm" not in tools[name].input_schema["properties"]
    for name in [f"pve_{a}_{s}" for a in ENDING for s in suffixes] + ["pve_reset_qemu_vm"]:
        hints = tools[name].annotations
        assert hints is not None and hints.destructive_hint is True, name
    guest = pick(sim, "lxc", "stopped")
    assert (await call(connect, "pve_start_lxc_container", {"vmid": guest.vmid}))["task"]["exitstatus"] == "OK"
    assert guest.status == "running"


# 8. A disk size without a storage goes to the node's first disk storage, and says which.


def disks(sim: Simulator, vmid: int) -> dict[str, int]:
    return {v.volid: v.size for vols in sim.state.volumes.values() for v in vols if v.vmid == vmid}


@pytest.mark.parametrize(
    ("tool", "args", "key", "content"),
    [("pve_qemu_create", {}, "scsi0", "images"), ("pve_lxc_create", {"ostemplate": CT_TEMPLATE}, "rootfs", "rootdir")],
)
async def test_a_disk_size_without_storage_goes_to_the_nodes_first_disk_storage(
    connect: McpFactory, sim: Simulator, tool: str, args: dict[str, Any], key: str, content: str
) -> None:
    body = await call(connect, tool, {"node": "pve1", "disk_size": 6, **args})
    vmid = body["vmid"]
    assert body["storage_chosen"] == "local-lvm" and body["task"]["exitstatus"] == "OK"
    assert str(sim.state.guests[vmid].config[key]).startswith("local-lvm:") and 6 * GIB in disks(sim, vmid).values()
    asked = next(r for r in sim.requests if r.path == "/nodes/pve1/storage")
    assert asked.params == {"content": content, "enabled": "1"}
    named = await call(connect, tool, {"node": "pve1", "disk_size": 6, "storage": "local-lvm", **args})
    assert "storage_chosen" not in named


async def test_without_a_usable_disk_storage_the_create_is_refused_naming_the_storages(
    connect: McpFactory, sim: Simulator
) -> None:
    sim.state.storages["local-lvm"].enabled = False
    body = await failed(connect, "pve_qemu_create", {"node": "pve1", "vmid": 990, "disk_size": 6})
    assert body["code"] == "TOOL_INPUT_REJECTED" and "(content images)" in body["message"]
    assert body["hint"].startswith(
        "Node pve1's storages: local (backup,iso,vztmpl); local-lvm (images,rootdir, disabled)"
    )
    assert [s["storage"] for s in body["details"]["storages"]] == ["local", "local-lvm", "nfs-backup"]
    assert 990 not in sim.state.guests and all(r.method == "GET" for r in sim.requests)


# 9. Every tool a text names exists.

TOOL_NAME = re.compile(r"\bpve_[A-Za-z0-9_]*\*?")  # pve_migrate_* is a wildcard: no tool answers to it
CAMEL_TOOL = re.compile(r"\b(?:list|get|start|stop|exec|docker|run|ssh|create|delete|update|set)[A-Z][A-Za-z]*\b")


def texts() -> Iterator[tuple[str, str]]:
    for spec in ALL_TOOLS:
        yield f"{spec.name} title", spec.title
        yield f"{spec.name} description", spec.description
        for param in spec.all_params:
            yield f"{spec.name}.{param.name}", param.description
    for row in error_rows(frozenset(ErrorCode)):
        yield f"{row.code} hint", row.hint
        yield f"{row.code} when", WHEN[row.code]


def test_every_tool_a_description_or_hint_names_exists() -> None:
    wrong = [
        (where, name)
        for where, text in texts()
        for name in TOOL_NAME.findall(text) + CAMEL_TOOL.findall(text)
        if name not in BY_NAME
    ]
    assert wrong == []


def test_the_name_check_catches_wildcards_and_misspellings() -> None:
    text = "Use this, not pve_migrate_*; start it with pve_lxc_start or startVM."
    found = TOOL_NAME.findall(text) + CAMEL_TOOL.findall(text)
    assert found == ["pve_migrate_*", "pve_lxc_start", "startVM"]
    assert [name for name in found if name not in BY_NAME] == ["pve_migrate_*", "pve_lxc_start"]


# Stale locations: the 5 s cache of where guests live is forgotten after a move, and a read that finds the
# guest gone from its cached node looks again once.


async def test_a_guest_is_found_at_once_after_pvemcp_moved_it(sim: Simulator, pve: ProxmoxClient, era: str) -> None:
    assert (sim.state.guests[107].node, sim.state.guests[107].status) == ("pve2", "stopped")
    async with mcp_client(pve, sim, era) as client:
        assert not (await client.call_tool("pve_get_qemu_status", {"vmid": 107})).is_error  # cached: pve2
        moved = await client.call_tool("pve_qemu_migrate", {"vmid": 107, "target": "pve3", "confirm": True})
        assert not moved.is_error, moved.structured_content
        assert sim.state.guests[107].node == "pve3"
        status = await client.call_tool("pve_get_qemu_status", {"vmid": 107})
    assert not status.is_error and status.structured_content is not None
    sent = next(i for i, r in enumerate(sim.requests) if r.method == "POST" and r.path.endswith("/107/migrate"))
    after = [r.path for r in sim.requests[sent:] if r.path.endswith("/qemu/107/status/current")]
    assert after == ["/nodes/pve3/qemu/107/status/current"]  # no failed read at the old node first


async def test_a_read_of_a_guest_moved_behind_pvemcps_back_looks_again_once(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    async with mcp_client(pve, sim, era) as client:
        assert not (await client.call_tool("pve_get_qemu_config", {"vmid": 107})).is_error  # cached: pve2
        await pve.post("/nodes/pve2/qemu/107/migrate", {"target": "pve1"})  # not through pvemcp
        sim.clock.advance(600)
        assert sim.state.guests[107].node == "pve1"
        config = await client.call_tool("pve_get_qemu_config", {"vmid": 107})
    assert not config.is_error, config.structured_content
    asked = [r.path for r in sim.requests if r.path.endswith("/qemu/107/config") and r.method == "GET"]
    assert asked == ["/nodes/pve2/qemu/107/config", "/nodes/pve2/qemu/107/config", "/nodes/pve1/qemu/107/config"]
