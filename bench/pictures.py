"""Pictures: what a metrics chart costs in bytes, milliseconds and memory, and the cluster app's page size.

Each metrics operation is answered once by the real server on the simulator; its compact series is then drawn
in this process (warm: matplotlib imported, font cache built) at the default size, several times. The first
chart in a fresh process pays for importing numpy, Pillow and matplotlib and for loading matplotlib's font
list, which it builds and writes to its cache directory on the first run on a machine (a cold cache): both are
measured in a fresh interpreter and as `pvemcp run --sandbox` answers its first `chart: true` call, with the
font cache as it is and with an empty one (MPLCONFIGDIR pointing to a new directory).
"""

from __future__ import annotations

import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from bench.common import QUIET_ENV, ROOT, Headline, Report, Table, child_pid, inprocess_client, mib, venv_script
from bench.memory import status
from pvemcp.catalog.monitoring import SUBJECTS, TIMEFRAMES
from pvemcp.server import charts
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvesim import Simulator

RENDERS = 5
AIM_BYTES = 60_000
SUBJECT_ARGS: dict[str, dict[str, Any]] = {"node": {"node": "pve1"}, "qemu": {"vmid": 101}, "lxc": {"vmid": 200}}
APP_PAGE = ROOT / "src" / "pvemcp" / "server" / "app_ui" / "cluster.html"
IMPORTS = (
    "import time; t = time.perf_counter(); import numpy, PIL.Image; from matplotlib.figure import Figure;"
    " from matplotlib.backends.backend_agg import FigureCanvasAgg; print(time.perf_counter() - t)"
)
SERVER_TIMEOUT = 120.0


async def series() -> dict[tuple[str, str], tuple[dict[str, Any], charts.Subject]]:
    """Every metrics operation's answer on the default simulated cluster, with the subject its chart names."""
    sim = Simulator()
    client = inprocess_client(sim)
    server = build_server(Runtime(client, Inventory(Policy()), clock=sim.wait_clock()))
    answers: dict[tuple[str, str], tuple[dict[str, Any], charts.Subject]] = {}
    async with Client(server, mode="2026-07-28") as mcp:
        for timeframe in TIMEFRAMES:
            for subject in SUBJECTS:
                args = SUBJECT_ARGS[subject]
                result = await mcp.call_tool(f"pve_get_{subject}_metrics_{timeframe}", args)
                guest = sim.state.guests.get(int(args.get("vmid", 0)))
                node = guest.node if guest is not None else str(args["node"])
                who = charts.Subject(subject, node, args.get("vmid"), guest.name if guest is not None else "")
                answers[subject, timeframe] = (dict(result.structured_content or {}), who)
    await client.aclose()
    return answers


def per_chart(report: Report) -> None:
    answers = anyio.run(series)
    table = Table(
        f"One chart per subject and timeframe ({charts.WIDTH}×{charts.HEIGHT} px, this process, warm)",
        ["subject", "timeframe", "points", "PNG bytes", "render ms (median)", "render ms (max)"],
        notes=[
            f"render: the compact series to PNG bytes (draw, quantise to {charts.COLOURS} colours, encode),"
            f" {RENDERS} times each after one warm-up.",
            "node: pve1; qemu: VM 101 (web-02); lxc: container 200 (ct-dns), as in the simulator.",
        ],
    )
    charts.rrd_chart(*answers["node", "hour"])  # imports and the font cache, outside the timings
    sizes: list[int] = []
    medians: list[float] = []
    for (subject, timeframe), (answer, who) in answers.items():
        samples = []
        for _ in range(RENDERS):
            started = time.perf_counter()
            png = charts.rrd_chart(answer, who)
            samples.append(time.perf_counter() - started)
        sizes.append(len(png))
        medians.append(statistics.median(samples))
        table.rows.append(
            [
                subject,
                timeframe,
                str(answer.get("count", 0)),
                f"{len(png):,}",
                f"{statistics.median(samples) * 1000:.0f}",
                f"{max(samples) * 1000:.0f}",
            ]
        )
    report.tables.append(table)
    report.headlines.append(
        Headline("largest chart PNG", f"{max(sizes):,} B", f"≤ {AIM_BYTES:,} B", max(sizes) <= AIM_BYTES)
    )
    report.headlines.append(Headline("chart render, median of all", f"{statistics.median(medians) * 1000:.0f} ms"))


@contextmanager
def font_cache(cold: bool) -> Iterator[dict[str, str]]:
    """The environment for a child: matplotlib's own cache (warm), or a new empty directory (cold)."""
    if not cold:
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="pvemcp-bench-mpl-") as empty:
        yield {"MPLCONFIGDIR": empty}


