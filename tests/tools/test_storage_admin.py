"""Storage administration through the SDK client: downloads from a URL, volume deletion and backup
pruning, each checked in the simulator's storage."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.scope import Scope
from pvesim import Simulator
from pvesim.handlers.storage_admin import remote_body, remote_size
from pvesim.state import Volume
from tests.conftest import McpFactory, mcp_client, payload
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio

ISO_URL = "https://cdimage.example.org/debian-13.2.0-amd64-netinst.iso"


def volids(sim: Simulator, storage: str, node: str = "") -> set[str]:
    return {v.volid for v in sim.state.volumes.get((storage, node), [])}


def backups(sim: Simulator, vmid: int) -> list[Volume]:
    return sorted((v for v in sim.state.volumes[("nfs-backup", "")] if v.vmid == vmid), key=lambda v: v.volid)


async def task_failure(connect: McpFactory, name: str, args: dict[str, Any]) -> str:
    async with connect() as client:
        result = await client.call_tool(name, args)
    assert result.is_error
    return str(payload(result)["details"]["task"]["exitstatus"])


async def test_a_download_with_the_right_checksum_becomes_a_volume_of_the_storage(
    connect: McpFactory, sim: Simulator
) -> None:
    used = sim.state.storages["local"].used["pve2"]
    checksum = hashlib.sha256(remote_body(ISO_URL)).hexdigest()
    args = {"node": "pve2", "storage": "local", "url": ISO_URL, "filename": "debian-13.2.iso", "content": "iso"}
    body = await call(
        connect, "pve_download_url_to_storage", {**args, "checksum": checksum, "checksum-algorithm": "sha256"}
    )
    assert body["task"]["exitstatus"] == "OK" and body["task"]["type"] == "download"
    assert "local:iso/debian-13.2.iso" in volids(sim, "local", "pve2")
    assert "local:iso/debian-13.2.iso" not in volids(sim, "local", "pve1")  # local storage: that node only
    assert sim.state.storages["local"].used["pve2"] == used + remote_size(ISO_URL)
    listed = await call(connect, "pve_list_storage_content", {"node": "pve2", "storage": "local", "content": "iso"})
    assert "local:iso/debian-13.2.iso" in {v["volid"] for v in listed["items"]}
    again = await task_failure(connect, "pve_download_url_to_storage", args)
    assert again == "refusing to override existing file '/var/lib/vz/template/iso/debian-13.2.iso'"


async def test_a_download_whose_checksum_does_not_match_fails_and_leaves_nothing(
    connect: McpFactory, sim: Simulator
) -> None:
    args = {"node": "pve1", "storage": "local", "url": ISO_URL, "filename": "bad.iso", "content": "iso"}
    status = await task_failure(
        connect, "pve_download_url_to_storage", {**args, "checksum": "0" * 64, "checksum-algorithm": "sha256"}
    )
    assert status.startswith("checksum mismatch: got '") and status.endswith(f"' != expect '{'0' * 64}'")
    assert "local:iso/bad.iso" not in volids(sim, "local", "pve1")


async def test_a_container_template_download_gets_its_format(connect: McpFactory, sim: Simulator) -> None:
    url = "http://download.example.org/images/alpine-3.23-default_20251201_amd64.tar.xz"
    args = {"node": "pve3", "storage": "local", "url": url, "content": "vztmpl"}
    await call(connect, "pve_download_url_to_storage", {**args, "filename": "alpine-3.23.tar.xz"})
    volume = next(v for v in sim.state.volumes[("local", "pve3")] if v.volid == "local:vztmpl/alpine-3.23.tar.xz")
    assert volume.format == "txz" and volume.content == "vztmpl"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"storage": "local-lvm", "filename": "x.iso", "content": "iso"}, "not a file based storage"),
        ({"storage": "local", "filename": "x.tar.gz", "content": "iso"}, "wrong file extension"),
        ({"storage": "nfs-backup", "filename": "x.iso", "content": "iso"}, "not configured for content-type 'iso'"),
    ],
)
async def test_a_download_proxmox_would_refuse_is_refused_before_any_task(
    connect: McpFactory, sim: Simulator, args: dict[str, Any], words: str
) -> None:
    body = await failed(connect, "pve_download_url_to_storage", {"node": "pve1", "url": ISO_URL, **args})
    assert words in body["message"] or words in str(body.get("details"))


async def test_deleting_an_iso_and_a_backup_removes_them(connect: McpFactory, sim: Simulator) -> None:
    iso = "local:iso/virtio-win-0.1.285.iso"
    body = await call(
        connect, "pve_delete_storage_volume", {"node": "pve1", "storage": "local", "volume": iso, "confirm": True}
    )
    assert body["task"]["exitstatus"] == "OK" and body["task"]["type"] == "imgdel"
    assert iso not in volids(sim, "local", "pve1") and iso in volids(sim, "local", "pve2")
    guest = pick(sim, "qemu", "running")
    archive = backups(sim, guest.vmid)[0]
    args = {"node": guest.node, "storage": "nfs-backup", "volume": archive.volid, "confirm": True}
    await call(connect, "pve_delete_storage_volume", args)
    assert archive.volid not in volids(sim, "nfs-backup") and archive.volid not in sim.state.backup.archives


async def test_a_protected_backup_is_not_deleted(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "running")
    archive = backups(sim, guest.vmid)[0]
    archive.protected = True
    args = {"node": guest.node, "storage": "nfs-backup", "volume": archive.volid, "confirm": True}
    status = await task_failure(connect, "pve_delete_storage_volume", args)
    assert status == f"cannot remove protected volume '{archive.volid.split(':', 1)[1]}' on 'nfs-backup'"
    assert archive.volid in volids(sim, "nfs-backup")


async def test_the_disk_of_an_existing_guest_is_refused_like_the_web_ui_does(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "stopped")
    disk = next(v for v in sim.state.volumes[("local-lvm", guest.node)] if v.vmid == guest.vmid)
    args = {"node": guest.node, "storage": "local-lvm", "volume": disk.volid, "confirm": True}
    body = await failed(connect, "pve_delete_storage_volume", args)
    assert body["code"] == "TOOL_INPUT_REJECTED"
    assert body["message"] == f"Cannot remove image, a guest with VMID '{guest.vmid}' exists!"
    assert disk.volid in volids(sim, "local-lvm", guest.node)


async def test_the_prune_preview_marks_backups_by_retention_and_changes_nothing(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "running")
    mine = backups(sim, guest.vmid)
    assert len(mine) >= 2
    args = {"node": guest.node, "storage": "nfs-backup", "vmid": guest.vmid}
    configured = (await call(connect, "pve_plan_backup_prune", args))["items"]  # keep-daily=7: one a night
    assert {e["mark"] for e in configured} == {"keep"} and len(configured) == len(mine)
    plan = (await call(connect, "pve_plan_backup_prune", {**args, "keep-last": 1}))["items"]
    newest = max(mine, key=lambda v: v.ctime or 0).volid
    assert {e["volid"]: e["mark"] for e in plan} == {v.volid: "keep" if v.volid == newest else "remove" for v in mine}
    assert all(e["vmid"] == guest.vmid and e["type"] == "qemu" for e in plan)
    assert len(backups(sim, guest.vmid)) == len(mine)
    lxc_only = await call(connect, "pve_plan_backup_prune", {"node": "pve1", "storage": "nfs-backup", "type": "lxc"})
    assert lxc_only["items"] and {e["type"] for e in lxc_only["items"]} == {"lxc"}


async def test_pruning_a_guest_removes_what_the_retention_does_not_keep_but_not_protected_backups(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "running")
    mine = backups(sim, guest.vmid)
    oldest = min(mine, key=lambda v: v.ctime or 0)
    oldest.protected = True
    newest = max(mine, key=lambda v: v.ctime or 0)
    others = {v.volid for v in sim.state.volumes[("nfs-backup", "")] if v.vmid != guest.vmid}
    args = {"node": guest.node, "storage": "nfs-backup", "vmid": guest.vmid, "keep-last": 1, "confirm": True}
    body = await call(connect, "pve_prune_backups", args)
    assert body["task"]["exitstatus"] == "OK" and body["task"]["type"] == "prunebackups"
    assert {v.volid for v in backups(sim, guest.vmid)} == {oldest.volid, newest.volid}
    assert others <= volids(sim, "nfs-backup")


async def test_a_retention_with_keep_all_and_other_rules_is_refused(connect: McpFactory) -> None:
    args = {"node": "pve1", "storage": "nfs-backup", "keep-all": True, "keep-last": 2}
    body = await failed(connect, "pve_plan_backup_prune", args)
    assert "keep-all cannot be set together with other options" in str(body)


async def test_under_a_vmid_scope_prune_needs_a_vmid_and_foreign_backups_stay(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    mine, other = sorted({v.vmid for v in sim.state.volumes[("nfs-backup", "")] if v.vmid is not None})[:2]
    scope = Scope(vmids=((mine, mine),))
    async with mcp_client(pve, sim, era, scope=scope) as client:
        whole = await client.call_tool("pve_prune_backups", {"node": "pve1", "storage": "nfs-backup", "confirm": True})
        foreign = backups(sim, other)[0].volid
        volume = {"node": "pve1", "storage": "nfs-backup", "volume": foreign, "confirm": True}
        deleted = await client.call_tool("pve_delete_storage_volume", volume)
    assert whole.is_error and payload(whole)["code"] == "OUT_OF_SCOPE"
    assert deleted.is_error and payload(deleted)["code"] == "OUT_OF_SCOPE"
    assert foreign in volids(sim, "nfs-backup")
