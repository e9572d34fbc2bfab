"""Monitoring tools through the SDK client: RRD series, cluster summary, node facts, journal, guest agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, ProxmoxApiError
from pvesim import Simulator
from pvesim.state import Guest, Node
from tests.conftest import McpFactory
from tests.helpers import call, failed, pick

pytestmark = pytest.mark.anyio

METRICS = [
    ("pve_get_node_metrics_hour", "node", "hour", 3600),
    ("pve_get_qemu_metrics_hour", "qemu", "hour", 3600),
    ("pve_get_lxc_metrics_hour", "lxc", "hour", 3600),
    ("pve_get_node_metrics_day", "node", "day", 86_400),
    ("pve_get_qemu_metrics_day", "qemu", "day", 86_400),
    ("pve_get_lxc_metrics_day", "lxc", "day", 86_400),
    ("pve_get_node_metrics_week", "node", "week", 7 * 86_400),
    ("pve_get_qemu_metrics_week", "qemu", "week", 7 * 86_400),
    ("pve_get_lxc_metrics_week", "lxc", "week", 7 * 86_400),
    ("pve_get_node_metrics_month", "node", "month", 30 * 86_400),
    ("pve_get_qemu_metrics_month", "qemu", "month", 30 * 86_400),
    ("pve_get_lxc_metrics_month", "lxc", "month", 30 * 86_400),
    ("pve_get_node_metrics_year", "node", "year", 360 * 86_400),
    ("pve_get_qemu_metrics_year", "qemu", "year", 360 * 86_400),
    ("pve_get_lxc_metrics_year", "lxc", "year", 360 * 86_400),
]
NODE_METRICS = {"cpu", "iowait", "loadavg", "memused", "swapused", "rootused", "netin", "netout", "memavailable"}
GUEST_METRICS = {"cpu", "mem", "netin", "netout", "diskread", "diskwrite"}


def target(sim: Simulator, subject: str) -> tuple[dict[str, Any], Guest | None]:
    if subject == "node":
        return {"node": "pve2"}, None
    guest = pick(sim, subject, "running")
    return {"vmid": guest.vmid}, guest


def latest(body: dict[str, Any], metric: str) -> Any:
    """A metric's newest value, whether it varied (series) or not (constant)."""
    if metric in body.get("constant", {}):
        return body["constant"][metric]
    return body["series"][metric][-1]


@pytest.mark.parametrize(("tool", "subject", "timeframe", "span"), METRICS, ids=[m[0] for m in METRICS])
async def test_metrics_come_as_compact_series_over_the_tools_timeframe(
    connect: McpFactory, sim: Simulator, tool: str, subject: str, timeframe: str, span: int
) -> None:
    args, guest = target(sim, subject)
    body = await call(connect, tool, args)
    assert body["timeframe"] == timeframe and body["cf"] == "AVERAGE"
    assert 2 <= body["count"] <= 70
    assert abs(body["step"] * body["count"] - span) <= span * 0.05
    assert body["start"] + body["step"] * (body["count"] - 1) <= sim.clock.now()
    series = body["series"]
    assert set(series) | set(body.get("constant", {})) >= (NODE_METRICS if subject == "node" else GUEST_METRICS)
    assert all(len(values) == body["count"] for values in series.values())
    assert all(v is None or round(v, 3) == v for v in series["cpu"])
    assert all(v is None or isinstance(v, int) for v in series["netin"])
    if guest is not None:
        assert latest(body, "maxmem") == int(guest.config["memory"]) * 1024**2
    rrd = [r for r in sim.requests if r.path.endswith("/rrddata")]
    assert len(rrd) == 1 and rrd[0].params["timeframe"] == timeframe


