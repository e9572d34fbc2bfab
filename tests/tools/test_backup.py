"""Backup tools through the SDK client: jobs, vzdump runs, archives and restores, checked in the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from pvesim import Simulator
from pvesim.state import Guest
from tests.conftest import McpFactory, payload
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio


def job_id(sim: Simulator) -> str:
    return next(iter(sim.state.backup.jobs))


def backups_of(sim: Simulator, vmid: int, storage: str = "nfs-backup") -> set[str]:
    return {v.volid for v in sim.state.volumes.get((storage, ""), []) if v.vmid == vmid and v.content == "backup"}


async def test_backup_jobs_are_listed_with_their_next_run(connect: McpFactory, sim: Simulator) -> None:
    jobs = (await call(connect, "pve_list_backup_jobs"))["items"]
    assert [j["id"] for j in jobs] == list(sim.state.backup.jobs)
    assert jobs[0]["next-run"] > sim.clock.now()
    job = await call(connect, "pve_get_backup_job", {"id": job_id(sim)})
    assert job["schedule"] == "01:00" and job["storage"] == "nfs-backup" and job["mode"] == "snapshot"
    missing = await failed(connect, "pve_get_backup_job", {"id": "backup-nope"})
    assert "No such job 'backup-nope'" in missing["message"]


async def test_listing_backups_shows_only_backup_archives(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    items = (await call(connect, "pve_list_backups", {"node": guest.node, "storage": "nfs-backup"}))["items"]
    assert items and {i["content"] for i in items} == {"backup"}
    mine = await call(connect, "pve_list_backups", {"node": "pve1", "storage": "nfs-backup", "vmid": guest.vmid})
    assert {i["volid"] for i in mine["items"]} == backups_of(sim, guest.vmid)
    local = (await call(connect, "pve_list_backups", {"node": "pve1", "storage": "local"}))["items"]
    assert local == []  # ISO images and templates are not backups


async def run_backup(connect: McpFactory, sim: Simulator, args: dict[str, Any]) -> dict[str, Any]:
    """Run a backup (the call waits for its task) and read the task's status as Proxmox reports it."""
    async with connect() as client:
        result = await client.call_tool("pve_run_backup", {**args, "confirm": True})
    body = payload(result)
    task = body["details"]["task"] if result.is_error else body["task"]
    assert task["status"] == "stopped" and result.is_error is (task["exitstatus"] != "OK")
    return await call(connect, "pve_get_task_status", {"upid": task["upid"]})


@pytest.mark.parametrize(("mode", "compress", "ext"), [("snapshot", "zstd", "vma.zst"), ("stop", "gzip", "vma.gz")])
async def test_a_backup_run_writes_an_archive_and_leaves_the_guest_as_it_was(
    connect: McpFactory, sim: Simulator, mode: str, compress: str, ext: str
) -> None:
    guest = pick(sim, "qemu", "running")
    before = backups_of(sim, guest.vmid)
    args = {"node": guest.node, "vmid": str(guest.vmid), "storage": "nfs-backup", "mode": mode, "compress": compress}
    task = await run_backup(connect, sim, {**args, "notes-template": "{{guestname}} on {{node}}"})
    assert task["exitstatus"] == "OK" and task["type"] == "vzdump" and task["id"] == str(guest.vmid)
    (volid,) = backups_of(sim, guest.vmid) - before
    assert volid.endswith(ext)
    volume = next(v for v in sim.state.volumes[("nfs-backup", "")] if v.volid == volid)
    assert volume.notes == f"{guest.name} on {guest.node}" and volume.subtype == "qemu"
    assert sim.state.backup.archives[volid].config == guest.config.as_dict()
    assert guest.status == "running" and guest.lock is None
    log = [
        line["t"] for line in (await call(connect, "pve_get_task_log", {"upid": task["upid"], "limit": 500}))["items"]
    ]
    assert any(line.startswith(f"INFO: Finished Backup of VM {guest.vmid} (00:00:0") for line in log)
    assert (mode == "stop") is ("INFO: stopping virtual guest" in log)


async def test_backing_up_all_guests_of_a_node_skips_the_others(connect: McpFactory, sim: Simulator) -> None:
    task = await run_backup(connect, sim, {"node": "pve2", "all": True, "storage": "nfs-backup", "compress": "zstd"})
    assert task["exitstatus"] == "OK" and task["id"] == ""
    log = [
        line["t"] for line in (await call(connect, "pve_get_task_log", {"upid": task["upid"], "limit": 500}))["items"]
    ]
    assert any(line.startswith("INFO: skip external VMs: ") for line in log)
    backed = {int(t.split()[5]) for t in log if t.startswith("INFO: Starting Backup of VM")}
    assert backed == {g.vmid for g in sim.state.guests.values() if g.node == "pve2"}


