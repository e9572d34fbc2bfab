"""HA tools through the SDK client: resources follow their guests, the CRM starts, stops and moves
them, rules are listed, and Proxmox's own errors come back for unknown or already-managed guests."""

from __future__ import annotations

import pytest

from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.scope import parse_scope
from pvesim import Simulator
from pvesim.state import Guest
from tests.conftest import McpFactory, mcp_client, payload
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio


def seeded(sim: Simulator) -> Guest:
    return next(g for g in sim.state.guests.values() if g.hastate)


def service(items: list[dict[str, object]], sid: str) -> dict[str, object]:
    return next(i for i in items if i.get("sid") == sid)


async def test_resources_and_rules_are_listed_and_read(connect: McpFactory, sim: Simulator) -> None:
    guest = seeded(sim)
    sid = f"vm:{guest.vmid}"
    items = (await call(connect, "pve_list_ha_resources"))["items"]
    assert items == [{"sid": sid, "type": "vm", "state": "started", "comment": "front end"}]
    assert (await call(connect, "pve_list_ha_resources", {"type": "ct"}))["items"] == []
    one = await call(connect, "pve_get_ha_resource", {"sid": sid})
    assert one["sid"] == sid and one["state"] == "started" and len(one["digest"]) == 40
    rules = (await call(connect, "pve_list_ha_rules", {"type": "node-affinity"}))["items"]
    assert [(r["rule"], r["resources"]) for r in rules] == [("keep-web", sid)]
    assert rules[0]["nodes"].startswith(f"{guest.node}:2")
    assert (await call(connect, "pve_list_ha_rules", {"resource": "vm:999"}))["items"] == []
    rule = await call(connect, "pve_get_ha_rule", {"rule": "keep-web"})
    assert rule["type"] == "node-affinity" and rule["comment"] == "prefer its home node"


async def test_adding_a_stopped_guest_makes_the_crm_start_it(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "stopped")
    sid = f"ct:{guest.vmid}"
    args = {"sid": sid, "max_restart": 3, "comment": "dns"}
    await call(connect, "pve_create_ha_resource", args)
    assert guest.hastate == "started" and sim.state.ha.of(guest).max_restart == 3
    sim.clock.advance(60)
    sim.settle()
    assert guest.running
    status = (await call(connect, "pve_get_cluster_ha_status"))["items"]
    assert service(status, sid)["state"] == "started" and service(status, sid)["max_restart"] == 3
    task = next(t for t in reversed(sim.state.node_tasks[guest.node]) if t.id == str(guest.vmid))
    assert (task.type, task.user, task.status) == ("vzstart", "root@pam", "OK")
    again = await failed(connect, "pve_create_ha_resource", {"sid": sid})
    assert again["message"] == f"resource ID '{sid}' already defined"


async def test_unknown_guests_and_unmanaged_sids_get_proxmox_errors(connect: McpFactory, sim: Simulator) -> None:
    missing = await failed(connect, "pve_create_ha_resource", {"sid": "vm:999"})
    assert missing["message"] == "resource 'vm:999' does not exists in cluster"
    bare = await failed(connect, "pve_create_ha_resource", {"sid": "999"})
    assert "VM/CT 999 does not exist" in bare["message"]
    free = pick(sim, "qemu", "stopped")
    unmanaged = f"resource 'vm:{free.vmid}' is not HA managed"
    for tool, extra, text in (
        ("pve_get_ha_resource", {}, f"no such resource 'vm:{free.vmid}'"),
        ("pve_delete_ha_resource", {"confirm": True}, unmanaged),
        ("pve_migrate_ha_resource", {"target": "pve3", "confirm": True}, unmanaged),
    ):
        body = await failed(connect, tool, {"sid": f"vm:{free.vmid}", **extra})
        assert body["message"] == text, tool
    assert free.hastate is None