async def test_max_consolidation_is_never_below_the_average(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    average = await call(connect, "pve_get_qemu_metrics_week", {"vmid": guest.vmid})
    peak = await call(connect, "pve_get_qemu_metrics_week", {"vmid": guest.vmid, "cf": "MAX"})
    assert peak["cf"] == "MAX" and peak["start"] == average["start"]
    pairs = zip(peak["series"]["cpu"], average["series"]["cpu"], strict=True)
    assert all(high >= low for high, low in pairs if high is not None and low is not None)
    assert peak["series"]["cpu"] != average["series"]["cpu"]


async def test_the_same_cluster_and_clock_give_the_same_history(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "lxc", "running")
    first = await call(connect, "pve_get_lxc_metrics_month", {"vmid": guest.vmid})
    again = await call(connect, "pve_get_lxc_metrics_month", {"vmid": guest.vmid})
    assert first == again


async def test_a_stopped_guest_records_only_its_sizes(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "stopped")
    body = await call(connect, "pve_get_qemu_metrics_hour", {"vmid": guest.vmid})
    assert "cpu" not in body["series"] and "mem" not in body["series"]
    assert body["constant"]["maxcpu"] == int(guest.config["cores"])


async def test_hours_before_a_guest_existed_are_gaps(connect: McpFactory, sim: Simulator) -> None:
    guest = pick(sim, "qemu", "running")
    guest.config["meta"] = f"creation-qemu=10.1.2,ctime={int(sim.clock.now()) - 1800}"
    guest.started_at = sim.clock.now() - 1700
    series = (await call(connect, "pve_get_qemu_metrics_hour", {"vmid": guest.vmid}))["series"]
    assert series["cpu"][0] is None and series["maxmem"][0] is None
    assert series["cpu"][-1] is not None and series["maxmem"][-1] == int(guest.config["memory"]) * 1024**2


async def test_the_cluster_overview_summarises_nodes_and_guests_in_one_call(
    connect: McpFactory, sim: Simulator
) -> None:
    body = await call(connect, "pve_get_cluster_metrics_overview")
    guests = [g for g in sim.state.guests.values() if not g.template]
    cluster = body["cluster"]
    assert cluster["nodes"] == cluster["online"] == len(sim.state.nodes)
    assert cluster["guests"] == len(guests) and cluster["running"] == sum(g.running for g in guests)
    assert cluster["templates"] == sum(g.template for g in sim.state.guests.values())
    assert cluster["maxcpu"] == sum(n.cpus for n in sim.state.nodes.values())
    assert 0 < cluster["storage"]["used"] < cluster["storage"]["total"]
    by_node = {n["node"]: n for n in body["nodes"]}
    assert by_node["pve1"]["guests"] == sum(1 for g in guests if g.node == "pve1")
    assert by_node["pve1"]["running"] == sum(1 for g in guests if g.node == "pve1" and g.running)
    assert 0 < by_node["pve1"]["mem_used"] < 1
    assert [(r.method, r.path) for r in sim.requests] == [("GET", "/cluster/resources")]


NODE_FACTS: dict[str, Callable[[Simulator, Node], dict[str, Any]]] = {
    "pve_get_node_version": lambda s, n: {"version": s.state.pve_version, "release": s.state.release},
    "pve_get_node_dns": lambda s, n: {"search": "sim.internal", "dns1": n.ip.rsplit(".", 1)[0] + ".1"},
    "pve_get_node_time": lambda s, n: {"timezone": "UTC", "time": int(s.clock.now()), "localtime": int(s.clock.now())},
}


@pytest.mark.parametrize("tool", NODE_FACTS)
async def test_node_facts_match_the_node(connect: McpFactory, sim: Simulator, tool: str) -> None:
    body = await call(connect, tool, {"node": "pve2"})
    assert body.items() >= NODE_FACTS[tool](sim, sim.state.nodes["pve2"]).items()


async def test_syslog_pages_oldest_first_and_filters(connect: McpFactory, sim: Simulator) -> None:
    first = (await call(connect, "pve_get_node_syslog", {"node": "pve1"}))["items"]
    assert [line["n"] for line in first] == list(range(1, 51))
    assert "kernel: Linux version" in first[0]["t"]
    page = (await call(connect, "pve_get_node_syslog", {"node": "pve1", "start": 10, "limit": 5}))["items"]
    assert [line["n"] for line in page] == [11, 12, 13, 14, 15] and page[0]["t"] == first[10]["t"]
    guest = pick(sim, "qemu", "stopped")
    upid = (await call(connect, "pve_start_qemu_vm", {"vmid": guest.vmid}))["task"]["upid"]
    since = {"node": guest.node, "since": "2025-11-24 16:00", "service": "pvedaemon", "limit": 500}
    lines = [line["t"] for line in (await call(connect, "pve_get_node_syslog", since))["items"]]
    assert lines and all(" pvedaemon[" in t and t.startswith("Nov 24 ") for t in lines)
    assert any(f"starting task {upid}" in t for t in lines)


async def test_node_services_report_proxmox_daemons(connect: McpFactory) -> None:
    items = (await call(connect, "pve_list_node_services", {"node": "pve3"}))["items"]
    state = {i["service"]: (i["state"], i["active-state"], i["unit-state"]) for i in items}
    assert state["pveproxy"] == ("running", "active", "enabled")
    assert state["corosync"][1] == "active" and state["proxmox-firewall"][2] == "disabled"
    assert len(items) == 23


AGENT = [
    ("pve_get_qemu_agent_info", "supported_commands"),
    ("pve_get_qemu_agent_network", None),
    ("pve_get_qemu_agent_osinfo", "pretty-name"),
    ("pve_get_qemu_agent_fsinfo", None),
]


@pytest.mark.parametrize(("tool", "key"), AGENT, ids=[a[0] for a in AGENT])
async def test_the_guest_agent_answers_for_a_running_vm(
    connect: McpFactory, sim: Simulator, tool: str, key: str | None
) -> None:
    guest = pick(sim, "qemu", "running")
    result = (await call(connect, tool, {"vmid": guest.vmid}))["result"]
    if key is not None:
        assert key in result
    elif tool.endswith("network"):
        mac = str(guest.config["net0"]).split(",")[0].split("=")[1].lower()
        assert mac in {i["hardware-address"] for i in result}
    else:
        assert result[0]["mountpoint"] == "/" and 0 < result[0]["used-bytes"] < result[0]["total-bytes"]


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ("no agent", "QEMU_GUEST_AGENT_UNAVAILABLE", "No QEMU guest agent configured"),
        ("agent off", "QEMU_GUEST_AGENT_UNAVAILABLE", "QEMU guest agent is not running"),
        ("paused", "QEMU_GUEST_AGENT_UNAVAILABLE", "QEMU guest agent is not running"),
        ("just started", "QEMU_GUEST_AGENT_UNAVAILABLE", "QEMU guest agent is not running"),
        ("stopped", "QEMU_GUEST_AGENT_UNAVAILABLE", "is not running"),
    ],
)
async def test_the_guest_agent_refuses_in_proxmox_words(
    connect: McpFactory, sim: Simulator, change: str, code: str, words: str
) -> None:
    guest = pick(sim, "qemu", "stopped" if change == "stopped" else "running")
    if change == "no agent":
        del guest.config["agent"]
    elif change == "agent off":
        guest.config["agent"] = "0"
    elif change == "paused":
        guest.paused = True
    elif change == "just started":
        guest.started_at = sim.clock.now() - 5
    body = await failed(connect, "pve_get_qemu_agent_osinfo", {"vmid": guest.vmid})
    assert body["code"] == code and words in body["message"]
    if code == "QEMU_GUEST_AGENT_UNAVAILABLE":
        assert "qemu-guest-agent" in body["hint"]


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("No QEMU guest agent configured", ErrorCode.QEMU_GUEST_AGENT_UNAVAILABLE),
        ("QEMU guest agent is not running", ErrorCode.QEMU_GUEST_AGENT_UNAVAILABLE),
        ("missing cloudinit methods for format 'nocloud'", ErrorCode.CLOUDINIT_UNAVAILABLE),
        ("VM 100 is not running", ErrorCode.PROXMOX_SERVER_ERROR),
    ],
)
def test_agent_and_cloud_init_failures_are_classified_from_proxmox_wording(message: str, code: ErrorCode) -> None:
    with pytest.raises(ProxmoxApiError) as caught:
        wire.unwrap(500, message, "application/json", b'{"data":null}')
    assert caught.value.code is code and caught.value.message == message and caught.value.hint
    with pytest.raises(ProxmoxApiError) as on_agent:  # a stopped VM on an agent endpoint: no agent to ask
        wire.unwrap(500, message, "application/json", b'{"data":null}', "/nodes/pve1/qemu/100/agent/get-osinfo")
    assert on_agent.value.code in (code, ErrorCode.QEMU_GUEST_AGENT_UNAVAILABLE)
    if "is not running" in message:
        assert on_agent.value.code is ErrorCode.QEMU_GUEST_AGENT_UNAVAILABLE
