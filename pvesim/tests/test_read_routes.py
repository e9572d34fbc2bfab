from __future__ import annotations

import re

import httpx2
import pytest

from pvesim import Simulator
from sim_support import API, data, make_client, sample_path

pytestmark = pytest.mark.anyio

NODE_FIELDS = {
    "node", "status", "cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk",
    "uptime", "level", "id", "type", "ssl_fingerprint",
}  # fmt: skip


async def test_every_read_route_answers_with_data(sim: Simulator, client: httpx2.AsyncClient) -> None:
    for route in sim.router.routes:
        if route.method != "GET" or any(not p.optional and p.name not in route.placeholders for p in route.params):
            continue  # a required query value (a guest-agent pid) only an earlier call can supply
        response = await client.get(API + sample_path(sim, route.path))
        assert response.status_code == 200, (route.path, response.text)
        assert response.json()["data"] is not None, route.path


async def test_the_default_cluster_has_three_nodes_and_varied_guests(sim: Simulator) -> None:
    guests = sim.state.guests.values()
    qemu = [g for g in guests if g.type == "qemu"]
    lxc = [g for g in guests if g.type == "lxc"]

    assert list(sim.state.nodes) == ["pve1", "pve2", "pve3"]
    assert (len(qemu), len(lxc)) == (10, 6)
    assert sum(g.template for g in qemu) == 1
    assert sum(g.qmpstatus == "paused" for g in qemu) == 1
    assert {g.status for g in qemu} == {"running", "stopped"}
    assert {g.status for g in lxc} == {"running", "stopped"}
    assert {g.node for g in guests} == {"pve1", "pve2", "pve3"}
    assert any(g.pool == "production" for g in guests)
    assert min(g.vmid for g in guests) == 100
    assert {"web-01", "db-01", "ct-dns"} <= {g.name for g in guests}


async def test_nodes_list_carries_the_fields_pve_sends(client: httpx2.AsyncClient) -> None:
    nodes = data(await client.get(f"{API}/nodes"))

    assert [n["node"] for n in nodes] == ["pve1", "pve2", "pve3"]
    for node in nodes:
        assert set(node) >= NODE_FIELDS
        assert node["status"] == "online" and node["id"] == f"node/{node['node']}"
        assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", node["ssl_fingerprint"])


async def test_node_status_looks_like_a_pve_9_node(client: httpx2.AsyncClient) -> None:
    status = data(await client.get(f"{API}/nodes/pve2/status"))

    assert status["pveversion"].startswith("pve-manager/9.1.4/")
    assert set(status["memory"]) >= {"total", "used", "free"}
    assert status["memory"]["used"] + status["memory"]["free"] == status["memory"]["total"]
    assert set(status["rootfs"]) >= {"total", "used", "avail"}
    assert set(status["cpuinfo"]) >= {"cpus", "model", "sockets", "cores"}
    assert all(isinstance(x, str) for x in status["loadavg"]) and len(status["loadavg"]) == 3
    assert status["kversion"].startswith("Linux 6.17")
    assert status["uptime"] > 0 and 0 <= status["cpu"] <= 1


async def test_cluster_status_lists_the_cluster_then_each_node(client: httpx2.AsyncClient) -> None:
    items = data(await client.get(f"{API}/cluster/status"))

    assert items[0] == {
        "type": "cluster",
        "id": "cluster",
        "name": "sim-cluster",
        "nodes": 3,
        "quorate": 1,
        "version": 5,
    }
    assert items[1] == {
        "type": "node",
        "id": "node/pve1",
        "name": "pve1",
        "nodeid": 1,
        "ip": "192.0.2.10",
        "local": 1,
        "online": 1,
        "level": "",
    }
    assert [i["local"] for i in items[1:]] == [1, 0, 0]


async def test_a_single_node_is_a_standalone_node_without_a_cluster_entry() -> None:
    sim = Simulator(nodes=1, guests=4)
    async with make_client(sim) as c:
        items = data(await c.get(f"{API}/cluster/status"))

    assert [i["type"] for i in items] == ["node"]
    assert items[0]["nodeid"] == 0


async def test_cluster_resources_list_guests_nodes_storages_pools_and_sdn(client: httpx2.AsyncClient) -> None:
    items = data(await client.get(f"{API}/cluster/resources"))
    ids = {i["id"] for i in items}

    assert {
        "qemu/100",
        "lxc/200",
        "node/pve1",
        "storage/pve1/local",
        "storage/pve3/nfs-backup",
        "/pool/production",
        "sdn/pve1/localnetwork",
    } <= ids
    assert len(ids) == len(items)
    web = next(i for i in items if i["id"] == "qemu/100")
    assert web["name"] == "web-01" and web["node"] == "pve1" and web["template"] == 0
    assert web["tags"] == "prod;web" and web["pool"] == "production"
    template = next(i for i in items if i["id"] == "qemu/109")
    assert template["template"] == 1 and template["status"] == "stopped" and template["mem"] == 0
    storage = next(i for i in items if i["id"] == "storage/pve2/nfs-backup")
    assert storage["shared"] == 1 and storage["plugintype"] == "nfs" and storage["status"] == "available"


