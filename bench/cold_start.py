"""Cold start: how long an MCP client waits from spawning `pvemcp run` to its first tool list.

Clients spawn the server when a chat opens, so this is felt by every user. The server runs against the
simulator served over HTTPS in its own process, with the whole catalog listed. Beside it stands the floor
every server on the official Python SDK pays: a fresh interpreter importing `mcp.server.lowlevel` and
exiting, measured in the same run. The rest is pvemcp's own: its imports, its catalog and its listing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import anyio
from mcp import Client, StdioServerParameters

from bench.common import (
    ERAS,
    FULL_CATALOG,
    QUIET_ENV,
    ROOT,
    Headline,
    Report,
    Stats,
    Table,
    ms,
    sim_process,
    venv_script,
)

RUNS = 10
IMPORT_RUNS = 5
SPAWN_TIMEOUT = 60.0
AIM_ABOVE_FLOOR = 0.050  # seconds above the SDK's floor
FLOOR_STATEMENT = "import mcp.server.lowlevel"
STDIO_PATH = ("pvemcp.cli.main", "pvemcp.config", "pvemcp.stdio", "pvemcp.stdio.transport", "pvemcp.server.app")
HEAVY = ("uvicorn", "asyncssh", "starlette", "sse_starlette", "pvesim", "rich", "jsonschema", "jwt")
TOP_IMPORTS = 8
CHAIN_SHOWN = 7


async def spawn_to_list(era: str, args: list[str], env: dict[str, str]) -> tuple[float, int]:
    params = StdioServerParameters(command=venv_script("pvemcp"), args=args, env=env, cwd=ROOT)
    started = time.perf_counter()
    with anyio.fail_after(SPAWN_TIMEOUT):
        async with Client(params, mode=era, cache=None) as mcp:
            result = await mcp.list_tools()
            elapsed = time.perf_counter() - started
    return elapsed, len(result.tools)


def floor_seconds() -> float:
    """Spawn to exit of a fresh interpreter that imports the SDK's low-level server: the SDK's floor."""
    started = time.perf_counter()
    python("-c", FLOOR_STATEMENT)
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Measured:
    start: Stats
    floor: Stats
    tools: int

    @property
    def above(self) -> float:
        return self.start.median - self.floor.median


async def cold_starts(args: list[str], env: dict[str, str], eras: tuple[str, ...]) -> dict[str, Measured]:
    """Each era's spawn-to-list times, interleaved run by run with the floor so both see the same machine."""
    out: dict[str, Measured] = {}
    for era in eras:
        samples: list[float] = []
        floors: list[float] = []
        count = 0
        for _ in range(RUNS):
            floors.append(floor_seconds())
            elapsed, count = await spawn_to_list(era, args, env)
            samples.append(elapsed)
        out[era] = Measured(Stats.of(samples), Stats.of(floors), count)
    return out


def python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=True, env=env, cwd=ROOT, timeout=120
    )


@dataclass(frozen=True, slots=True)
class Imported:
    depth: int  # 0: imported by the statement itself (or by interpreter start-up)
    name: str
    cumulative_us: int


def importtime(statement: str) -> list[Imported]:
    """`python -X importtime` lines in print order (a module is printed after everything it imports)."""
    out: list[Imported] = []
    for line in python("-X", "importtime", "-c", statement).stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        out.append(Imported(depth, name.strip(), int(cumulative)))
    return out


def importer_chain(entries: list[Imported], module: str) -> str:
    """Who imported `module` first: outermost importer → … → module."""
    index = next((i for i, item in enumerate(entries) if item.name == module), None)
    if index is None:
        return "-"
    chain = [module]
    depth = entries[index].depth
    for item in entries[index + 1 :]:
        if item.depth < depth:
            chain.append(item.name)
            depth = item.depth
    chain.reverse()
    shown = chain if len(chain) <= CHAIN_SHOWN else [*chain[:2], "…", *chain[-(CHAIN_SHOWN - 3) :]]
    return " → ".join(shown)


def import_seconds(statement: str) -> float:
    """Time `statement` takes in a fresh interpreter, measured inside it (no start-up, no teardown)."""
    code = f"import time\nstarted = time.perf_counter()\n{statement}\nprint(time.perf_counter() - started)"
    return float(python("-c", code).stdout)


def startup_seconds() -> float:
    started = time.perf_counter()
    python("-c", "pass")
    return time.perf_counter() - started


def import_table(report: Report) -> None:
    table = Table(
        "Import cost (fresh interpreter each run)",
        ["what", "median ms", "min ms"],
        notes=[
            f"median of {IMPORT_RUNS} runs; an import is timed inside the interpreter, without its start-up.",
            "the stdio path is what `pvemcp run` imports (the SDK's own modules included); the first row is"
            " the SDK's floor alone.",
        ],
    )
    targets = (FLOOR_STATEMENT, "import " + ", ".join(STDIO_PATH), "import pvesim")
    for statement in targets:
        seconds = [import_seconds(statement) for _ in range(IMPORT_RUNS)]
        table.rows.append([f"`{statement}`", ms(statistics.median(seconds), 1), ms(min(seconds), 1)])
    seconds = [startup_seconds() for _ in range(IMPORT_RUNS)]
    table.rows.append(
        ["interpreter start and exit (`python -c pass`)", ms(statistics.median(seconds), 1), ms(min(seconds), 1)]
    )
    report.tables.append(table)


