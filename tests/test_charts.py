"""Metrics charts: `chart: true` adds a PNG of the series beside the unchanged JSON, on both surfaces."""

from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import replace
from typing import Any

import pytest
from mcp_types import CallToolResult
from PIL import Image

from pvemcp.catalog import BY_NAME
from pvemcp.catalog.monitoring import SUBJECTS, TIMEFRAMES
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server import charts
from pvesim import Simulator
from tests.conftest import FULL, McpFactory, mcp_client, payload

pytestmark = pytest.mark.anyio
CONSOLIDATED = replace(FULL, mode="consolidated")
MAX_PNG = 60_000
METRIC_TOOLS = [f"pve_get_{subject}_metrics_{timeframe}" for timeframe in TIMEFRAMES for subject in SUBJECTS]
SUBJECT_ARGS: dict[str, dict[str, Any]] = {"node": {"node": "pve1"}, "qemu": {"vmid": 101}, "lxc": {"vmid": 200}}


def subject_args(tool: str) -> dict[str, Any]:
    return dict(SUBJECT_ARGS[tool.split("_")[2]])


def png_of(result: CallToolResult) -> bytes:
    """The one image of a result, as bytes; fails unless it is a PNG image block after the JSON text."""
    assert not result.is_error, result.content
    images = [block for block in result.content if block.type == "image"]
    assert len(images) == 1, [block.type for block in result.content]
    assert images[0].mime_type == "image/png"
    assert result.content[0].type == "text"
    return base64.b64decode(images[0].data)


def check_png(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (charts.WIDTH, charts.HEIGHT) == (800, 560)
    assert len(data) <= MAX_PNG
    assert "Software" not in image.info and "Creation Time" not in image.info  # nothing that changes between runs


async def test_a_chart_comes_beside_the_compact_series(connect: McpFactory) -> None:
    async with connect() as mcp:
        result = await mcp.call_tool("pve_get_qemu_metrics_day", {"vmid": 101, "chart": True})
    check_png(png_of(result))
    body = payload(result)
    assert json.loads(result.content[0].text) == body  # type: ignore[union-attr]
    assert body["timeframe"] == "day" and body["count"] > 0
    assert {"cpu", "mem", "netin", "netout", "diskread", "diskwrite"} <= set(body["series"])
    assert charts.NOTE not in body


@pytest.mark.parametrize("tool", METRIC_TOOLS)
async def test_every_subject_and_timeframe_draws(pve: ProxmoxClient, sim: Simulator, tool: str) -> None:
    async with mcp_client(pve, sim) as mcp:
        result = await mcp.call_tool(tool, {**subject_args(tool), "chart": True})
    check_png(png_of(result))
    assert payload(result)["timeframe"] == tool.rsplit("_", 1)[1]


async def test_no_chart_unless_asked(connect: McpFactory) -> None:
    async with connect() as mcp:
        for args in ({"vmid": 101}, {"vmid": 101, "chart": False}):
            result = await mcp.call_tool("pve_get_qemu_metrics_hour", args)
            assert [block.type for block in result.content] == ["text"]
            assert charts.NOTE not in payload(result)


async def test_the_consolidated_surface_draws_too(pve: ProxmoxClient, sim: Simulator, era: str) -> None:
    async with mcp_client(pve, sim, era, CONSOLIDATED) as mcp:
        guest = await mcp.call_tool("pve_guest", {"action": "metrics", "vmid": 101, "timeframe": "day", "chart": True})
        node = await mcp.call_tool("pve_node", {"action": "metrics", "node": "pve1", "chart": True})
    check_png(png_of(guest))
    check_png(png_of(node))
    assert "cpu_percent" in payload(guest)["series"]  # the concise answer, its picture kept
    assert payload(node)["timeframe"] == "hour"


async def test_the_consolidated_tools_offer_chart_for_metrics(pve: ProxmoxClient, sim: Simulator) -> None:
    async with mcp_client(pve, sim, policy=CONSOLIDATED) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    for front in ("pve_guest", "pve_node"):
        signature = next(part for part in (tools[front].description or "").split("; ") if "metrics(" in part)
        assert "chart" in signature, signature
    for name in METRIC_TOOLS:
        chart = BY_NAME[name].input_schema()["properties"]["chart"]
        assert chart["type"] == "boolean" and BY_NAME[name].picture == "rrd_chart"


async def test_the_same_data_gives_the_same_bytes_and_new_data_new_ones(pve: ProxmoxClient, sim: Simulator) -> None:
    args = {"vmid": 101, "chart": True}
    async with mcp_client(pve, sim) as mcp:
        first = png_of(await mcp.call_tool("pve_get_qemu_metrics_day", args))
        again = png_of(await mcp.call_tool("pve_get_qemu_metrics_day", args))
        sim.clock.advance(3 * 3600)  # three more hours of history
        later = png_of(await mcp.call_tool("pve_get_qemu_metrics_day", args))
        sim.state.guests[101].started_at = sim.clock.now() - 2 * 3600  # restarted: the steps before are gaps
        restarted = png_of(await mcp.call_tool("pve_get_qemu_metrics_day", args))
    assert first == again
    assert len({first, later, restarted}) == 3


async def test_an_empty_history_gives_a_note_and_no_image(connect: McpFactory, sim: Simulator) -> None:
    guest = sim.state.guests[101]
    guest.config["meta"] = f"creation-qemu=10.1.2,ctime={int(sim.clock.now())}"  # created just now
    async with connect() as mcp:
        result = await mcp.call_tool("pve_get_qemu_metrics_hour", {"vmid": 101, "chart": True})
        stopped = await mcp.call_tool("pve_get_lxc_metrics_hour", {"vmid": 202, "chart": True})  # sizes only
    for answer in (result, stopped):
        assert not answer.is_error
        assert [block.type for block in answer.content] == ["text"]
        assert payload(answer)[charts.NOTE] == "No chart: no data in this timeframe."


def test_a_result_without_rows_is_blank() -> None:
    with pytest.raises(charts.NothingToDrawError):
        charts.rrd_chart(
            {"timeframe": "day", "cf": "AVERAGE", "count": 0, "series": {}}, charts.Subject("node", "pve1")
        )


async def test_a_failed_drawing_is_a_note_and_a_log_line_not_a_failed_call(
    pve: ProxmoxClient, sim: Simulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(result: Any, subject: charts.Subject) -> bytes:
        raise RuntimeError("the renderer broke")

    monkeypatch.setitem(charts.PICTURES, "rrd_chart", broken)
    with caplog.at_level(logging.ERROR, logger="pvemcp.charts"):
        async with mcp_client(pve, sim) as mcp:
            result = await mcp.call_tool("pve_get_node_metrics_hour", {"node": "pve1", "chart": True})
    assert not result.is_error
    assert [block.type for block in result.content] == ["text"]
    assert "drawing it failed" in payload(result)[charts.NOTE]
    assert "the renderer broke" in caplog.text


def test_titles_name_the_subject() -> None:
    assert charts.Subject("qemu", "pve2", 101, "web-02").title("day") == "VM 101 (web-02) on pve2 — last day"
    assert charts.Subject("lxc", "pve2", 200, "ct-dns").title("week") == "Container 200 (ct-dns) on pve2 — last week"
    assert charts.Subject("node", "pve1").title("hour") == "Node pve1 — last hour"