def import_seconds(cold: bool) -> float:
    with font_cache(cold) as extra:
        out = subprocess.run(
            [sys.executable, "-c", IMPORTS],
            env={**os.environ, **extra},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    return float(out.stdout.strip().splitlines()[-1])


async def first_chart(extra: dict[str, str]) -> dict[str, float]:
    """`pvemcp run --sandbox`: a metrics call without a chart, the first with one, the next; times and peak RSS."""
    env = {**QUIET_ENV, "PVE_TOOL_MODE": "catalog", **extra}
    params = StdioServerParameters(command=venv_script("pvemcp"), args=["run", "--sandbox"], env=env, cwd=ROOT)
    args = {"node": "pve1"}
    out: dict[str, float] = {}
    with anyio.fail_after(SERVER_TIMEOUT):
        async with Client(params, mode="legacy", cache=None) as mcp:
            pid = child_pid("run", "--sandbox")
            for _ in range(3):
                started = time.perf_counter()
                await mcp.call_tool("pve_get_node_metrics_day", args)
                out["plain"] = time.perf_counter() - started
            out["peak before"] = status(pid)["VmHWM"]
            for label in ("first", "next"):
                started = time.perf_counter()
                result = await mcp.call_tool("pve_get_node_metrics_day", {**args, "chart": True})
                out[label] = time.perf_counter() - started
                assert any(block.type == "image" for block in result.content), result.content
            out["peak after first"] = status(pid)["VmHWM"]
            for timeframe in TIMEFRAMES:
                for subject, chosen in (("node", args), ("qemu", {"vmid": 101}), ("lxc", {"vmid": 200})):
                    await mcp.call_tool(f"pve_get_{subject}_metrics_{timeframe}", {**chosen, "chart": True})
            out["peak after all"] = status(pid)["VmHWM"]
    return out


def fresh_process(report: Report) -> None:
    timing = Table(
        "The first chart in a fresh process",
        ["what", "font cache", "ms"],
        notes=[
            "imports: numpy, PIL.Image, matplotlib.figure and the Agg canvas in a fresh interpreter (matplotlib"
            " loads its font list there; with a cold cache it scans the fonts and writes the list first).",
            "`pvemcp run --sandbox` over stdio: pve_get_node_metrics_day for pve1 (60 points); the call without"
            " a chart is the third, so only drawing differs.",
        ],
    )
    memory = Table(
        "Peak RSS of `pvemcp run --sandbox` once charts were drawn",
        ["font cache", "before any chart MiB", "after the first MiB", "after 15 more MiB", "growth MiB"],
        notes=["peak RSS: VmHWM of the server process; growth: after the 15 more charts less before any."],
    )
    for cold in (False, True):
        cache = "cold (empty)" if cold else "warm"
        timing.rows.append(["import numpy, Pillow, matplotlib", cache, f"{import_seconds(cold) * 1000:.0f}"])
        with font_cache(cold) as extra:
            run = anyio.run(first_chart, extra)
        timing.rows.append(["`pvemcp run`: metrics call, no chart", cache, f"{run['plain'] * 1000:.0f}"])
        timing.rows.append(["`pvemcp run`: first call with chart", cache, f"{run['first'] * 1000:.0f}"])
        timing.rows.append(["`pvemcp run`: next call with chart", cache, f"{run['next'] * 1000:.0f}"])
        growth = run["peak after all"] - run["peak before"]
        memory.rows.append(
            [cache, mib(run["peak before"]), mib(run["peak after first"]), mib(run["peak after all"]), mib(growth)]
        )
        report.headlines.append(Headline(f"first chart call, {cache} font cache", f"{run['first'] * 1000:.0f} ms"))
        if not cold:
            report.headlines.append(Headline("peak RSS growth once charts were drawn", f"{mib(growth)} MiB"))
    report.tables += [timing, memory]


def app_page(report: Report) -> None:
    table = Table("The cluster app's page", ["file", "bytes", "gzip bytes"])
    if APP_PAGE.exists():
        raw = APP_PAGE.read_bytes()
        packed = gzip.compress(raw, compresslevel=9, mtime=0)
        table.rows.append([str(APP_PAGE.relative_to(ROOT)), f"{len(raw):,}", f"{len(packed):,}"])
        report.headlines.append(Headline("cluster.html gzip", f"{len(packed):,} B"))
    else:
        table.notes.append(f"{APP_PAGE.relative_to(ROOT)} does not exist here: no row.")
    report.tables.append(table)


def main() -> Report:
    report = Report("Pictures")
    per_chart(report)
    fresh_process(report)
    app_page(report)
    return report


if __name__ == "__main__":
    print(main().render())
