"""Template tools through the SDK client: cloud-init settings and dumps, VM templates, ISO and CT templates."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import pytest

from pvesim import Simulator
from pvesim.state import Guest
from tests.conftest import McpFactory
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio

KEYS = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1x admin@laptop\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 ops@bastion"


def configure(guest: Guest, **settings: Any) -> None:
    for key, value in settings.items():
        guest.config[key] = value


async def dump(connect: McpFactory, guest: Guest, kind: str | None = None) -> str:
    args: dict[str, Any] = {"vmid": guest.vmid}
    if kind is not None:
        args["type"] = kind
    return str((await call(connect, "pve_get_qemu_cloudinit_dump", args))["content"])


async def test_the_user_data_dump_renders_the_vm_config(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    configure(guest, ciuser="admin", sshkeys=quote(KEYS, safe=""), searchdomain="example.com", ciupgrade=0)
    text = await dump(connect, guest)
    assert text.startswith("#cloud-config\n")
    assert f"hostname: {guest.name}\n" in text and f"fqdn: {guest.name}.example.com\n" in text
    assert "user: admin\n" in text and "users:\n  - default\n" in text
    assert "  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1x admin@laptop\n" in text
    assert "  - ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 ops@bastion\n" in text
    assert "package_upgrade" not in text
    requests = [r for r in sim.requests if r.path.endswith("/cloudinit/dump")]
    assert requests[-1].params["type"] == "user"


async def test_the_network_dump_lists_static_and_dhcp_nics_with_dns(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    mac = str(guest.config["net0"]).split(",")[0].split("=")[1].lower()
    configure(
        guest,
        ipconfig0="ip=192.0.2.50/24,gw=192.0.2.1",
        net1="virtio=BC:24:11:00:00:01,bridge=vmbr1",
        ipconfig1="ip=dhcp",
        nameserver="192.0.2.53 192.0.2.54",
    )
    text = await dump(connect, guest, "network")
    assert text.startswith("version: 1\nconfig:\n    - type: physical\n      name: eth0\n")
    assert f"      mac_address: '{mac}'\n" in text
    assert "      - type: static\n        address: '192.0.2.50'\n        netmask: '255.255.255.0'\n" in text
    assert "        gateway: '192.0.2.1'\n" in text
    assert "      name: eth1\n" in text and "      - type: dhcp4\n" in text
    assert "      address:\n      - '192.0.2.53'\n      - '192.0.2.54'\n" in text


async def test_the_meta_data_dump_changes_with_the_user_data(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    before = await dump(connect, guest, "meta")
    user, network = await dump(connect, guest, "user"), await dump(connect, guest, "network")
    expected = hashlib.sha1((user + network).encode(), usedforsecurity=False).hexdigest()
    assert before == f"instance-id: {expected}\n"
    configure(guest, ciuser="ops")
    assert await dump(connect, guest, "meta") != before


async def test_only_templates_are_listed_cluster_wide_or_per_node(connect: McpFactory, sim: Simulator) -> None:
    templates = {g.vmid: g for g in sim.state.guests.values() if g.template}
    items = (await call(connect, "pve_list_qemu_templates"))["items"]
    assert {i["vmid"] for i in items} == set(templates) and templates
    one = next(iter(templates.values()))
    assert items[0]["name"] == one.name and items[0]["maxdisk"] > 0
    elsewhere = next(n for n in sim.state.nodes if n != one.node)
    assert (await call(connect, "pve_list_qemu_templates", {"node": elsewhere}))["items"] == []
    assert {r.path for r in sim.requests} == {"/cluster/resources"}


@pytest.mark.parametrize(
    ("tool", "content"), [("pve_list_iso_images", "iso"), ("pve_list_storage_templates", "vztmpl")]
)
async def test_content_listings_keep_only_their_content_type(
    connect: McpFactory, sim: Simulator, tool: str, content: str
) -> None:
    body = await call(connect, tool, {"node": "pve1", "storage": "local"})
    expected = {v.volid for v in sim.state.volumes[("local", "pve1")] if v.content == content}
    assert {i["volid"] for i in body["items"]} == expected and expected
    assert sim.requests[-1].params["content"] == content


async def test_setting_cloud_init_writes_the_config_with_url_encoded_keys(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    args = {
        "vmid": guest.vmid,
        "ciuser": "deploy",
        "sshkeys": KEYS,
        "ipconfig0": "ip=198.51.100.7/25,gw=198.51.100.1",
        "nameserver": "198.51.100.53",
        "searchdomain": "corp.example",
        "confirm": True,
    }
    assert (await call(connect, "pve_set_qemu_cloudinit", args)) == {"value": None}
    assert guest.config["ciuser"] == "deploy" and guest.config["searchdomain"] == "corp.example"
    assert guest.config["sshkeys"] == quote(KEYS, safe="-_.!~*'()")
    assert guest.config["ipconfig0"] == "ip=198.51.100.7/25,gw=198.51.100.1"
    text = await dump(connect, guest)
    assert "user: deploy\n" in text and "  - ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 ops@bastion\n" in text
    network = await dump(connect, guest, "network")
    assert "netmask: '255.255.255.128'" in network and "      - 'corp.example'\n" in network


async def test_setting_cloud_init_needs_at_least_one_setting(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    body = await failed(connect, "pve_set_qemu_cloudinit", {"vmid": guest.vmid, "confirm": True})
    assert body["code"] == "TOOL_INPUT_REJECTED" and "ciuser" in body["message"]
    assert all(r.method == "GET" for r in sim.requests)


async def test_converting_a_stopped_vm_makes_a_template_with_base_disks(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    task = (await call(connect, "pve_create_qemu_template", {"vmid": guest.vmid, "confirm": True}))["task"]
    assert task["upid"].startswith(f"UPID:{guest.node}:") and ":qmtemplate:" in task["upid"]
    assert task["exitstatus"] == "OK"
    assert guest.template and f"base-{guest.vmid}-disk-0" in str(guest.config["scsi0"])
    listed = (await call(connect, "pve_list_qemu_templates", {"node": guest.node}))["items"]
    assert guest.vmid in {i["vmid"] for i in listed}


async def test_a_running_vm_is_not_converted_to_a_template(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    body = await failed(connect, "pve_create_qemu_template", {"vmid": guest.vmid, "confirm": True})
    assert body["code"] == "PROXMOX_SERVER_ERROR"
    assert "you can't convert a VM to template if VM is running" in body["message"]
    sim.clock.advance(30)
    assert not guest.template


@pytest.mark.parametrize(
    ("tool", "extra"),
    [("pve_set_qemu_cloudinit", {"ciuser": "mallory"}), ("pve_create_qemu_template", {})],
)
async def test_template_writes_without_confirm_change_nothing(
    connect: McpFactory, sim: Simulator, tool: str, extra: dict[str, Any]
) -> None:
    guest = pick(sim, "qemu", "stopped")
    before = dict(guest.config)
    body = await failed(connect, tool, {"vmid": guest.vmid, **extra})
    assert body["code"] == "CONFIRMATION_REQUIRED" and "confirm=true" in body["message"]
    sim.clock.advance(30)
    assert all(r.method == "GET" for r in sim.requests)
    assert dict(guest.config) == before