@pytest.mark.parametrize(
    ("kind", "types"),
    [("vm", {"qemu", "lxc"}), ("node", {"node"}), ("storage", {"storage"}), ("sdn", {"sdn"})],
)
async def test_cluster_resources_filter_by_type(client: httpx2.AsyncClient, kind: str, types: set[str]) -> None:
    items = data(await client.get(f"{API}/cluster/resources", params={"type": kind}))

    assert items and {i["type"] for i in items} == types


async def test_resources_follow_a_guest_changed_by_hand(sim: Simulator, client: httpx2.AsyncClient) -> None:
    await client.get(f"{API}/cluster/resources")
    sim.state.guests[100].config["name"] = "web-renamed"
    sim.state.guests[101].status = "stopped"

    items = {i["id"]: i for i in data(await client.get(f"{API}/cluster/resources", params={"type": "vm"}))}

    assert items["qemu/100"]["name"] == "web-renamed"
    assert items["qemu/101"]["status"] == "stopped" and items["qemu/101"]["uptime"] == 0


async def test_nextid_is_the_lowest_free_id_sent_as_a_string(client: httpx2.AsyncClient) -> None:
    first = await client.get(f"{API}/cluster/nextid")
    again = await client.get(f"{API}/cluster/nextid")

    assert data(first) == "110"
    assert data(again) == "110"


async def test_nextid_confirms_a_free_id_and_refuses_a_taken_one(client: httpx2.AsyncClient) -> None:
    free = await client.get(f"{API}/cluster/nextid", params={"vmid": "150"})
    taken = await client.get(f"{API}/cluster/nextid", params={"vmid": "100"})

    assert data(free) == "150"
    assert taken.status_code == 400
    assert taken.json() == {
        "data": None,
        "errors": {"vmid": "VM 100 already exists"},
        "message": "Parameter verification failed.\n",
    }


async def test_guest_lists_show_only_that_nodes_guests_with_pve_fields(client: httpx2.AsyncClient) -> None:
    qemu = data(await client.get(f"{API}/nodes/pve1/qemu"))
    full = data(await client.get(f"{API}/nodes/pve1/qemu", params={"full": "1"}))
    lxc = data(await client.get(f"{API}/nodes/pve2/lxc"))

    assert [g["vmid"] for g in qemu] == [100, 103, 106, 109]
    assert "qmpstatus" not in qemu[0] and full[0]["qmpstatus"] == "running"
    assert next(g for g in qemu if g["vmid"] == 109)["template"] == 1
    assert all("template" not in g for g in qemu if g["vmid"] != 109)
    assert "pid" in qemu[0] and "pid" not in qemu[1]
    assert [g["vmid"] for g in lxc] == [200, 203] and all(g["type"] == "lxc" for g in lxc)


async def test_qemu_status_reports_qmp_state_ha_and_agent(client: httpx2.AsyncClient) -> None:
    running = data(await client.get(f"{API}/nodes/pve1/qemu/100/status/current"))
    paused = data(await client.get(f"{API}/nodes/pve3/qemu/105/status/current"))
    stopped = data(await client.get(f"{API}/nodes/pve1/qemu/103/status/current"))

    assert running["status"] == "running" and running["qmpstatus"] == "running"
    assert running["ha"] == {"managed": 0} and running["agent"] == 1 and running["pid"] > 0
    assert paused["status"] == "running" and paused["qmpstatus"] == "paused"
    assert stopped["qmpstatus"] == "stopped" and stopped["uptime"] == 0 and "pid" not in stopped


async def test_lxc_status_reports_swap_and_ha(client: httpx2.AsyncClient) -> None:
    status = data(await client.get(f"{API}/nodes/pve2/lxc/200/status/current"))

    assert status["name"] == "ct-dns" and status["type"] == "lxc" and status["ha"] == {"managed": 0}
    assert status["maxswap"] == 512 * 1024 * 1024


async def test_qemu_config_reads_like_qm_config(client: httpx2.AsyncClient) -> None:
    config = data(await client.get(f"{API}/nodes/pve1/qemu/100/config"))

    assert config["name"] == "web-01"
    assert isinstance(config["memory"], str) and isinstance(config["cores"], int)
    assert re.fullmatch(r"local-lvm:vm-100-disk-0,iothread=1,size=\d+G", config["scsi0"])
    assert re.fullmatch(r"virtio=BC:24:11(:[0-9A-F]{2}){3},bridge=vmbr0,firewall=1", config["net0"])
    assert re.fullmatch(r"[0-9a-f]{40}", config["digest"])
    assert config["ostype"] == "l26" and config["onboot"] == 1


async def test_a_template_config_says_template_and_uses_a_base_disk(client: httpx2.AsyncClient) -> None:
    config = data(await client.get(f"{API}/nodes/pve1/qemu/109/config"))

    assert config["template"] == 1
    assert config["scsi0"].startswith("local-lvm:base-109-disk-0,")


