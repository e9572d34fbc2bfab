"""Ceph tools through the SDK client: health, status, OSD tree, pools, monitors, flags, and nodes without Ceph."""

from __future__ import annotations

import pytest

from pvesim import Simulator
from tests.conftest import McpFactory
from tests.helpers import call, failed

pytestmark = pytest.mark.anyio


async def test_a_healthy_cluster_reports_ok_with_every_part(connect: McpFactory, sim: Simulator) -> None:
    health = await call(connect, "pve_get_ceph_health")
    assert health == {"status": "HEALTH_OK", "checks": []}
    status = await call(connect, "pve_get_ceph_status")
    assert status["health"]["status"] == "HEALTH_OK" and status["quorum_names"] == ["pve1", "pve2", "pve3"]
    assert status["osdmap"]["num_osds"] == status["osdmap"]["num_up_osds"] == 6
    assert status["pgmap"]["pgs_by_state"] == [{"state_name": "active+clean", "count": 129}]
    assert 0 < status["pgmap"]["bytes_used"] < status["pgmap"]["bytes_total"]
    tree = await call(connect, "pve_list_ceph_osds", {"node": "pve2"})
    hosts = tree["root"]["children"]
    assert [h["name"] for h in hosts] == ["pve1", "pve2", "pve3"]
    assert [o["name"] for o in hosts[2]["children"]] == ["osd.4", "osd.5"]
    assert all(o["status"] == "up" and o["in"] == 1 for h in hosts for o in h["children"])
    pools = {p["pool_name"]: p for p in (await call(connect, "pve_list_ceph_pools", {"node": "pve1"}))["items"]}
    assert set(pools) == {".mgr", "ceph-vm"} and pools["ceph-vm"]["size"] == 3 and pools["ceph-vm"]["pg_num"] == 128
    assert pools["ceph-vm"]["application_metadata"] == {"rbd": {}} and 0 < pools["ceph-vm"]["percent_used"] < 1
    mons = (await call(connect, "pve_list_ceph_monitors", {"node": "pve3"}))["items"]
    assert [(m["name"], m["rank"], m["quorum"]) for m in mons] == [("pve1", 0, 1), ("pve2", 1, 1), ("pve3", 2, 1)]
    assert mons[0]["addr"] == f"{sim.state.nodes['pve1'].ip}:6789/0"
    flags = (await call(connect, "pve_get_ceph_flags"))["items"]
    assert len(flags) == 11 and not any(f["value"] for f in flags)


async def test_warnings_flags_and_down_osds_show_in_health(connect: McpFactory, sim: Simulator) -> None:
    ceph = sim.state.ceph
    ceph.warn("OSD_NEARFULL", "1 nearfull osd(s)")
    ceph.flags.add("noout")
    ceph.down.add(3)
    health = await call(connect, "pve_get_ceph_health")
    assert health["status"] == "HEALTH_WARN"
    assert [(c["check"], c["message"]) for c in health["checks"]] == [
        ("OSDMAP_FLAGS", "noout flag(s) set"),
        ("OSD_DOWN", "1 osds down"),
        ("OSD_NEARFULL", "1 nearfull osd(s)"),
    ]
    flags = {f["name"]: f["value"] for f in (await call(connect, "pve_get_ceph_flags"))["items"]}
    assert flags["noout"] == 1 and flags["noscrub"] == 0
    tree = await call(connect, "pve_list_ceph_osds", {"node": "pve1"})
    osd3 = next(o for h in tree["root"]["children"] for o in h["children"] if o["id"] == 3)
    assert osd3["status"] == "down" and osd3["host"] == "pve2" and tree["flags"].startswith("noout,")
    ceph.warn("PG_DAMAGED", "Possible data damage: 1 pg inconsistent", severity="HEALTH_ERR")
    assert (await call(connect, "pve_get_ceph_health"))["status"] == "HEALTH_ERR"


async def test_an_offline_node_drops_its_monitor_from_quorum(connect: McpFactory, sim: Simulator) -> None:
    sim.state.nodes["pve3"].online = False
    status = await call(connect, "pve_get_ceph_status")
    assert status["quorum_names"] == ["pve1", "pve2"] and status["osdmap"]["num_up_osds"] == 4
    assert status["health"]["checks"]["MON_DOWN"]["summary"]["message"] == "1/3 mons down, quorum pve1,pve2"
    mons = {m["name"]: m for m in (await call(connect, "pve_list_ceph_monitors", {"node": "pve1"}))["items"]}
    assert mons["pve3"]["state"] == "stopped" and "quorum" not in mons["pve3"]


async def test_a_node_without_ceph_answers_in_pves_words(connect: McpFactory, sim: Simulator) -> None:
    sim.state.ceph.absent.add("pve3")
    body = await failed(connect, "pve_list_ceph_pools", {"node": "pve3"})
    assert body["message"] == "binary not installed: /usr/bin/ceph-mon" and body["status"] == 500
    mons = (await call(connect, "pve_list_ceph_monitors", {"node": "pve1"}))["items"]
    assert [m["name"] for m in mons] == ["pve1", "pve2"]
    sim.state.ceph.initialized = False
    body = await failed(connect, "pve_get_ceph_health", {})
    assert body["message"] == "pveceph configuration not initialized - missing '/etc/pve/ceph.conf'"
