"""Three replicas behind real nginx, with Redis as their shared state (tests/team/harness.py, deploy/nginx/).

What a team relies on, shown on real processes: a confirmation begun on one replica finishes on another and
acts once, even when its approval is replayed to a third; a 2025-11-25 session stays on the replica that holds
it; the rate limit counts across replicas as one; and when a replica dies under load, 2026-07-28 calls go on
on the others as soon as nginx has marked it down, its 2025-11-25 sessions are told to start again, and every
call that was acknowledged is in an audit chain that still verifies.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext

from tests.conftest import BIN, payload, sim_served
from tests.team.harness import Team, missing, team

REASON = missing()
pytestmark = [pytest.mark.anyio, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
YES = types.ElicitResult(action="accept", content={"approve": True})
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    with sim_served() as env:
        yield env


async def nobody(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
    raise AssertionError("the input request is answered by the test itself")


async def agrees(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
    return YES


async def running_vms(client: Client) -> list[int]:
    rows = payload(await client.call_tool("pve_list_cluster_resources", {"type": "vm"}))["items"]
    return [r["vmid"] for r in rows if r["type"] == "qemu" and r["status"] == "running" and not r["template"]]


def entries(team: Team, tool: str, vmid: int) -> list[tuple[str, dict[str, Any]]]:
    """Each replica's audit entries for one tool on one guest, with the replica's name."""
    return [
        (name, entry)
        for name, audit in team.audits().items()
        for entry in audit
        if entry["tool"] == tool and entry["arguments"].get("vmid") == vmid
    ]


def verify_chain(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "audit", "verify", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


async def test_a_confirmation_finishes_on_another_replica_and_its_replay_on_a_third_is_refused(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    with team(tmp_path, cluster) as t:
        async with Client(t.url, mode=MODERN, elicitation_callback=nobody) as client:
            vmid = (await running_vms(client))[0]
            asked = await client.session.call_tool("pve_stop_qemu_vm", {"vmid": vmid}, allow_input_required=True)
            assert isinstance(asked, types.InputRequiredResult)
            answer: dict[str, types.ElicitResult] = {"confirm": YES}
            state = asked.request_state
            done = await client.session.call_tool(
                "pve_stop_qemu_vm", {"vmid": vmid}, input_responses=dict(answer), request_state=state
            )
            assert isinstance(done, types.CallToolResult) and not done.is_error, done
            for _ in range(3):  # round-robin: the replays reach the other replicas too
                replayed = await client.session.call_tool(
                    "pve_stop_qemu_vm", {"vmid": vmid}, input_responses=dict(answer), request_state=state
                )
                assert isinstance(replayed, types.CallToolResult) and replayed.is_error
                assert payload(replayed)["code"] == "APPROVAL_ALREADY_USED"
            status = payload(await client.call_tool("pve_get_qemu_status", {"vmid": vmid}))["status"]
        assert status == "stopped"
        rounds = entries(t, "pve_stop_qemu_vm", vmid)
        by_outcome: dict[str, list[str]] = {}
        for name, entry in rounds:
            by_outcome.setdefault(entry["outcome"], []).append(name)
            assert entry.get("code") in (None, "APPROVAL_ALREADY_USED"), entry
        assert sorted(by_outcome) == ["asked", "ok", "refused"] and len(by_outcome["ok"]) == 1, by_outcome
        [approved_on] = by_outcome["ok"]
        assert by_outcome["asked"] != [approved_on], "the round finished on another replica than it began"
        assert set(by_outcome["refused"]) - {approved_on}, "a replay reached another replica, and was refused"


async def test_a_legacy_session_stays_on_its_replica_through_an_elicitation(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    with team(tmp_path, cluster) as t:
        async with Client(t.url, mode="legacy", elicitation_callback=agrees) as client:
            vmid = (await running_vms(client))[-1]
            done = await client.call_tool("pve_shutdown_qemu_vm", {"vmid": vmid})
            assert not done.is_error, done.structured_content
        routed = t.routed()
        opened = next(r["opened"] for r in routed if r["opened"])
        home = opened.split(".", 1)[0]
        assert t.replica_at(next(r["upstream"] for r in routed if r["opened"])) == home
        on_session = [r for r in routed if r["session"] == opened]
        assert len(on_session) >= 3  # initialized, tools/list, the call and the person's answer
        assert {t.replica_at(r["upstream"]) for r in on_session} == {home}
        [(name, entry)] = [(n, e) for n, e in entries(t, "pve_shutdown_qemu_vm", vmid)]
        assert (name, entry["outcome"], entry["approval"]) == (home, "ok", "human")


async def test_the_rate_limit_counts_across_replicas_as_one(cluster: dict[str, str], tmp_path: Path) -> None:
    limit = 12
    extra = {"MCP_RATE_LIMIT_MAX": str(limit), "MCP_RATE_LIMIT_WINDOW_MS": "600000"}
    with team(tmp_path, cluster, extra=extra) as t:
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}}
        async with httpx2.AsyncClient(timeout=10) as http:
            statuses = [
                (await http.post(t.url, json=body, headers={**ACCEPT, "MCP-Protocol-Version": MODERN})).status_code
                for _ in range(2 * limit)
            ]
        served = [r for r in t.routed() if r["uri"] == "/mcp"]
    assert statuses.count(429) == limit, statuses
    assert all(status != 429 for status in statuses[:limit]), statuses
    assert {t.replica_at(r["upstream"]) for r in served} == set(t.replicas), "every replica took a share"


async def legacy_session(url: str) -> str:
    """Open a 2025-11-25 session by hand; its ID names the replica that holds it."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    async with httpx2.AsyncClient(timeout=10) as http:
        opened = await http.post(url, json=body, headers=ACCEPT)
        session = opened.headers["mcp-session-id"]
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        headers = {**ACCEPT, "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        assert (await http.post(url, json=note, headers=headers)).status_code == 202
    return session


async def test_a_replica_killed_under_load(cluster: dict[str, str], tmp_path: Path) -> None:
    """2026-07-28 calls go on once nginx marks the dead replica down; its sessions must start again; every
    acknowledged call is in an audit chain, and every chain verifies."""
    with team(tmp_path, cluster, extra={"MCP_RATE_LIMIT_MAX": "1000000"}) as t:
        sessions = [await legacy_session(t.url) for _ in range(3)]
        on_victim = next(s for s in sessions if s.startswith("r2."))
        calls: list[tuple[float, float, bool]] = []
        killed_at = 0.0

        async def worker(until: float) -> None:
            async with Client(t.url, mode=MODERN, elicitation_callback=nobody) as client:
                while time.monotonic() < until:
                    began = time.monotonic()
                    try:
                        result = await client.call_tool("pve_inventory", {"action": "cluster_status"})
                        ok = not result.is_error
                    except Exception:
                        ok = False
                    calls.append((began, time.monotonic(), ok))

        async def killer() -> None:
            nonlocal killed_at
            await anyio.sleep(1.5)
            killed_at = time.monotonic()
            t.kill("r2")

        async with anyio.create_task_group() as group:
            until = time.monotonic() + 5
            for _ in range(4):
                group.start_soon(worker, until)
            group.start_soon(killer)

        failed = [c for c in calls if not c[2]]
        marked_down = min((end for _, end, ok in failed), default=killed_at)
        after = [c for c in calls if c[0] > marked_down]
        assert [c for c in after if not c[2]] == [], "a call failed after nginx had marked the replica down"
        assert len(after) >= 20 and len(failed) <= 4, (len(after), len(failed))
        acknowledged = sum(1 for c in calls if c[2])
        audited = sum(1 for audit in t.audits().values() for e in audit if e["tool"] == "pve_get_cluster_status")
        assert audited >= acknowledged, (audited, acknowledged)
        for name in t.replicas:
            checked = verify_chain(tmp_path / f"{name}-audit.jsonl")
            assert checked.returncode == 0, (name, checked.stdout, checked.stderr)

        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        headers = {**ACCEPT, "Mcp-Session-Id": on_victim, "MCP-Protocol-Version": LEGACY}
        async with httpx2.AsyncClient(timeout=10) as http:
            lost = await http.post(t.url, json=ping, headers=headers)
        assert lost.status_code == 404
        assert "send initialize again" in lost.json()["error"]["message"]
