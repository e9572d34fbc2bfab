from __future__ import annotations

import re

import httpx2
import pytest

from pvesim import ManualClock, Simulator
from pvesim.tasks import decode_upid
from sim_support import API, UPID_PATTERN, data, make_client

pytestmark = pytest.mark.anyio


async def task_status(client: httpx2.AsyncClient, upid: str) -> dict[str, object]:
    node = upid.split(":")[1]
    result: dict[str, object] = data(await client.get(f"{API}/nodes/{node}/tasks/{upid}/status"))
    return result


async def post(client: httpx2.AsyncClient, path: str, **params: str) -> httpx2.Response:
    return await client.post(f"{API}{path}", data=params)


async def test_starting_a_vm_returns_a_upid_and_runs_it_when_the_task_finishes(
    sim: Simulator, client: httpx2.AsyncClient
) -> None:
    response = await post(client, "/nodes/pve1/qemu/103/status/start")
    upid = data(response)

    assert re.fullmatch(UPID_PATTERN, upid)
    assert upid.split(":")[5:8] == ["qmstart", "103", "root@pam!pvemcp"]
    assert sim.state.guests[103].status == "stopped"
    running = await task_status(client, upid)
    assert running["status"] == "running" and "exitstatus" not in running
    assert running["user"] == "root@pam" and running["tokenid"] == "pvemcp"

    sim.clock.advance(2.0)

    done = await task_status(client, upid)
    assert done["status"] == "stopped" and done["exitstatus"] == "OK"
    assert sim.state.guests[103].status == "running"
    current = data(await client.get(f"{API}/nodes/pve1/qemu/103/status/current"))
    assert current["status"] == "running" and current["uptime"] == 0 and current["pid"] > 0
    log = data(await client.get(f"{API}/nodes/pve1/tasks/{upid}/log"))
    assert log[-1] == {"n": len(log), "t": "TASK OK"}


async def test_a_task_lasts_within_task_seconds_on_the_sim_clock() -> None:
    sim = Simulator(task_seconds=(5.0, 5.0))
    async with make_client(sim) as client:
        upid = data(await post(client, "/nodes/pve1/qemu/100/status/shutdown"))
        sim.clock.advance(4.9)
        assert (await task_status(client, upid))["status"] == "running"
        sim.clock.advance(0.1)
        assert (await task_status(client, upid))["status"] == "stopped"

    assert sim.state.guests[100].status == "stopped"
    info = decode_upid(upid)
    assert info is not None and info.starttime == int(sim.clock.now() - 5)


async def test_advancing_a_manual_clock_finishes_due_tasks_at_once(sim: Simulator, client: httpx2.AsyncClient) -> None:
    await post(client, "/nodes/pve1/qemu/100/status/stop")

    sim.clock.advance(2.0)

    assert sim.state.guests[100].status == "stopped"


class SteppedClock:
    """A clock that does not tell anyone when it moves."""

    def __init__(self) -> None:
        self.at = 1_764_000_000.0

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


async def test_settle_finishes_only_the_tasks_that_are_due() -> None:
    clock = SteppedClock()
    sim = Simulator(clock=clock)
    async with make_client(sim) as client:
        await post(client, "/nodes/pve1/qemu/100/status/stop")

    assert sim.settle() == 0
    clock.advance(2.0)
    assert sim.state.guests[100].status == "running"
    assert sim.settle() == 1
    assert sim.state.guests[100].status == "stopped"


async def test_starting_a_running_vm_fails_in_the_task_as_pve_does(sim: Simulator, client: httpx2.AsyncClient) -> None:
    upid = data(await post(client, "/nodes/pve1/qemu/100/status/start"))
    sim.clock.advance(2.0)

    done = await task_status(client, upid)
    log = data(await client.get(f"{API}/nodes/pve1/tasks/{upid}/log"))

    assert done["exitstatus"] == "VM 100 already running"
    assert log[-1]["t"] == "TASK ERROR: VM 100 already running"


