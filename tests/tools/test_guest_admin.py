"""Guest administration through the SDK client: create, delete, clone, migrate, config, disks,
snapshots, templates and guest-agent commands, each checked against the simulator's state."""

from __future__ import annotations

from typing import Any

import pytest

from pvesim import Simulator
from pvesim.state import Guest
from tests.conftest import McpFactory, payload
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio

ISO = "local:iso/debian-13.1.0-amd64-netinst.iso"
CT_TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst"
GIB = 1024**3


def free_id(sim: Simulator) -> int:
    return next(i for i in range(100, 10_000) if i not in sim.state.guests)


def finish(sim: Simulator) -> None:
    sim.clock.advance(30)


def volumes(sim: Simulator, vmid: int) -> dict[str, int]:
    return {
        v.volid: v.size
        for vols in sim.state.volumes.values()
        for v in vols
        if v.vmid == vmid and v.content in ("images", "rootdir")
    }


async def outcome(connect: McpFactory, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that waits for its task; the task as it ended, whether it succeeded or failed."""
    async with connect() as client:
        result = await client.call_tool(tool, args)
    body = payload(result)
    if result.is_error:
        assert body["code"] == "TASK_FAILED", body
        return dict(body["details"]["task"])
    assert body["task"]["status"] == "stopped"
    return dict(body["task"])


async def started(connect: McpFactory, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Start the task without waiting (wait_seconds=0), so the state while it runs can be checked."""
    body = await call(connect, tool, {**args, "wait_seconds": 0})
    assert body["task"]["status"] == "running" and "pve_wait_task" in body["next"]
    return body


async def waited(connect: McpFactory, body: dict[str, Any]) -> dict[str, Any]:
    return await outcome(connect, "pve_wait_task", {"upid": body["task"]["upid"]})


async def test_a_vm_is_created_with_disk_iso_nic_and_the_next_free_id(connect: McpFactory, sim: Simulator) -> None:
    vmid = free_id(sim)
    args = {
        "node": "pve2",
        "name": "web-99",
        "memory": 2048,
        "cores": 2,
        "sockets": 1,
        "cpu": "host",
        "ostype": "l26",
        "storage": "local-lvm",
        "disk_size": 20,
        "iso": ISO,
        "bridge": "vmbr0",
        "agent": True,
        "onboot": True,
        "start": True,
        "pool": "production",
        "tags": "web;new",
        "description": "made by a test",
    }
    body = await call(connect, "pve_qemu_create", args)
    task = body["task"]
    assert body["vmid"] == vmid and task["upid"].startswith("UPID:pve2:") and ":qmcreate:" in task["upid"]
    assert task["exitstatus"] == "OK"
    guest = sim.state.guests[vmid]
    config = guest.config
    assert (guest.node, guest.status, guest.pool, guest.lock) == ("pve2", "running", "production", None)
    assert config["scsi0"] == f"local-lvm:vm-{vmid}-disk-0,iothread=1,size=20G"
    assert config["ide2"] == f"{ISO},media=cdrom" and config["boot"] == "order=scsi0;ide2;net0"
    assert str(config["net0"]).startswith("virtio=BC:24:11:") and str(config["net0"]).endswith(",bridge=vmbr0")
    assert (config["memory"], config["cpu"], config["agent"], config["tags"]) == ("2048", "host", "1", "web;new")
    assert volumes(sim, vmid) == {f"local-lvm:vm-{vmid}-disk-0": 20 * GIB}
    listed = (await call(connect, "pve_list_cluster_resources", {"type": "vm"}))["items"]
    assert any(i["vmid"] == vmid and i["name"] == "web-99" for i in listed)
    assert (await call(connect, "pve_get_qemu_config", {"vmid": vmid}))["name"] == "web-99"


async def test_a_container_is_created_unprivileged_with_root_disk_static_ip_and_no_stored_secret(
    connect: McpFactory, sim: Simulator
) -> None:
    args = {
        "node": "pve3",
        "vmid": 777,
        "ostemplate": CT_TEMPLATE,
        "hostname": "ct-web-03",
        "storage": "local-lvm",
        "disk_size": 4,
        "memory": 512,
        "swap": 256,
        "cores": 1,
        "bridge": "vmbr0",
        "ip": "192.0.2.77/24",
        "gw": "192.0.2.1",
        "password": "correct horse battery",
        "ssh-public-keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1x admin@laptop",
    }
    body = await started(connect, "pve_lxc_create", args)
    assert body["vmid"] == 777 and ":vzcreate:777:" in body["task"]["upid"]
    assert sim.state.guests[777].lock == "create"
    assert (await waited(connect, body))["exitstatus"] == "OK"
    config = sim.state.guests[777].config
    assert config["rootfs"] == "local-lvm:vm-777-disk-0,size=4G"
    net = str(config["net0"])
    assert net.startswith("name=eth0,bridge=vmbr0,gw=192.0.2.1,hwaddr=BC:24:11:") and "ip=192.0.2.77/24" in net
    assert (config["unprivileged"], config["ostype"], config["memory"], config["swap"]) == (1, "debian", 512, 256)
    assert "password" not in config and sim.state.guests[777].status == "stopped"
    assert volumes(sim, 777) == {"local-lvm:vm-777-disk-0": 4 * GIB}


@pytest.mark.parametrize(
    ("args", "word"),
    [
        ({"bridge": "vmbr0,firewall=0"}, "bridge"),
        ({"storage": "local-lvm:1,import-from=local-lvm:vm-100-disk-0"}, "storage"),
    ],
)
async def test_create_refuses_option_strings_smuggled_into_simple_arguments(
    connect: McpFactory, sim: Simulator, args: dict[str, Any], word: str
) -> None:
    body = await failed(connect, "pve_qemu_create", {"node": "pve1", "vmid": 990, **args})
    assert body["code"] == "TOOL_INPUT_REJECTED" and word in body["message"]
    assert all(r.method == "GET" for r in sim.requests) and 990 not in sim.state.guests


@pytest.mark.parametrize(
    ("tool", "args", "words"),
    [
        ("pve_qemu_create", {"storage": "nfs-backup"}, "storage 'nfs-backup' does not support vm images"),
        ("pve_lxc_create", {"storage": "local", "ostemplate": CT_TEMPLATE}, "does not support container directories"),
        ("pve_lxc_create", {"ostemplate": "local:vztmpl/none.tar.zst"}, "volume 'local:vztmpl/none.tar.zst' does not"),
    ],
)
async def test_create_refuses_storage_that_cannot_hold_the_disk_and_leaves_nothing_behind(
    connect: McpFactory, sim: Simulator, tool: str, args: dict[str, Any], words: str
) -> None:
    body = await failed(connect, tool, {"node": "pve1", "vmid": 991, **args})
    assert words in body["message"]
    assert 991 not in sim.state.guests and volumes(sim, 991) == {}


@pytest.mark.parametrize(("tool", "kind"), [("pve_qemu_delete", "qemu"), ("pve_lxc_delete", "lxc")])
async def test_delete_removes_a_stopped_guest_and_its_disks(
    connect: McpFactory, sim: Simulator, tool: str, kind: str
) -> None:
    guest = pick(sim, kind, "stopped")
    assert volumes(sim, guest.vmid)
    task = await outcome(connect, tool, {"vmid": guest.vmid, "confirm": True, "purge": True})
    assert task["exitstatus"] == "OK"
    assert guest.vmid not in sim.state.guests and volumes(sim, guest.vmid) == {}
    listed = [str(job.get("vmid", "")).split(",") for job in sim.state.backup.jobs.values()]
    assert all(str(guest.vmid) not in vmids for vmids in listed)
    assert (await failed(connect, "pve_get_qemu_status", {"vmid": guest.vmid}))["code"] == "GUEST_NOT_FOUND"


@pytest.mark.parametrize(
    ("tool", "kind", "words"),
    [
        ("pve_qemu_delete", "qemu", "VM {} is running - destroy failed"),
        ("pve_lxc_delete", "lxc", "unable to destroy CT {} - container is running"),
    ],
)
async def test_delete_refuses_a_running_guest_in_proxmox_words(
    connect: McpFactory, sim: Simulator, tool: str, kind: str, words: str
) -> None:
    guest = next(g for g in sim.state.guests.values() if g.type == kind and g.running and g.vmid != 100)
    body = await failed(connect, tool, {"vmid": guest.vmid, "confirm": True})
    assert words.format(guest.vmid) in body["message"]
    assert guest.vmid in sim.state.guests


async def test_a_forced_container_delete_stops_it_first(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "running")
    await call(connect, "pve_lxc_delete", {"vmid": guest.vmid, "force": True, "confirm": True})
    finish(sim)
    assert guest.vmid not in sim.state.guests


async def test_a_replicated_guest_is_deleted_only_with_purge(connect: McpFactory, sim: Simulator) -> None:
    job = next(iter(sim.state.admin.replication.values()))
    guest = sim.state.guests[job.guest]
    guest.status = "stopped"
    body = await failed(connect, "pve_qemu_delete", {"vmid": guest.vmid, "confirm": True})
    assert f"There is a replication job '{job.id}' for guest '{guest.vmid}'" in body["message"]
    await call(connect, "pve_qemu_delete", {"vmid": guest.vmid, "confirm": True, "purge": True})
    finish(sim)
    assert guest.vmid not in sim.state.guests and job.id not in sim.state.admin.replication


async def test_a_running_vm_migrates_only_online_and_takes_its_local_disk_along(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "running")
    target = next(n for n in sim.state.nodes if n != guest.node)
    refused = await failed(connect, "pve_qemu_migrate", {"vmid": guest.vmid, "target": target, "confirm": True})
    assert "can't migrate running VM without --online" in refused["message"]
    # Proxmox would fail this in the task, after copying; the preflight refuses it before anything is sent
    body = await failed(
        connect, "pve_qemu_migrate", {"vmid": guest.vmid, "target": target, "online": True, "confirm": True}
    )
    assert body["message"] == "can't live migrate attached local disks without with-local-disks option"
    assert "with-local-disks=true" in body["hint"] and guest.node != target
    args = {"vmid": guest.vmid, "target": target, "online": True, "with-local-disks": True, "confirm": True}
    body = await started(connect, "pve_qemu_migrate", args)
    assert guest.lock == "migrate"
    assert (await waited(connect, body))["exitstatus"] == "OK"
    assert (guest.node, guest.status) == (target, "running")
    assert sim.state.guests[guest.vmid].lock is None
    disk = str(guest.config["scsi0"]).split(",")[0]
    assert any(v.volid == disk for v in sim.state.volumes[("local-lvm", target)])
    assert (await call(connect, "pve_get_qemu_status", {"vmid": guest.vmid}))["status"] == "running"


async def test_a_running_container_migrates_in_restart_mode(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "running")
    target = next(n for n in sim.state.nodes if n != guest.node)
    refused = await failed(connect, "pve_lxc_migrate", {"vmid": guest.vmid, "target": target, "confirm": True})
    assert "can't migrate running container without --online or --restart" in refused["message"]
    args = {"vmid": guest.vmid, "target": target, "restart": True, "confirm": True}
    body = await started(connect, "pve_lxc_migrate", args)
    assert guest.lock == "migrate"
    assert (await waited(connect, body))["exitstatus"] == "OK"
    assert (guest.node, guest.status) == (target, "running")
    assert str(guest.config["rootfs"]).split(",")[0] in {v.volid for v in sim.state.volumes[("local-lvm", target)]}


@pytest.mark.parametrize(
    ("tool", "kind", "key"), [("pve_qemu_clone", "qemu", "name"), ("pve_lxc_clone", "lxc", "hostname")]
)
async def test_a_clone_copies_the_config_to_the_next_free_id_with_new_disks_and_mac(
    connect: McpFactory, sim: Simulator, tool: str, kind: str, key: str
) -> None:
    source = pick(sim, kind, "stopped")
    newid = free_id(sim)
    body = await started(connect, tool, {"vmid": source.vmid, key: "copy-01"})
    assert body["newid"] == newid and sim.state.guests[newid].lock == "clone"
    assert (await waited(connect, body))["exitstatus"] == "OK"
    copy = sim.state.guests[newid]
    assert (copy.node, copy.lock, copy.config[key]) == (source.node, None, "copy-01")
    assert copy.config["cores"] == source.config["cores"] and copy.config["memory"] == source.config["memory"]
    assert copy.config["net0"] != source.config["net0"]
    disk_key = "scsi0" if kind == "qemu" else "rootfs"
    assert str(copy.config[disk_key]).startswith(f"local-lvm:vm-{newid}-disk-0,")
    assert volumes(sim, newid)


async def test_a_template_clones_linked_by_default_and_refuses_a_storage_for_it(
    connect: McpFactory, sim: Simulator
) -> None:
    template = next(g for g in sim.state.guests.values() if g.template)
    body = await failed(connect, "pve_qemu_clone", {"vmid": template.vmid, "newid": 950, "storage": "local-lvm"})
    assert "parameter 'storage' not allowed for linked clones" in body["message"]
    body = await call(connect, "pve_qemu_clone", {"vmid": template.vmid, "newid": 950, "pool": "production"})
    finish(sim)
    assert sim.state.guests[950].pool == "production" and not sim.state.guests[950].template
    assert sim.state.guests[950].config["name"] == f"Copy-of-VM-{template.name}"


async def test_a_running_vm_keeps_cpu_and_memory_changes_pending_until_it_starts(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "running")
    before = guest.config["memory"]
    args = {"vmid": guest.vmid, "memory": 8192, "cores": 6, "description": "resized", "confirm": True}
    body = await call(connect, "pve_qemu_update_config", args)
    assert body["changed"] == ["cores", "description", "memory"]
    assert {p["key"]: p["pending"] for p in body["pending"]} == {"cores": "6", "memory": "8192"}
    assert guest.config["memory"] == before and guest.config["description"] == "resized"
    shown = await call(connect, "pve_get_qemu_config", {"vmid": guest.vmid})
    assert shown["memory"] == "8192" and shown["cores"] == 6
    rows = (await call(connect, "pve_get_qemu_pending_config", {"vmid": guest.vmid}))["items"]
    assert {"key": "memory", "value": str(before), "pending": "8192"} in rows
    await call(connect, "pve_reboot_qemu_vm", {"vmid": guest.vmid, "confirm": True})
    finish(sim)
    assert guest.config["memory"] == "8192" and guest.config["cores"] == 6
    rows = (await call(connect, "pve_get_qemu_pending_config", {"vmid": guest.vmid}))["items"]
    assert not any("pending" in r for r in rows)


async def test_a_container_config_change_applies_at_once_and_can_delete_keys(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "lxc", "running")
    guest.config["description"] = "old notes"
    args = {"vmid": guest.vmid, "memory": 2048, "swap": 0, "hostname": "ct-renamed", "delete": "description"}
    body = await call(connect, "pve_lxc_update_config", {**args, "confirm": True})
    assert body["pending"] == [] and body["deleted"] == ["description"]
    assert (guest.config["memory"], guest.config["swap"], guest.name) == (2048, 0, "ct-renamed")
    assert "description" not in guest.config
    body = await call(connect, "pve_lxc_update_config", {"vmid": guest.vmid, "delete": "features", "confirm": True})
    assert body["pending"] == [{"key": "features", "value": "nesting=1", "delete": 1}]
    rows = (await call(connect, "pve_get_lxc_pending_config", {"vmid": guest.vmid}))["items"]
    assert {"key": "memory", "value": "2048"} in rows
    rejected = await failed(connect, "pve_lxc_update_config", {"vmid": guest.vmid, "confirm": True})
    assert rejected["code"] == "TOOL_INPUT_REJECTED"


async def test_a_disk_grows_but_never_shrinks(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    size = int(str(guest.config["scsi0"]).rsplit("size=", 1)[1].rstrip("G"))
    task = await outcome(
        connect, "pve_qemu_resize_disk", {"vmid": guest.vmid, "disk": "scsi0", "size": "+8G", "confirm": True}
    )
    assert task["exitstatus"] == "OK"
    assert str(guest.config["scsi0"]).endswith(f"size={size + 8}G")
    assert volumes(sim, guest.vmid)[str(guest.config["scsi0"]).split(",")[0]] == (size + 8) * GIB
    task = await outcome(
        connect, "pve_qemu_resize_disk", {"vmid": guest.vmid, "disk": "scsi0", "size": "1G", "confirm": True}
    )
    assert task["exitstatus"] == "shrinking disks is not supported"
    task = await outcome(
        connect, "pve_qemu_resize_disk", {"vmid": guest.vmid, "disk": "scsi5", "size": "+1G", "confirm": True}
    )
    assert task["exitstatus"] == "disk 'scsi5' does not exist"


SNAPSHOT_TOOLS = {
    "qemu": (
        "pve_qemu_create_snapshot",
        "pve_list_qemu_snapshots",
        "pve_qemu_rollback_snapshot",
        "pve_qemu_delete_snapshot",
    ),
    "lxc": (
        "pve_lxc_create_snapshot",
        "pve_list_lxc_snapshots",
        "pve_lxc_rollback_snapshot",
        "pve_lxc_delete_snapshot",
    ),
}


@pytest.mark.parametrize("kind", ["qemu", "lxc"])
async def test_snapshots_form_a_tree_roll_back_the_config_and_can_be_deleted(
    connect: McpFactory, sim: Simulator, kind: str
) -> None:
    create, listing, rollback, delete = SNAPSHOT_TOOLS[kind]
    guest = pick(sim, kind, "running")
    cores = guest.config["cores"]
    for name in ("before", "after"):
        await call(connect, create, {"vmid": guest.vmid, "snapname": name, "description": f"{name} the change"})
        finish(sim)
        guest.config["cores"] = 16 if name == "before" else 32
    items = (await call(connect, listing, {"vmid": guest.vmid}))["items"]
    tree = {i["name"]: i.get("parent") for i in items}
    assert tree == {"before": None, "after": "before", "current": "after"}
    assert next(i for i in items if i["name"] == "before")["description"] == "before the change"
    task = await outcome(connect, rollback, {"vmid": guest.vmid, "snapname": "before", "confirm": True})
    assert task["exitstatus"] == "OK"
    assert guest.config["cores"] == cores and guest.config["parent"] == "before" and guest.status == "stopped"
    await call(connect, delete, {"vmid": guest.vmid, "snapname": "before", "confirm": True})
    finish(sim)
    items = (await call(connect, listing, {"vmid": guest.vmid}))["items"]
    assert {i["name"]: i.get("parent") for i in items} == {"after": None, "current": None}
    for tool in (delete, rollback):
        task = await outcome(connect, tool, {"vmid": guest.vmid, "snapname": "nope", "confirm": True})
        assert task["exitstatus"] == "snapshot 'nope' does not exist"


async def test_a_ram_snapshot_resumes_the_vm_on_rollback(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    await call(connect, "pve_qemu_create_snapshot", {"vmid": guest.vmid, "snapname": "live", "vmstate": True})
    finish(sim)
    items = (await call(connect, "pve_list_qemu_snapshots", {"vmid": guest.vmid}))["items"]
    assert next(i for i in items if i["name"] == "live")["vmstate"] == 1
    await call(connect, "pve_stop_qemu_vm", {"vmid": guest.vmid, "confirm": True})
    finish(sim)
    await call(connect, "pve_qemu_rollback_snapshot", {"vmid": guest.vmid, "snapname": "live", "confirm": True})
    finish(sim)
    assert guest.status == "running"


async def test_a_stopped_vm_becomes_a_template_with_base_disks(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    running = pick(sim, "qemu", "running")
    body = await failed(connect, "pve_qemu_create_template", {"vmid": running.vmid, "confirm": True})
    assert "you can't convert a VM to template if VM is running" in body["message"]
    task = await outcome(connect, "pve_qemu_create_template", {"vmid": guest.vmid, "confirm": True})
    assert task["exitstatus"] == "OK"
    assert guest.template and str(guest.config["scsi0"]).startswith(f"local-lvm:base-{guest.vmid}-disk-0,")
    assert f"local-lvm:base-{guest.vmid}-disk-0" in volumes(sim, guest.vmid)


async def test_a_guest_agent_command_reports_its_output_once(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    args = {"vmid": guest.vmid, "command": ["uname", "-a"], "confirm": True}
    pid = (await call(connect, "pve_exec_qemu_guest_command", args))["pid"]
    status = await call(connect, "pve_get_qemu_guest_exec_status", {"vmid": guest.vmid, "pid": pid})
    assert status["exited"] == 1 and status["exitcode"] == 0
    assert status["out-data"].startswith(f"Linux {guest.name} ") and status["out-data"].endswith(" x86_64 GNU/Linux\n")
    again = await failed(connect, "pve_get_qemu_guest_exec_status", {"vmid": guest.vmid, "pid": pid})
    assert "Invalid parameter 'pid'" in again["message"]
    args = {"vmid": guest.vmid, "command": ["cat"], "input-data": "hello\n", "confirm": True}
    pid = (await call(connect, "pve_exec_qemu_guest_command", args))["pid"]
    assert (await call(connect, "pve_get_qemu_guest_exec_status", {"vmid": guest.vmid, "pid": pid}))[
        "out-data"
    ] == "hello\n"


async def test_a_long_guest_command_runs_on_the_clock_and_a_missing_program_fails(
    connect: McpFactory, sim: Simulator
) -> None:
    guest = pick(sim, "qemu", "running")
    args = {"vmid": guest.vmid, "command": ["sleep", "20"], "confirm": True}
    pid = (await call(connect, "pve_exec_qemu_guest_command", args))["pid"]
    assert await call(connect, "pve_get_qemu_guest_exec_status", {"vmid": guest.vmid, "pid": pid}) == {"exited": 0}
    sim.clock.advance(21)
    assert (await call(connect, "pve_get_qemu_guest_exec_status", {"vmid": guest.vmid, "pid": pid}))["exited"] == 1
    body = await failed(
        connect, "pve_exec_qemu_guest_command", {"vmid": guest.vmid, "command": ["nmap"], "confirm": True}
    )
    assert "Failed to execute child process" in body["message"]
    stopped = pick(sim, "qemu", "stopped")
    body = await failed(
        connect, "pve_exec_qemu_guest_command", {"vmid": stopped.vmid, "command": ["true"], "confirm": True}
    )
    assert f"VM {stopped.vmid} is not running" in body["message"]


def destructive_calls(sim: Simulator) -> list[tuple[str, dict[str, Any], Guest]]:
    vm, ct = pick(sim, "qemu", "stopped"), pick(sim, "lxc", "stopped")
    other = {g: next(n for n in sim.state.nodes if n != g.node) for g in (vm, ct)}
    return [
        ("pve_qemu_delete", {"vmid": vm.vmid}, vm),
        ("pve_lxc_delete", {"vmid": ct.vmid}, ct),
        ("pve_qemu_migrate", {"vmid": vm.vmid, "target": other[vm]}, vm),
        ("pve_lxc_migrate", {"vmid": ct.vmid, "target": other[ct]}, ct),
        ("pve_qemu_update_config", {"vmid": vm.vmid, "memory": 512}, vm),
        ("pve_lxc_update_config", {"vmid": ct.vmid, "memory": 128}, ct),
        ("pve_qemu_resize_disk", {"vmid": vm.vmid, "disk": "scsi0", "size": "+1G"}, vm),
        ("pve_qemu_delete_snapshot", {"vmid": vm.vmid, "snapname": "s"}, vm),
        ("pve_lxc_delete_snapshot", {"vmid": ct.vmid, "snapname": "s"}, ct),
        ("pve_qemu_rollback_snapshot", {"vmid": vm.vmid, "snapname": "s"}, vm),
        ("pve_lxc_rollback_snapshot", {"vmid": ct.vmid, "snapname": "s"}, ct),
        ("pve_qemu_create_template", {"vmid": vm.vmid}, vm),
        ("pve_exec_qemu_guest_command", {"vmid": vm.vmid, "command": ["true"]}, vm),
    ]


DESTRUCTIVE = [name for name, _, _ in destructive_calls(Simulator())]


@pytest.mark.parametrize("tool", DESTRUCTIVE)
async def test_destructive_admin_tools_change_nothing_without_confirm(
    connect: McpFactory, sim: Simulator, tool: str
) -> None:
    _, args, guest = next(c for c in destructive_calls(sim) if c[0] == tool)
    before = (guest.node, dict(guest.config), guest.status)
    body = await failed(connect, tool, args)
    assert body["code"] == "CONFIRMATION_REQUIRED" and str(guest.vmid) in body["message"]
    finish(sim)
    assert all(r.method == "GET" for r in sim.requests)
    assert (guest.node, dict(guest.config), guest.status) == before and sim.state.guests[guest.vmid] is guest