async def test_lxc_config_reads_like_pct_config(client: httpx2.AsyncClient) -> None:
    config = data(await client.get(f"{API}/nodes/pve2/lxc/200/config"))

    assert config["hostname"] == "ct-dns" and config["arch"] == "amd64" and config["unprivileged"] == 1
    assert re.fullmatch(r"local-lvm:vm-200-disk-0,size=\d+G", config["rootfs"])
    assert config["net0"].startswith("name=eth0,bridge=vmbr0,") and "ip=dhcp" in config["net0"]
    assert isinstance(config["memory"], int) and isinstance(config["swap"], int)


async def test_the_digest_changes_when_the_config_does(sim: Simulator, client: httpx2.AsyncClient) -> None:
    before = data(await client.get(f"{API}/nodes/pve1/qemu/100/config"))["digest"]
    sim.state.guests[100].config["cores"] = 16

    after = data(await client.get(f"{API}/nodes/pve1/qemu/100/config"))["digest"]

    assert before != after


async def test_a_guest_asked_for_on_another_node_does_not_exist_there(client: httpx2.AsyncClient) -> None:
    qemu = await client.get(f"{API}/nodes/pve2/qemu/100/status/current")
    lxc = await client.get(f"{API}/nodes/pve1/lxc/200/config")
    wrong_type = await client.get(f"{API}/nodes/pve2/qemu/200/config")

    assert qemu.status_code == lxc.status_code == wrong_type.status_code == 500
    assert qemu.json()["message"] == "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist\n"
    assert lxc.json()["message"] == "Configuration file 'nodes/pve1/lxc/200.conf' does not exist\n"
    assert wrong_type.json()["message"] == "Configuration file 'nodes/pve2/qemu-server/200.conf' does not exist\n"


async def test_storage_index_lists_storage_cfg(client: httpx2.AsyncClient) -> None:
    storages = data(await client.get(f"{API}/storage"))
    nfs = data(await client.get(f"{API}/storage", params={"type": "nfs"}))

    assert [s["storage"] for s in storages] == ["local", "local-lvm", "nfs-backup"]
    assert storages[0]["content"] == "backup,iso,vztmpl" and storages[0]["type"] == "dir"
    assert storages[1]["type"] == "lvmthin" and storages[1]["content"] == "images,rootdir"
    assert [s["storage"] for s in nfs] == ["nfs-backup"]


async def test_node_storage_filters_by_content_and_storage(client: httpx2.AsyncClient) -> None:
    everything = data(await client.get(f"{API}/nodes/pve1/storage"))
    backups = data(await client.get(f"{API}/nodes/pve1/storage", params={"content": "backup"}))
    one = data(await client.get(f"{API}/nodes/pve1/storage", params={"storage": "local-lvm", "format": "1"}))
    missing = await client.get(f"{API}/nodes/pve1/storage", params={"storage": "nope"})

    assert [s["storage"] for s in everything] == ["local", "local-lvm", "nfs-backup"]
    assert [s["storage"] for s in backups] == ["local", "nfs-backup"]
    assert one[0]["formats"] == {"default": "raw", "supported": ["raw"]}
    assert one[0]["used"] + one[0]["avail"] == one[0]["total"] and one[0]["active"] == 1
    assert missing.status_code == 400 and missing.json()["errors"] == {"storage": "No such storage."}


async def test_storage_content_lists_isos_templates_disks_and_backups(client: httpx2.AsyncClient) -> None:
    local = data(await client.get(f"{API}/nodes/pve1/storage/local/content"))
    isos = data(await client.get(f"{API}/nodes/pve1/storage/local/content", params={"content": "iso"}))
    disks = data(await client.get(f"{API}/nodes/pve1/storage/local-lvm/content", params={"vmid": "100"}))
    backups = data(await client.get(f"{API}/nodes/pve2/storage/nfs-backup/content"))

    volids = {v["volid"] for v in local}
    assert "local:iso/debian-13.1.0-amd64-netinst.iso" in volids
    assert "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst" in volids
    assert {v["content"] for v in isos} == {"iso"}
    assert disks == [
        {
            "volid": "local-lvm:vm-100-disk-0",
            "content": "images",
            "format": "raw",
            "size": disks[0]["size"],
            "ctime": disks[0]["ctime"],
            "vmid": 100,
        }
    ]
    backup = next(b for b in backups if b["vmid"] == 100)
    assert re.fullmatch(r"nfs-backup:backup/vzdump-qemu-100-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.vma\.zst", backup["volid"])
    assert backup["format"] == "vma.zst" and backup["subtype"] == "qemu" and backup["notes"] == "web-01"


async def test_an_unknown_storage_has_no_content(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{API}/nodes/pve1/storage/tape/content")

    assert response.status_code == 500
    assert response.json()["message"] == "storage 'tape' does not exist\n"