async def test_starting_a_template_fails_in_the_task(sim: Simulator, client: httpx2.AsyncClient) -> None:
    upid = data(await post(client, "/nodes/pve1/qemu/109/status/start"))
    sim.clock.advance(2.0)

    assert (await task_status(client, upid))["exitstatus"] == "you can't start a vm if it's a template"
    assert sim.state.guests[109].status == "stopped"


async def test_starting_a_locked_vm_fails_in_the_task(sim: Simulator, client: httpx2.AsyncClient) -> None:
    sim.state.guests[103].lock = "backup"  # left behind by a backup that died
    upid = data(await post(client, "/nodes/pve1/qemu/103/status/start"))
    sim.clock.advance(2.0)

    assert (await task_status(client, upid))["exitstatus"] == "VM is locked (backup)"
    assert sim.state.guests[103].status == "stopped"


@pytest.mark.parametrize("action", ["reboot", "reset", "suspend", "resume"])
async def test_power_actions_on_a_stopped_vm_are_refused_at_once(client: httpx2.AsyncClient, action: str) -> None:
    response = await post(client, f"/nodes/pve1/qemu/103/status/{action}")

    assert response.status_code == 500
    assert response.json() == {"data": None, "message": "VM 103 not running\n"}


@pytest.mark.parametrize("action", ["stop", "shutdown"])
async def test_stopping_a_stopped_vm_is_a_task_that_succeeds(
    sim: Simulator, client: httpx2.AsyncClient, action: str
) -> None:
    upid = data(await post(client, f"/nodes/pve1/qemu/103/status/{action}"))
    sim.clock.advance(2.0)

    assert (await task_status(client, upid))["exitstatus"] == "OK"


async def test_a_paused_vm_cannot_be_shut_down_unless_forced(sim: Simulator, client: httpx2.AsyncClient) -> None:
    refused = await post(client, "/nodes/pve3/qemu/105/status/shutdown")
    reboot = await post(client, "/nodes/pve3/qemu/105/status/reboot")
    forced = await post(client, "/nodes/pve3/qemu/105/status/shutdown", forceStop="1")
    sim.clock.advance(2.0)

    assert refused.status_code == reboot.status_code == 500
    assert refused.json()["message"] == "VM is paused - cannot shutdown\n"
    assert forced.status_code == 200
    assert sim.state.guests[105].status == "stopped"


async def test_suspend_pauses_and_resume_continues_a_vm(sim: Simulator, client: httpx2.AsyncClient) -> None:
    pause = data(await post(client, "/nodes/pve1/qemu/100/status/suspend"))
    sim.clock.advance(2.0)
    paused = data(await client.get(f"{API}/nodes/pve1/qemu/100/status/current"))
    resume = data(await post(client, "/nodes/pve1/qemu/100/status/resume"))
    sim.clock.advance(2.0)
    resumed = data(await client.get(f"{API}/nodes/pve1/qemu/100/status/current"))

    assert pause.split(":")[5] == "qmpause" and resume.split(":")[5] == "qmresume"
    assert paused["qmpstatus"] == "paused" and resumed["qmpstatus"] == "running"


async def test_suspend_to_disk_stops_the_vm_and_resume_boots_it(sim: Simulator, client: httpx2.AsyncClient) -> None:
    upid = data(await post(client, "/nodes/pve1/qemu/100/status/suspend", todisk="1"))
    sim.clock.advance(2.0)
    config = data(await client.get(f"{API}/nodes/pve1/qemu/100/config"))
    await post(client, "/nodes/pve1/qemu/100/status/resume")
    sim.clock.advance(2.0)

    assert upid.split(":")[5] == "qmsuspend"
    assert config["lock"] == "suspended"
    assert sim.state.guests[100].status == "running" and not sim.state.guests[100].saved_state


async def test_reboot_restarts_a_running_vm(sim: Simulator, client: httpx2.AsyncClient) -> None:
    old_pid = sim.state.guests[100].pid
    data(await post(client, "/nodes/pve1/qemu/100/status/reboot"))
    sim.clock.advance(2.0)

    current = data(await client.get(f"{API}/nodes/pve1/qemu/100/status/current"))
    assert current["status"] == "running" and current["pid"] != old_pid and current["uptime"] == 0


