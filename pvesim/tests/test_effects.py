"""The effect record: what each request addressed (reads) and changed (changes), tasks included."""

from __future__ import annotations

import httpx2
import pytest

from pvesim import Fault, RecordedRequest, Simulator, Target
from sim_support import API, data, make_client
from test_lifecycle import SteppedClock

pytestmark = pytest.mark.anyio

PVE1, PVE2, PVE3 = ("node", "pve1"), ("node", "pve2"), ("node", "pve3")


def guest(vmid: int) -> Target:
    return ("guest", vmid)


@pytest.fixture
def sim() -> Simulator:
    """The package's ``client`` fixture serves this simulator."""
    return Simulator(record_effects=True)


async def send(client: httpx2.AsyncClient, sim: Simulator, method: str, path: str, **params: str) -> RecordedRequest:
    if method in ("POST", "PUT"):
        await client.request(method, f"{API}{path}", data=params)
    else:
        await client.request(method, f"{API}{path}", params=params)
    return sim.requests[-1]


async def test_reading_a_guest_config_addresses_the_guest_and_its_node_and_changes_nothing(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    record = await send(client, sim, "GET", "/nodes/pve1/qemu/100/config")

    assert record.reads == {guest(100), PVE1}
    assert record.changes == set()


async def test_the_cluster_resource_list_addresses_nothing(sim: Simulator, client: httpx2.AsyncClient) -> None:
    record = await send(client, sim, "GET", "/cluster/resources")

    assert (record.reads, record.changes) == (set(), set())


async def test_a_filter_naming_a_guest_addresses_it(sim: Simulator, client: httpx2.AsyncClient) -> None:
    content = await send(client, sim, "GET", "/nodes/pve1/storage/nfs-backup/content", vmid="106")
    tasks = await send(client, sim, "GET", "/nodes/pve2/tasks", vmid="101")

    assert content.reads == {guest(106), PVE1}
    assert tasks.reads == {guest(101), PVE2}


async def test_a_vm_start_changes_the_guest_and_its_node_and_keeps_its_task_effect(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    start = await send(client, sim, "POST", "/nodes/pve1/qemu/103/status/start")
    assert start.changes == {guest(103), PVE1}  # the task on pve1, named after 103
    rev_before = sim.state.guests[103].rev

    sim.clock.advance(3)
    later = await send(client, sim, "GET", "/nodes/pve1/qemu/103/status/current")

    assert sim.state.guests[103].rev != rev_before and sim.state.guests[103].running
    assert start.changes == {guest(103), PVE1}
    assert later.changes == set()
    assert sim.background_changes == set()


async def test_a_migration_changes_the_guest_its_source_and_its_target(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    migrate = await send(
        client, sim, "POST", "/nodes/pve1/qemu/100/migrate", target="pve3", online="1", **{"with-local-disks": "1"}
    )
    assert migrate.reads == {guest(100), PVE1, PVE3}

    sim.clock.advance(3)

    assert sim.state.guests[100].node == "pve3"
    assert migrate.changes == {guest(100), PVE1, PVE3}


async def test_vzdump_with_a_vmid_list_changes_those_guests(sim: Simulator, client: httpx2.AsyncClient) -> None:
    backups = sim.state.volumes[("nfs-backup", "")]
    before = len(backups)
    backup = await send(client, sim, "POST", "/nodes/pve1/vzdump", vmid="100,103", storage="nfs-backup")
    locked = set(backup.changes)
    sim.clock.advance(3)

    assert sorted(v.vmid or 0 for v in backups[before:]) == [100, 103]
    assert backup.reads == {guest(100), guest(103), PVE1}
    assert locked == backup.changes == {guest(100), guest(103), PVE1}  # backup locks, then the archives


async def test_vzdump_all_addresses_and_changes_every_guest_of_the_node(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    on_pve2 = {guest(g.vmid) for g in sim.state.guests.values() if g.node == "pve2"}

    backup = await send(client, sim, "POST", "/nodes/pve2/vzdump", all="1", storage="nfs-backup")
    sim.clock.advance(3)

    assert backup.reads == on_pve2 | {PVE2}
    assert backup.changes == on_pve2 | {PVE2}


async def test_a_clone_changes_the_new_guest(sim: Simulator, client: httpx2.AsyncClient) -> None:
    clone = await send(client, sim, "POST", "/nodes/pve1/qemu/109/clone", newid="150", target="pve1")
    sim.clock.advance(3)

    assert clone.reads == {guest(109), guest(150), PVE1}
    assert guest(150) in clone.changes and PVE1 in clone.changes
    assert clone.changes <= {guest(109), guest(150), PVE1}  # the source only through the task named after it


async def test_a_failed_request_still_records_what_it_addressed(sim: Simulator, client: httpx2.AsyncClient) -> None:
    unknown = await send(client, sim, "GET", "/nodes/pve1/qemu/999/config")
    bad = await send(client, sim, "POST", "/nodes/pve1/qemu/100/migrate", target="pve2", online="maybe")
    offlist = await send(client, sim, "GET", "/nodes/pve9/qemu/100/config")
    unrouted = await send(client, sim, "GET", "/nodes/pve2/qemu/101/nonsense")
    malformed = await send(client, sim, "GET", "/nodes/pve1/qemu/not-a-vmid/config")

    assert unknown.reads == {guest(999), PVE1}
    assert bad.reads == {guest(100), PVE1, PVE2}
    assert offlist.reads == {guest(100), ("node", "pve9")}
    assert unrouted.reads == {guest(101), PVE2}
    assert malformed.reads == {PVE1}
    assert all(not r.changes for r in sim.requests)


async def test_requests_stopped_before_the_handler_address_what_they_named(sim: Simulator) -> None:
    sim.arm(Fault(kind="status", status=503, path_prefix="/nodes/pve2", count=1))
    async with make_client(sim) as client:
        faulted = await send(client, sim, "POST", "/nodes/pve2/qemu/101/status/stop")
    async with make_client(sim, auth=False) as anonymous:
        refused = await send(anonymous, sim, "POST", "/nodes/pve3/lxc/201/status/stop")

    assert faulted.reads == {guest(101), PVE2} and refused.reads == {guest(201), PVE3}
    assert faulted.changes == refused.changes == set()
    assert sim.state.guests[101].running and sim.state.guests[201].running


async def test_ids_that_embed_a_guest_address_it(sim: Simulator, client: httpx2.AsyncClient) -> None:
    upid = next(t.upid for t in sim.state.tasks.values() if t.node == "pve2" and t.id.isdigit())
    task_guest = guest(int(sim.state.tasks[upid].id))

    sid = await send(client, sim, "GET", "/cluster/ha/resources/vm:104")
    job = await send(client, sim, "GET", "/cluster/replication/100-0")
    volume = await send(client, sim, "DELETE", "/nodes/pve1/storage/local-lvm/content/vm-100-disk-0")
    task = await send(client, sim, "GET", f"/nodes/localhost/tasks/{upid}/status")

    assert sid.reads == {guest(104)}
    assert job.reads == {guest(100)}
    assert volume.reads == {guest(100), PVE1}
    assert task.reads == {PVE1, PVE2, task_guest}  # localhost is pve1; the UPID names pve2


async def test_an_ha_resource_naming_a_guest_changes_it(sim: Simulator, client: httpx2.AsyncClient) -> None:
    create = await send(client, sim, "POST", "/cluster/ha/resources", sid="vm:103", state="started")
    sim.clock.advance(3)

    assert create.reads == {guest(103)}
    assert create.changes == {guest(103), PVE1}  # the CRM starts it through a task on its node
    assert sim.state.guests[103].running


async def test_a_replication_job_changes_its_guest_and_its_target_node(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    create = await send(client, sim, "POST", "/cluster/replication", id="106-0", target="pve3", type="local")

    assert create.reads == {guest(106), PVE3}
    assert create.changes == {guest(106), PVE3}


async def test_stopping_a_task_changes_its_node_and_guest(sim: Simulator, client: httpx2.AsyncClient) -> None:
    upid = data(await client.post(f"{API}/nodes/pve1/qemu/100/status/shutdown"))

    stop = await send(client, sim, "DELETE", f"/nodes/pve1/tasks/{upid}")

    assert stop.changes == {guest(100), PVE1}
    assert sim.state.tasks[upid].status == "interrupted by signal"


async def test_a_hand_edit_between_requests_is_not_a_requests_doing(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.state.guests[105].config["description"] = "edited by hand"
    sim.state.nodes["pve2"].online = False
    sim.state.firewall.guest_rules[201][0]["comment"] = "edited in place"
    sim.state.volumes[("local-lvm", "pve1")][0].size += 1  # vm-100-disk-0, on pve1's local storage

    record = await send(client, sim, "GET", "/version")

    assert record.changes == set()
    assert sim.background_changes == {guest(105), guest(201), guest(100), PVE1, PVE2}


async def test_the_replication_scheduler_runs_in_the_background(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.clock.advance(60)
    assert sim.background_changes == set()  # an idle scheduler tick changes nothing
    assert sim.state.replication_runs.runs["100-0"].log  # the seeded run, untouched

    sim.clock.advance(3600)  # the seeded job 100-0 comes due and syncs to pve2, with nobody asking

    assert sim.background_changes == {guest(100), PVE2}
    listing = await send(client, sim, "GET", "/cluster/replication")
    assert listing.changes == set()


async def test_a_request_that_wakes_the_scheduler_is_not_credited_with_its_runs() -> None:
    clock = SteppedClock()  # moves without telling anyone, as the wall clock does
    sim = Simulator(clock=clock, record_effects=True)
    clock.advance(3600)

    async with make_client(sim) as client:
        listing = await send(client, sim, "GET", "/nodes/pve1/replication")

    assert listing.reads == {PVE1} and listing.changes == set()
    assert sim.background_changes == {guest(100), PVE2}


async def test_recording_off_leaves_the_sets_empty() -> None:
    sim = Simulator()
    async with make_client(sim) as client:
        await client.post(f"{API}/nodes/pve1/qemu/103/status/start")
        sim.clock.advance(3)
        await client.get(f"{API}/nodes/pve1/qemu/103/config")

    assert not sim.record_effects and sim.effects is None
    assert all(not r.reads and not r.changes for r in sim.requests)
    assert sim.touched() == (set(), set())
    assert sim.requests[0] == RecordedRequest("POST", "/nodes/pve1/qemu/103/status/start", {})


async def test_recording_can_be_switched_on_and_off() -> None:
    sim = Simulator()
    async with make_client(sim) as client:
        await client.get(f"{API}/nodes/pve1/qemu/100/config")
        sim.record_effects = True
        await client.get(f"{API}/nodes/pve1/qemu/100/config")
        sim.record_effects = False
        await client.get(f"{API}/nodes/pve1/qemu/100/config")

    assert [bool(r.reads) for r in sim.requests] == [False, True, False]


async def test_json_bodies_are_read_as_the_parameter_check_reads_them(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    moved = await client.put(f"{API}/pools", json={"poolid": "production", "vms": "106;107", "allow-move": True})
    refused = await client.put(f"{API}/pools", json={"poolid": "production", "vms": [108]})
    await client.post(f"{API}/nodes/localhost/vzdump", json={"vmid": 100, "storage": "nfs-backup"})

    pools, listed, vzdump = sim.requests[-3:]
    assert moved.status_code == 200 and refused.status_code == 400  # a JSON list is no string
    assert pools.reads == pools.changes == {guest(106), guest(107)}
    assert listed.reads == listed.changes == set()  # refused as a type error, the list names nothing
    assert vzdump.reads == {guest(100), PVE1}


async def test_the_control_api_lists_the_record(sim: Simulator, client: httpx2.AsyncClient) -> None:
    await client.get(f"{API}/nodes/pve1/qemu/100/config")

    listed = data(await client.get("/_sim/requests"))

    assert listed[-1]["reads"] == [["guest", 100], ["node", "pve1"]]
    assert listed[-1]["changes"] == []
