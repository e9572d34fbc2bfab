"""Node administration tools through the SDK client: services, updates, disks, certificates, the journal,
the subscription and the node config, checked against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory, payload
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio


async def task_failure(connect: McpFactory, name: str, args: dict[str, Any]) -> str:
    """Run a task tool that fails inside its task; return the task's exit status."""
    async with connect() as client:
        result = await client.call_tool(name, args)
    assert result.is_error
    task = payload(result)["details"]["task"]
    assert task["status"] == "stopped"
    return str(task["exitstatus"])


async def test_a_stopped_service_is_dead_in_its_state_and_the_listing_until_started_again(
    connect: McpFactory, sim: Simulator
) -> None:
    args = {"node": "pve2", "service": "pve-ha-lrm"}
    before = await call(connect, "pve_get_node_service_state", args)
    assert before["state"] == "running" and before["active-state"] == "active" and before["unit-state"] == "enabled"
    stopped = await call(connect, "pve_stop_node_service", {**args, "confirm": True})
    assert stopped["task"]["exitstatus"] == "OK" and stopped["task"]["type"] == "srvstop"
    assert sim.state.node_admin.nodes["pve2"].services["pve-ha-lrm"] == ("dead", "inactive")
    listed = (await call(connect, "pve_list_node_services", {"node": "pve2"}))["items"]
    assert next(s for s in listed if s["service"] == "pve-ha-lrm")["state"] == "dead"
    other = await call(connect, "pve_get_node_service_state", {"node": "pve1", "service": "pve-ha-lrm"})
    assert other["state"] == "running"  # each node has its own services
    await call(connect, "pve_start_node_service", args)
    assert (await call(connect, "pve_get_node_service_state", args))["state"] == "running"


async def test_restarting_pveproxy_works_but_stopping_it_fails_in_the_task_as_in_proxmox(
    connect: McpFactory, sim: Simulator
) -> None:
    args = {"node": "pve1", "service": "pveproxy"}
    restarted = await call(connect, "pve_restart_node_service", {**args, "confirm": True})
    assert restarted["task"]["exitstatus"] == "OK"
    status = await task_failure(connect, "pve_stop_node_service", {**args, "confirm": True})
    assert status.startswith("invalid service cmd 'pveproxy stop': ERROR")
    assert (await call(connect, "pve_get_node_service_state", args))["state"] == "running"
    missing = await task_failure(connect, "pve_start_node_service", {"node": "pve1", "service": "syslog"})
    assert missing == "command 'systemctl start syslog' failed: exit code 5"


async def test_restarting_a_service_needs_confirmation(connect: McpFactory) -> None:
    body = await failed(connect, "pve_restart_node_service", {"node": "pve1", "service": "pvestatd"})
    assert body["code"] == "CONFIRMATION_REQUIRED"


async def test_refreshing_the_package_lists_reveals_an_update_published_since_the_last_refresh(
    connect: McpFactory, sim: Simulator
) -> None:
    before = (await call(connect, "pve_list_node_updates", {"node": "pve3"}))["items"]
    assert "pve-manager" in {p["Package"] for p in before} and "qemu-server" not in {p["Package"] for p in before}
    manager = next(p for p in before if p["Package"] == "pve-manager")
    assert manager["OldVersion"] == "9.1.4" and manager["Origin"] == "Proxmox"
    refreshed = await call(connect, "pve_refresh_node_updates", {"node": "pve3"})
    assert refreshed["task"]["exitstatus"] == "OK" and refreshed["task"]["type"] == "aptupdate"
    after = (await call(connect, "pve_list_node_updates", {"node": "pve3"}))["items"]
    assert {p["Package"] for p in after} == {p["Package"] for p in before} | {"qemu-server"}
    still = (await call(connect, "pve_list_node_updates", {"node": "pve1"}))["items"]
    assert "qemu-server" not in {p["Package"] for p in still}  # only the refreshed node knows


