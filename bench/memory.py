"""Peak memory of a running `pvemcp run`: users keep one per client window, all day.

The peak (VmHWM in /proc/<pid>/status) is read from the server process itself after start-up,
after tools/list and after 200 read calls, so growth per phase is visible too. The sandbox carries
the simulated cluster in the same process; a real deployment is measured against the simulator
served over HTTPS, so the difference shows what the sandbox itself costs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import psutil
from mcp import Client, StdioServerParameters

from bench.common import (
    QUIET_ENV,
    ROOT,
    Headline,
    Report,
    Table,
    child_pid,
    mib,
    served,
    target_env,
    venv_script,
)
from pvesim import RealClock, Simulator

CALLS = 200
TOOLS = ("pve_list_nodes", "pve_list_cluster_resources", "pve_get_cluster_status", "pve_list_storage")
AIM_MIB = 75
TIMEOUT = 120.0

Readings = list[tuple[str, dict[str, int]]]


def status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in bytes, from /proc; psutil's current RSS where /proc is missing."""
    path = Path(f"/proc/{pid}/status")
    if not path.exists():
        rss = int(psutil.Process(pid).memory_info().rss)
        return {"VmRSS": rss, "VmHWM": rss}
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


async def phases(args: list[str], env: dict[str, str]) -> tuple[Readings, int]:
    params = StdioServerParameters(command=venv_script("pvemcp"), args=args, env=env, cwd=ROOT)
    readings: Readings = []
    errors = 0
    with anyio.fail_after(TIMEOUT):
        async with Client(params, mode="legacy", cache=None) as mcp:
            pid = child_pid(*args)
            readings.append(("after initialize", status(pid)))
            await mcp.list_tools()
            readings.append(("after tools/list", status(pid)))
            for i in range(CALLS):
                result = await mcp.call_tool(TOOLS[i % len(TOOLS)], {})
                errors += bool(result.is_error)
            readings.append((f"after {CALLS} calls", status(pid)))
    return readings, errors


async def sandbox() -> tuple[Readings, int]:
    return await phases(["run", "--sandbox"], QUIET_ENV)


async def real_target() -> tuple[Readings, int]:
    sim = Simulator(clock=RealClock())
    async with served(sim) as (port, fingerprint):
        return await phases(["run"], target_env(sim, port, fingerprint))


def bare_interpreter() -> int:
    """Peak RSS of an interpreter that imports nothing: the floor under any Python server."""
    probe = "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    return int(out.stdout.strip()) * 1024


def main() -> Report:
    report = Report("Memory")
    table = Table(
        "`pvemcp run` over stdio",
        ["server", "phase", "RSS MiB", "peak RSS (VmHWM) MiB"],
        notes=[f"{CALLS} calls rotate over {', '.join(TOOLS)}.", f"aim: peak ≤ {AIM_MIB} MiB."],
    )
    for label, run in (("--sandbox", sandbox), ("real target (HTTPS simulator)", real_target)):
        readings, errors = anyio.run(run)
        for phase, values in readings:
            table.rows.append([label, phase, mib(values["VmRSS"]), mib(values["VmHWM"])])
        table.notes.append(f"{label}: {errors} of {CALLS} calls returned an error.")
        peak = readings[-1][1]["VmHWM"]
        met = peak <= AIM_MIB * 1024 * 1024
        report.headlines.append(Headline(f"peak RSS, {label}", f"{mib(peak)} MiB", f"≤ {AIM_MIB} MiB", met))
    if Path("/proc/self/status").exists():
        table.rows.append(["bare `python -c …` (for scale)", "-", "-", mib(bare_interpreter())])
    report.tables.append(table)
    return report


if __name__ == "__main__":
    print(main().render())