async def test_lxc_preconditions_are_checked_before_the_task(client: httpx2.AsyncClient) -> None:
    start = await post(client, "/nodes/pve2/lxc/200/status/start")
    resume = await post(client, "/nodes/pve2/lxc/200/status/resume")
    stop = await post(client, "/nodes/pve1/lxc/202/status/stop")
    shutdown = await post(client, "/nodes/pve1/lxc/202/status/shutdown")
    reboot = await post(client, "/nodes/pve1/lxc/202/status/reboot")

    assert start.json()["message"] == resume.json()["message"] == "CT 200 already running\n"
    assert stop.json()["message"] == shutdown.json()["message"] == "CT 202 not running\n"
    assert reboot.json()["message"] == "VM 202 not running\n"
    assert {r.status_code for r in (start, resume, stop, shutdown, reboot)} == {500}


async def test_a_container_starts_and_shuts_down_through_tasks(sim: Simulator, client: httpx2.AsyncClient) -> None:
    start = data(await post(client, "/nodes/pve1/lxc/202/status/start"))
    sim.clock.advance(2.0)
    running = sim.state.guests[202].status
    shutdown = data(await post(client, "/nodes/pve1/lxc/202/status/shutdown"))
    sim.clock.advance(2.0)

    assert start.split(":")[5] == "vzstart" and shutdown.split(":")[5] == "vzshutdown"
    assert running == "running" and sim.state.guests[202].status == "stopped"


async def test_a_container_suspends_to_a_checkpoint_and_resumes(sim: Simulator, client: httpx2.AsyncClient) -> None:
    data(await post(client, "/nodes/pve2/lxc/200/status/suspend"))
    sim.clock.advance(2.0)
    suspended = sim.state.guests[200].status
    data(await post(client, "/nodes/pve2/lxc/200/status/resume"))
    sim.clock.advance(2.0)

    assert suspended == "stopped" and sim.state.guests[200].status == "running"


async def test_a_power_action_on_a_guest_elsewhere_names_the_missing_config(client: httpx2.AsyncClient) -> None:
    response = await post(client, "/nodes/pve2/qemu/100/status/stop")

    assert response.status_code == 500
    assert response.json()["message"] == "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist\n"


async def test_root_only_options_are_refused_to_an_api_token(client: httpx2.AsyncClient) -> None:
    response = await post(client, "/nodes/pve1/qemu/100/status/stop", skiplock="1")

    assert response.status_code == 400
    assert response.json()["errors"] == {"skiplock": "Only root may use this option."}


async def test_tasks_on_one_guest_finish_one_after_another(sim: Simulator, client: httpx2.AsyncClient) -> None:
    stop = data(await post(client, "/nodes/pve1/qemu/100/status/stop"))
    start = data(await post(client, "/nodes/pve1/qemu/100/status/start"))
    sim.clock.advance(2.0)

    assert (await task_status(client, stop))["status"] == "stopped"
    assert (await task_status(client, start))["status"] == "running"
    sim.clock.advance(2.0)
    assert (await task_status(client, start))["exitstatus"] == "OK"
    assert sim.state.guests[100].status == "running"


async def test_a_write_is_recorded_exactly_once(sim: Simulator, client: httpx2.AsyncClient) -> None:
    await post(client, "/nodes/pve1/qemu/103/status/start")

    writes = [r for r in sim.requests if r.method == "POST"]
    assert [(r.path, r.params) for r in writes] == [("/nodes/pve1/qemu/103/status/start", {})]


async def test_the_same_seed_and_calls_give_the_same_upids() -> None:
    upids = []
    for _ in range(2):
        sim = Simulator(seed=7, clock=ManualClock(start=1_800_000_000.0))
        async with make_client(sim) as client:
            upids.append(data(await post(client, "/nodes/pve1/qemu/100/status/stop")))

    assert upids[0] == upids[1]