async def test_disks_are_listed_with_filters_and_their_smart_data(connect: McpFactory) -> None:
    disks = (await call(connect, "pve_list_node_disks", {"node": "pve3"}))["items"]
    assert [d["devpath"] for d in disks] == ["/dev/nvme0n1", "/dev/sda"]
    assert {d["devpath"]: d["health"] for d in disks} == {"/dev/nvme0n1": "PASSED", "/dev/sda": "FAILED"}
    unused = await call(connect, "pve_list_node_disks", {"node": "pve3", "type": "unused", "skipsmart": True})
    assert [d["devpath"] for d in unused["items"]] == ["/dev/sda"] and "health" not in unused["items"][0]
    parts = (await call(connect, "pve_list_node_disks", {"node": "pve1", "include-partitions": True}))["items"]
    lvm = next(p for p in parts if p.get("parent") == "/dev/nvme0n1" and p["used"] == "LVM")
    assert lvm["devpath"] == "/dev/nvme0n1p3"
    smart = await call(connect, "pve_get_node_disk_smart", {"node": "pve3", "device": "/dev/sda"})
    realloc = next(a for a in smart["attributes"] if a["name"] == "Reallocated_Sector_Ct")
    assert smart["health"] == "FAILED" and realloc["fail"] == "NOW" and int(realloc["raw"]) > 0
    nvme = await call(connect, "pve_get_node_disk_smart", {"node": "pve1", "device": "/dev/nvme0n1"})
    assert nvme["type"] == "text" and "Percentage Used:" in nvme["text"]
    health = await call(connect, "pve_get_node_disk_smart", {"node": "pve1", "device": "/dev/sda", "healthonly": True})
    assert health == {"health": "PASSED"}
    gone = await failed(connect, "pve_get_node_disk_smart", {"node": "pve1", "device": "/dev/sdz"})
    assert "not a valid block device" in gone["message"]


async def test_certificates_subscription_and_config_describe_the_node(connect: McpFactory, sim: Simulator) -> None:
    certs = (await call(connect, "pve_get_node_certificates", {"node": "pve2"}))["items"]
    by_file = {c["filename"]: c for c in certs}
    node_cert = by_file["pve-ssl.pem"]
    assert node_cert["fingerprint"] == sim.state.nodes["pve2"].ssl_fingerprint
    assert node_cert["issuer"] == by_file["pve-root-ca.pem"]["subject"] and "pve2" in node_cert["san"]
    assert node_cert["notbefore"] < sim.clock.now() < node_cert["notafter"]
    sub = await call(connect, "pve_get_node_subscription", {"node": "pve2"})
    assert sub["status"] == "notfound" and len(sub["serverid"]) == 32
    config = await call(connect, "pve_get_node_config", {"node": "pve1"})
    assert config["description"] == "Rack A, unit 12" and len(config["digest"]) == 40
    only = await call(connect, "pve_get_node_config", {"node": "pve1", "property": "description"})
    assert only == {"description": "Rack A, unit 12"}
    assert set(await call(connect, "pve_get_node_config", {"node": "pve2"})) == {"digest"}


async def test_the_journal_pages_with_cursors_and_shows_what_happened_since(
    connect: McpFactory, sim: Simulator
) -> None:
    last = (await call(connect, "pve_get_node_journal", {"node": "pve1", "lastentries": 5}))["items"]
    assert len(last) == 7 and last[0].startswith("s=") and last[-1].startswith("s=")
    assert all(" pve1 " in line for line in last[1:-1])
    restarted = await call(
        connect, "pve_restart_node_service", {"node": "pve1", "service": "pvestatd", "confirm": True}
    )
    newer = (await call(connect, "pve_get_node_journal", {"node": "pve1", "startcursor": last[-1]}))["items"]
    assert any(restarted["task"]["upid"] in line and "starting task" in line for line in newer[1:-1])
    assert not set(newer[1:-1]) & set(last[1:-1])
    older = await call(connect, "pve_get_node_journal", {"node": "pve1", "endcursor": last[0], "lastentries": 3})
    assert len(older["items"]) == 5 and older["items"][-2] != last[1]
    now = int(sim.clock.now())
    window = await call(connect, "pve_get_node_journal", {"node": "pve1", "since": now - 3600, "until": now})
    assert window["items"] and all(line for line in window["items"])
    assert (await call(connect, "pve_get_node_journal", {"node": "pve1", "since": now + 3600}))["items"] == []