def heaviest_imports(report: Report) -> None:
    """The top-level packages `pvemcp run` imports beyond the SDK's floor that cost most (first importer pays)."""
    floor = {item.name for item in importtime(FLOOR_STATEMENT)}
    roots: dict[str, int] = {}
    for item in importtime("import " + ", ".join(STDIO_PATH)):
        if item.name not in floor and item.name.split(".")[0] != "pvemcp" and "." not in item.name:
            roots[item.name] = max(roots.get(item.name, 0), item.cumulative_us)
    top = Table(
        "Heaviest top-level packages `pvemcp run` imports beyond the SDK's floor",
        ["package", "cumulative ms"],
        notes=["a package's time includes every package it is the first to import."],
    )
    for name, total_us in sorted(roots.items(), key=lambda item: -item[1])[:TOP_IMPORTS]:
        top.rows.append([name, ms(total_us / 1e6, 1)])
    report.tables.append(top)


def loaded_modules(report: Report) -> None:
    statement = "import " + ", ".join(STDIO_PATH)

    def loaded_by(code: str) -> dict[str, bool]:
        probe = f"import json, sys\n{code}\nprint(json.dumps({{m: m in sys.modules for m in {list(HEAVY)!r}}}))"
        result: dict[str, bool] = json.loads(python("-c", probe).stdout)
        return result

    floor, loaded = loaded_by(FLOOR_STATEMENT), loaded_by(statement)
    entries = importtime(statement)
    table = Table(
        f"Modules loaded by `{statement}`",
        ["module", "loaded", "by the SDK's floor too", "first imported by"],
        notes=[
            "the SDK's low-level server imports uvicorn and starlette itself; pvemcp adds none of these on stdio"
            " (tests/test_start_path.py checks it against a real `pvemcp run`)."
        ],
    )
    for name, present in loaded.items():
        chain = importer_chain(entries, name) if present else "-"
        table.rows.append([name, "yes" if present else "no", "yes" if floor.get(name) else "no", chain])
    report.tables.append(table)
    unwanted = [m for m, present in loaded.items() if present and not floor.get(m)]
    report.headlines.append(
        Headline(
            "heavy modules on the stdio path beyond the SDK's", ", ".join(unwanted) or "none", "none", not unwanted
        )
    )


def against_target(report: Report) -> None:
    table = Table(
        f"Spawn `pvemcp run` → tools/list answered, simulator over HTTPS, full catalog ({RUNS} runs per era)",
        ["era", "tools", "median ms", "p95 ms", "min ms", "SDK floor ms", "above floor ms"],
        notes=[
            "legacy: initialize handshake then tools/list; 2026-07-28: no handshake, tools/list directly.",
            f"SDK floor: spawn to exit of `python -c {FLOOR_STATEMENT!r}` (median of {RUNS}, interleaved with the"
            " runs beside it): what any server on the official Python SDK pays before serving.",
            f"above floor = median − floor median; aim ≤ {ms(AIM_ABOVE_FLOOR, 0)} ms. The target is `pvemcp sim"
            " serve` in its own process; PVE_ACCESS_TIER=full, PVE_MODULE_MODE=advanced.",
        ],
    )
    with sim_process() as target:
        env = {**QUIET_ENV, **FULL_CATALOG, **target}
        measured = anyio.run(cold_starts, ["run"], env, ERAS)
    for era, m in measured.items():
        s = m.start
        table.rows.append(
            [era, str(m.tools), ms(s.median, 0), ms(s.p95, 0), ms(s.minimum, 0), ms(m.floor.median, 0), ms(m.above, 0)]
        )
        report.headlines.append(Headline(f"cold start to tools/list, {era} (median)", f"{ms(s.median, 0)} ms"))
        report.headlines.append(Headline(f"SDK floor beside {era}", f"{ms(m.floor.median, 0)} ms"))
        met = m.above <= AIM_ABOVE_FLOOR
        aim = f"≤ {ms(AIM_ABOVE_FLOOR, 0)} ms"
        report.headlines.append(Headline(f"cold start above SDK floor, {era}", f"{ms(m.above, 0)} ms", aim, met))
    report.tables.append(table)


def sandbox(report: Report) -> None:
    table = Table(
        f"Spawn `pvemcp run --sandbox` → tools/list answered ({RUNS} runs, legacy)",
        ["era", "tools", "median ms", "p95 ms", "min ms", "SDK floor ms", "above floor ms"],
        notes=["The time includes importing the simulator and building its cluster in the server's process."],
    )
    m = anyio.run(cold_starts, ["run", "--sandbox"], {**QUIET_ENV, **FULL_CATALOG}, ("legacy",))["legacy"]
    s = m.start
    table.rows.append(
        ["legacy", str(m.tools), ms(s.median, 0), ms(s.p95, 0), ms(s.minimum, 0), ms(m.floor.median, 0), ms(m.above, 0)]
    )
    report.headlines.append(Headline("cold start to tools/list, sandbox (median)", f"{ms(s.median, 0)} ms"))
    report.tables.append(table)


def main() -> Report:
    report = Report("Cold start over stdio")
    against_target(report)
    sandbox(report)
    import_table(report)
    heaviest_imports(report)
    loaded_modules(report)
    return report


if __name__ == "__main__":
    print(main().render())
