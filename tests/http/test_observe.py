"""What an operator watches: /ready (Proxmox reachable with our token, cached) and /metrics (Prometheus)."""

from __future__ import annotations

import re
import socket
import time

import anyio
import httpx2
import pytest
from mcp import Client

from pvemcp.http.observe import Metrics, Readiness, escape_label
from pvesim import Fault, Simulator
from tests.conftest import WRONG_CANARY, client_for
from tests.helpers import pick
from tests.httpserver import http_service, spawn_http

pytestmark = pytest.mark.anyio

# One sample line of the text exposition format: name, optional labels, a number.
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]\w*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$')


def version_probes(sim: Simulator) -> int:
    return sum(1 for request in sim.requests if request.path == "/version")


def samples(page: str) -> dict[str, float]:
    """Every sample line of a metrics page, by its name and labels."""
    found: dict[str, float] = {}
    for line in page.splitlines():
        if line and not line.startswith("#"):
            assert SAMPLE.match(line), f"not a Prometheus sample line: {line!r}"
            key, value = line.rsplit(" ", 1)
            found[key] = float(value)
    return found


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- /ready


async def test_ready_names_the_proxmox_version_and_one_probe_serves_many_checks(sim: Simulator) -> None:
    with http_service({}, sim) as served:
        async with httpx2.AsyncClient(base_url=served.base) as http:
            first = await http.get("/ready")
            answers = [first]

            async def ask() -> None:
                answers.append(await http.get("/ready"))

            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(ask)
    assert all(answer.status_code == 200 for answer in answers)
    body = first.json()
    assert body["status"] == "ready" and body["proxmox_version"] == sim.state.pve_version
    assert version_probes(sim) == 1  # six checks within the cache's lifetime, one request to Proxmox


async def test_concurrent_checks_share_one_probe_and_the_answer_expires(sim: Simulator) -> None:
    sim.latency_ms = 100  # every check below arrives while the first probe is still waiting
    client = client_for(sim)
    readiness = Readiness(client, ttl=0.3)
    try:
        answers: list[tuple[bool, dict[str, object]]] = []

        async def check() -> None:
            answers.append(await readiness.check())

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(check)
        assert version_probes(sim) == 1 and len(answers) == 8 and all(ok for ok, _ in answers)
        await anyio.sleep(0.35)
        assert (await readiness.check())[0] and version_probes(sim) == 2
    finally:
        await client.aclose()


async def test_a_rejected_token_is_not_ready_with_proxmoxs_reason_and_no_secret(sim: Simulator) -> None:
    client = client_for(sim, secret=WRONG_CANARY)
    try:
        ok, detail = await Readiness(client).check()
    finally:
        await client.aclose()
    assert not ok and detail["code"] == "PROXMOX_AUTH_FAILED" and detail["message"]
    assert WRONG_CANARY not in repr(detail) and sim.token_secret not in repr(detail)


async def test_a_failing_proxmox_is_not_ready_until_the_cache_expires(sim: Simulator) -> None:
    sim.arm(Fault("status", status=500, message="pveproxy is restarting", path_prefix="/version"))
    client = client_for(sim)
    readiness = Readiness(client, ttl=0.2)
    try:
        ok, detail = await readiness.check()
        assert not ok and detail == {"code": "PROXMOX_SERVER_ERROR", "message": detail["message"]}
        assert "pveproxy is restarting" in str(detail["message"])
        assert (await readiness.check())[0] is False  # still the cached answer
        await anyio.sleep(0.25)
        assert (await readiness.check())[0] is True
    finally:
        await client.aclose()


def test_ready_is_503_with_the_reason_while_proxmox_is_down_and_health_stays_200() -> None:
    env = {
        "PROXMOX_HOST": "127.0.0.1",
        "PROXMOX_PORT": str(closed_port()),
        "PROXMOX_USER": "pvemcp",
        "PROXMOX_REALM": "pve",
        "PROXMOX_TOKEN_NAME": "ci",
        "PROXMOX_TOKEN_SECRET": WRONG_CANARY,
        "PROXMOX_TIMEOUT": "2",
    }
    with spawn_http(env, sandbox=False) as served:
        ready = httpx2.get(f"{served.base}/ready", timeout=20)
        health = httpx2.get(f"{served.base}/health", timeout=10)
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready" and body["code"] == "CONNECTION_REFUSED" and body["message"]
    assert WRONG_CANARY not in ready.text
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert any("not ready: CONNECTION_REFUSED" in line for line in served.log)


# ---------------------------------------------------------------- /metrics