async def test_a_backup_to_a_storage_without_backup_content_fails_in_the_task(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "lxc", "running")
    task = await run_backup(connect, sim, {"node": guest.node, "vmid": str(guest.vmid), "storage": "local-lvm"})
    assert "can't use storage 'local-lvm' for backups - wrong content type" in task["exitstatus"]


async def test_backup_jobs_are_created_changed_and_deleted(connect: McpFactory, sim: Simulator) -> None:
    args = {"schedule": "sat 02:30", "storage": "nfs-backup", "all": True, "mode": "snapshot", "compress": "zstd"}
    extra = {"comment": "weekly", "prune-backups": "keep-weekly=4", "id": "weekly", "confirm": True}
    await call(connect, "pve_create_backup_job", {**args, **extra})
    job = sim.state.backup.jobs["weekly"]
    assert job["all"] == 1 and job["schedule"] == "sat 02:30" and job["enabled"] == 1
    read = await call(connect, "pve_get_backup_job", {"id": "weekly"})
    assert read["prune-backups"] == {"keep-weekly": 4} and read["next-run"] > sim.clock.now()
    await call(connect, "pve_update_backup_job", {"id": "weekly", "vmid": "100,101", "enabled": False, "confirm": True})
    assert job["vmid"] == "100,101" and "all" not in job and job["enabled"] == 0
    assert "next-run" not in await call(connect, "pve_get_backup_job", {"id": "weekly"})
    await call(connect, "pve_update_backup_job", {"id": "weekly", "delete": "comment", "confirm": True})
    assert "comment" not in job and job["storage"] == "nfs-backup"
    await call(connect, "pve_delete_backup_job", {"id": "weekly", "confirm": True})
    assert "weekly" not in sim.state.backup.jobs


async def test_a_job_without_guests_is_refused_with_proxmox_reason(connect: McpFactory, sim: Simulator) -> None:
    args = {"schedule": "01:00", "storage": "nfs-backup", "confirm": True}
    body = await failed(connect, "pve_create_backup_job", args)
    assert "vmid: property is missing" in body["message"]
    conflict = await failed(connect, "pve_create_backup_job", {**args, "vmid": "100", "all": True})
    assert "option conflicts with option 'vmid'" in conflict["message"]
    assert len(sim.state.backup.jobs) == 1


async def fresh_backup(connect: McpFactory, sim: Simulator, guest: Guest) -> str:
    before = backups_of(sim, guest.vmid)
    await run_backup(connect, sim, {"node": guest.node, "vmid": str(guest.vmid), "storage": "nfs-backup"})
    (volid,) = backups_of(sim, guest.vmid) - before
    return volid


@pytest.mark.parametrize(("kind", "tool"), [("qemu", "pve_restore_qemu_backup"), ("lxc", "pve_restore_lxc_backup")])
async def test_a_restore_creates_the_guest_from_the_archive(
    connect: McpFactory, sim: Simulator, kind: str, tool: str
) -> None:
    source = pick(sim, kind, "stopped")
    volid = await fresh_backup(connect, sim, source)
    args = {"node": source.node, "vmid": 950, "archive": volid, "storage": "local-lvm", "unique": True}
    task = (await call(connect, tool, {**args, "confirm": True}))["task"]
    assert task["upid"].startswith(f"UPID:{source.node}:")
    sent = next(r for r in sim.requests if r.method == "POST" and r.path == f"/nodes/{source.node}/{kind}")
    if kind == "lxc":
        assert sent.params["ostemplate"] == volid and sent.params["restore"] == "1" and "archive" not in sent.params
    else:
        assert sent.params["archive"] == volid
    assert task["status"] == "stopped" and task["exitstatus"] == "OK"
    restored = sim.state.guests[950]
    assert restored.type == kind and restored.node == source.node and restored.name == source.name


async def test_a_restore_over_an_existing_guest_needs_force(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    volid = await fresh_backup(connect, sim, guest)
    other = next(g for g in sim.state.guests.values() if g.type == "qemu" and g.vmid != guest.vmid)
    args = {"node": guest.node, "vmid": other.vmid, "archive": volid, "confirm": True}
    body = await failed(connect, "pve_restore_qemu_backup", args)
    assert f"VM {other.vmid} already exists" in body["message"]
    assert sim.state.guests[other.vmid] is other
