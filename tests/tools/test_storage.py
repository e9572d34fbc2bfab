"""Storage tools through the SDK client: definitions, status, and changes checked in the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio


async def test_a_storage_definition_and_its_status_match_the_simulator(connect: McpFactory, sim: Simulator) -> None:
    config = await call(connect, "pve_get_storage_config", {"storage": "nfs-backup"})
    assert config["server"] == "192.0.2.200" and config["content"] == "backup" and len(config["digest"]) == 40
    status = await call(connect, "pve_get_storage_status", {"node": "pve2", "storage": "local-lvm"})
    lvm = sim.state.storages["local-lvm"]
    assert status["total"] == lvm.total and status["used"] == lvm.used_on("pve2") and status["active"] == 1


async def test_status_of_a_storage_the_node_cannot_use_is_refused(connect: McpFactory, sim: Simulator) -> None:
    sim.state.storages["local"].nodes = ("pve1",)
    body = await failed(connect, "pve_get_storage_status", {"node": "pve2", "storage": "local"})
    assert "No such storage" in body["message"]


NEW_STORAGES = [
    ({"type": "dir", "path": "/mnt/data", "content": "iso,vztmpl"}, ("iso", "vztmpl"), False),
    ({"type": "nfs", "server": "192.0.2.201", "export": "/export/images"}, ("images",), True),
    ({"type": "lvmthin", "vgname": "fast", "thinpool": "data", "nodes": "pve1,pve2"}, ("images", "rootdir"), False),
    ({"type": "zfspool", "pool": "tank/vm", "content": "images,rootdir"}, ("images", "rootdir"), False),
]


@pytest.mark.parametrize(("args", "content", "shared"), NEW_STORAGES, ids=[s[0]["type"] for s in NEW_STORAGES])
async def test_a_created_storage_appears_in_the_definitions_and_on_its_nodes(
    connect: McpFactory, sim: Simulator, args: dict[str, Any], content: tuple[str, ...], shared: bool
) -> None:
    body = await call(connect, "pve_create_storage", {"storage": "extra", **args, "confirm": True})
    assert body == {"storage": "extra", "type": args["type"]}
    created = sim.state.storages["extra"]
    assert created.content == content and created.shared is shared
    listed = (await call(connect, "pve_list_storage", {"type": args["type"]}))["items"]
    assert "extra" in {s["storage"] for s in listed}
    on_pve1 = (await call(connect, "pve_list_node_storage", {"node": "pve1"}))["items"]
    on_pve3 = (await call(connect, "pve_list_node_storage", {"node": "pve3"}))["items"]
    assert "extra" in {s["storage"] for s in on_pve1}
    assert ("extra" in {s["storage"] for s in on_pve3}) is ("nodes" not in args)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"storage": "x1", "type": "nfs", "server": "192.0.2.9"}, "missing value for required option 'export'"),
        ({"storage": "x1", "type": "lvm", "vgname": "vg", "path": "/srv"}, "unexpected property 'path'"),
        ({"storage": "local", "type": "dir", "path": "/srv"}, "storage ID 'local' already defined"),
    ],
)
async def test_a_storage_proxmox_would_refuse_is_refused_in_its_words(
    connect: McpFactory, sim: Simulator, args: dict[str, Any], words: str
) -> None:
    before = dict(sim.state.storages)
    body = await failed(connect, "pve_create_storage", {**args, "confirm": True})
    assert words in body["message"]
    assert sim.state.storages == before


async def test_updating_a_storage_changes_only_what_is_given(connect: McpFactory, sim: Simulator) -> None:
    digest = (await call(connect, "pve_get_storage_config", {"storage": "local"}))["digest"]
    args = {"storage": "local", "content": "iso,vztmpl,snippets", "nodes": "pve1,pve2", "digest": digest}
    await call(connect, "pve_update_storage", {**args, "confirm": True})
    local = sim.state.storages["local"]
    assert local.content == ("iso", "vztmpl", "snippets") and local.nodes == ("pve1", "pve2")
    assert local.options["path"] == "/var/lib/vz"
    await call(connect, "pve_update_storage", {"storage": "local", "delete": "nodes", "disable": True, "confirm": True})
    after = sim.state.storages["local"]  # read afresh: the calls changed it
    assert after.nodes is None and not after.enabled
    stale = await failed(connect, "pve_update_storage", {**args, "content": "iso", "confirm": True})
    assert "detected modified configuration" in stale["message"]
    assert local.content == ("iso", "vztmpl", "snippets")


async def test_an_update_without_changes_is_rejected_before_proxmox(connect: McpFactory, sim: Simulator) -> None:
    body = await failed(connect, "pve_update_storage", {"storage": "local", "confirm": True})
    assert body["code"] == "TOOL_INPUT_REJECTED" and not sim.requests


async def test_deleting_a_storage_removes_the_definition_and_its_pool_membership(
    connect: McpFactory, sim: Simulator
) -> None:
    await call(connect, "pve_delete_storage", {"storage": "nfs-backup", "confirm": True})
    assert "nfs-backup" not in sim.state.storages
    assert "nfs-backup" not in sim.state.pools["production"].storages
    body = await failed(connect, "pve_delete_storage", {"storage": "nfs-backup", "confirm": True})
    assert body["code"] == "PROXMOX_NOT_FOUND" and "does not exist" in body["message"]


ANY_UPID = "UPID:pve1:00001234:00ABCDEF:69000000:vzdump::root@pam:"
DESTRUCTIVE = [
    ("pve_create_storage", {"storage": "x1", "type": "dir", "path": "/srv"}),
    ("pve_update_storage", {"storage": "local", "content": "iso"}),
    ("pve_delete_storage", {"storage": "local"}),
    ("pve_run_backup", {"node": "pve1", "all": True}),
    ("pve_create_backup_job", {"schedule": "01:00", "storage": "nfs-backup", "all": True}),
    ("pve_update_backup_job", {"id": "backup-7fdc990e-ab4c", "enabled": False}),
    ("pve_delete_backup_job", {"id": "backup-7fdc990e-ab4c"}),
    ("pve_restore_qemu_backup", {"node": "pve1", "vmid": 900, "archive": "nfs-backup:backup/x.vma.zst"}),
    ("pve_restore_lxc_backup", {"node": "pve1", "vmid": 900, "archive": "nfs-backup:backup/x.tar.zst"}),
    ("pve_stop_task", {"upid": ANY_UPID}),
    ("pve_create_network", {"node": "pve1", "iface": "vmbr9", "type": "bridge"}),
    ("pve_update_network", {"node": "pve1", "iface": "vmbr0", "comments": "x"}),
    ("pve_delete_network", {"node": "pve1", "iface": "vmbr1"}),
    ("pve_apply_network_changes", {"node": "pve1"}),
    ("pve_revert_network_changes", {"node": "pve1"}),
    ("pve_update_pool", {"poolid": "production", "comment": "x"}),
    ("pve_delete_pool", {"poolid": "production"}),
]


@pytest.mark.parametrize(("tool", "args"), DESTRUCTIVE, ids=[d[0] for d in DESTRUCTIVE])
async def test_destructive_tools_of_these_areas_change_nothing_without_confirm(
    connect: McpFactory, sim: Simulator, tool: str, args: dict[str, Any]
) -> None:
    body = await failed(connect, tool, args)
    assert body["code"] == "CONFIRMATION_REQUIRED"
    assert all(r.method == "GET" for r in sim.requests)