async def test_metrics_count_calls_by_outcome_upstream_errors_and_latency(sim: Simulator) -> None:
    missing = max(sim.state.guests) + 1
    with http_service({}, sim) as served:
        async with Client(served.url, mode="2026-07-28") as client:
            for _ in range(2):
                assert not (await client.call_tool("pve_list_nodes", {})).is_error
            assert (await client.call_tool("pve_get_qemu_status", {"vmid": missing})).is_error  # a refusal
            sim.arm(Fault("status", status=500, message="boom", path_prefix="/nodes", count=0))
            assert (await client.call_tool("pve_list_nodes", {})).is_error  # Proxmox failed
            sim.reset_faults()
        async with httpx2.AsyncClient(base_url=served.base) as http:
            page = await http.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(page.text)
    assert found['pvemcp_tool_calls_total{tool="pve_list_nodes",outcome="ok"}'] == 2
    assert found['pvemcp_tool_calls_total{tool="pve_list_nodes",outcome="failed"}'] == 1
    assert found['pvemcp_tool_calls_total{tool="pve_get_qemu_status",outcome="refused"}'] == 1
    assert found['pvemcp_upstream_errors_total{code="PROXMOX_SERVER_ERROR"}'] == 1
    assert not any(key.startswith("pvemcp_upstream_errors_total") and "GUEST_NOT_FOUND" in key for key in found)
    assert found['pvemcp_tool_call_duration_seconds_count{tool="pve_list_nodes"}'] == 3
    assert found['pvemcp_tool_call_duration_seconds_bucket{tool="pve_list_nodes",le="+Inf"}'] == 3
    assert found['pvemcp_tool_call_duration_seconds_sum{tool="pve_list_nodes"}'] > 0
    assert found["pvemcp_rate_limited_total"] == 0
    assert any(key.startswith("pvemcp_build_info{version=") for key in found)
    assert found["process_start_time_seconds"] > 1.6e9
    for family, kind in (
        ("pvemcp_tool_calls_total", "counter"),
        ("pvemcp_tool_call_duration_seconds", "histogram"),
        ("pvemcp_upstream_errors_total", "counter"),
        ("pvemcp_rate_limited_total", "counter"),
        ("pvemcp_build_info", "gauge"),
    ):
        assert f"# TYPE {family} {kind}\n" in page.text and f"# HELP {family} " in page.text


async def test_counters_move_from_one_scrape_to_the_next(sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    with http_service({}, sim) as served, httpx2.Client(base_url=served.base) as http:
        before = samples(http.get("/metrics").text)
        async with Client(served.url, mode="legacy") as client:
            await client.call_tool("pve_get_qemu_status", {"vmid": guest.vmid})
        after = samples(http.get("/metrics").text)
    key = 'pvemcp_tool_calls_total{tool="pve_get_qemu_status",outcome="ok"}'
    assert before.get(key, 0) == 0 and after[key] == 1


def test_histogram_buckets_are_cumulative_and_labels_escaped() -> None:
    metrics = Metrics()
    for seconds in (0.001, 0.02, 0.02, 3.0, 100.0):
        metrics.observe_call('odd"tool\\name\n', "ok", None, seconds)
    metrics.observe_call("pve_list_nodes", "failed", "CONNECTION_REFUSED", 0.5)
    metrics.observe_call("pve_stop_qemu_vm", "refused", "CONFIRMATION_REQUIRED", 0.001)
    metrics.rate_limited()
    found = samples(metrics.render())
    label = escape_label('odd"tool\\name\n')
    assert label == 'odd\\"tool\\\\name\\n'
    buckets = [
        (key, value)
        for key, value in found.items()
        if key.startswith(f'pvemcp_tool_call_duration_seconds_bucket{{tool="{label}"')
    ]
    counts = [value for _, value in buckets]
    assert counts == sorted(counts) and counts[0] == 1 and counts[-1] == 5  # 100 s lands only in +Inf
    assert found[f'pvemcp_tool_call_duration_seconds_bucket{{tool="{label}",le="0.025"}}'] == 3
    assert found[f'pvemcp_tool_call_duration_seconds_bucket{{tool="{label}",le="60"}}'] == 4
    assert found['pvemcp_upstream_errors_total{code="CONNECTION_REFUSED"}'] == 1
    assert not any("CONFIRMATION_REQUIRED" in key for key in found)
    assert found["pvemcp_rate_limited_total"] == 1


def test_rate_limit_rejections_show_on_the_metrics_page(sim: Simulator) -> None:
    env = {"MCP_RATE_LIMIT_MAX": "3", "MCP_RATE_LIMIT_WINDOW_MS": "1000"}
    with http_service(env, sim) as served, httpx2.Client(base_url=served.base) as http:
        statuses = [http.get("/ready").status_code for _ in range(5)]
        time.sleep(1.1)  # a new window, so the scrape itself is admitted
        page = http.get("/metrics")
    assert statuses == [200, 200, 200, 429, 429]
    assert page.status_code == 200 and samples(page.text)["pvemcp_rate_limited_total"] == 2