async def test_setting_the_state_stops_the_guest_and_starting_it_follows(connect: McpFactory, sim: Simulator) -> None:
    guest = seeded(sim)
    sid = f"vm:{guest.vmid}"
    await call(connect, "pve_update_ha_resource", {"sid": sid, "state": "stopped", "confirm": True})
    sim.clock.advance(60)
    sim.settle()
    assert (guest.hastate, guest.status) == ("stopped", "stopped")
    status = await call(connect, "pve_get_qemu_status", {"vmid": guest.vmid})
    assert status["ha"] == {"managed": 1, "state": "stopped"}
    await call(connect, "pve_start_qemu_vm", {"vmid": guest.vmid})  # PVE routes the start through HA
    sim.clock.advance(60)
    sim.settle()
    assert (guest.hastate, guest.status) == ("started", "running")
    args = {"sid": sid, "delete": "comment", "max_relocate": 2, "confirm": True}
    await call(connect, "pve_update_ha_resource", args)
    one = await call(connect, "pve_get_ha_resource", {"sid": sid})
    assert "comment" not in one and one["max_relocate"] == 2


async def test_migrate_shows_the_request_then_moves_the_guest(connect: McpFactory, sim: Simulator) -> None:
    guest = seeded(sim)
    sid, source = f"vm:{guest.vmid}", guest.node
    target = next(n for n in sim.state.nodes if n != source)
    answer = await call(connect, "pve_migrate_ha_resource", {"sid": sid, "target": target, "confirm": True})
    assert answer == {"sid": sid, "requested-node": target}
    moving = service((await call(connect, "pve_get_cluster_ha_status"))["items"], sid)
    assert moving["state"] == "migrate" and moving["node"] == source and target in str(moving["status"])
    sim.clock.advance(120)
    sim.settle()
    done = service((await call(connect, "pve_get_cluster_ha_status"))["items"], sid)
    assert (done["state"], done["node"]) == ("started", target)
    assert guest.node == target and guest.running and guest.lock is None
    bad = await failed(connect, "pve_migrate_ha_resource", {"sid": sid, "target": "pve9", "confirm": True})
    assert bad["message"] == "no such cluster node 'pve9'"


async def test_relocate_moves_a_container_and_removal_leaves_the_guest(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "running")
    sid = f"ct:{guest.vmid}"
    await call(connect, "pve_create_ha_resource", {"sid": sid, "state": "started"})
    target = next(n for n in sim.state.nodes if n != guest.node)
    await call(connect, "pve_relocate_ha_resource", {"sid": sid, "target": target, "confirm": True})
    status = (await call(connect, "pve_get_cluster_ha_status"))["items"]
    assert service(status, sid)["state"] == "relocate"
    sim.clock.advance(120)
    sim.settle()
    assert guest.node == target and guest.running
    await call(connect, "pve_delete_ha_resource", {"sid": sid, "confirm": True})
    assert guest.hastate is None and guest.running
    items = (await call(connect, "pve_list_ha_resources"))["items"]
    assert sid not in {i["sid"] for i in items}


async def test_removing_with_purge_drops_the_guest_from_its_rules(connect: McpFactory, sim: Simulator) -> None:
    guest = seeded(sim)
    await call(connect, "pve_delete_ha_resource", {"sid": f"vm:{guest.vmid}", "purge": True, "confirm": True})
    assert guest.hastate is None and sim.state.ha.rules == {}
    assert (await call(connect, "pve_list_ha_rules"))["items"] == []


async def test_a_scope_hides_ha_resources_and_jobs_of_guests_outside_it(sim: Simulator, pve: ProxmoxClient) -> None:
    scope, _ = parse_scope("pve1,pve3", None, None)  # the seeded HA guest lives on pve2
    guest = seeded(sim)
    async with mcp_client(pve, sim, scope=scope) as client:
        listed = payload(await client.call_tool("pve_list_ha_resources", {}))
        rules = payload(await client.call_tool("pve_list_ha_rules", {}))
        hidden = await client.call_tool("pve_get_ha_resource", {"sid": f"vm:{guest.vmid}"})
        unknown = await client.call_tool("pve_get_ha_resource", {"sid": "vm:999"})
        moved = await client.call_tool("pve_migrate_ha_resource", {"sid": f"vm:{guest.vmid}", "target": "pve1"})
    assert listed["items"] == [] and rules["items"] == []
    assert hidden.is_error and payload(hidden)["code"] == payload(unknown)["code"] == "GUEST_NOT_FOUND"
    assert moved.is_error and payload(moved)["code"] == "OUT_OF_SCOPE" and guest.node == "pve2"
