"""Cold start: how long an MCP client waits from spawning `pvemcp run --sandbox` to its first tool list.

Clients spawn the server when a chat opens, so this is felt by every user. Import time dominates
it, hence the import breakdown and the check that the stdio path leaves the HTTP stack unloaded.
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

from bench.common import ERAS, QUIET_ENV, ROOT, Headline, Report, Stats, Table, ms, venv_script

RUNS = 10
IMPORT_RUNS = 5
SPAWN_TIMEOUT = 60.0
STDIO_PATH = ("pvemcp.stdio", "pvemcp.server.app", "pvemcp.server.dispatch")
HEAVY = ("uvicorn", "asyncssh", "starlette", "sse_starlette", "pvesim", "rich")
TOP_IMPORTS = 8
CHAIN_SHOWN = 7


async def spawn_to_list(era: str) -> tuple[float, int]:
    params = StdioServerParameters(command=venv_script("pvemcp"), args=["run", "--sandbox"], env=QUIET_ENV, cwd=ROOT)
    started = time.perf_counter()
    with anyio.fail_after(SPAWN_TIMEOUT):
        async with Client(params, mode=era, cache=None) as mcp:
            result = await mcp.list_tools()
            elapsed = time.perf_counter() - started
    return elapsed, len(result.tools)


async def cold_starts() -> dict[str, tuple[Stats, int]]:
    out: dict[str, tuple[Stats, int]] = {}
    for era in ERAS:
        samples: list[float] = []
        count = 0
        for _ in range(RUNS):
            elapsed, count = await spawn_to_list(era)
            samples.append(elapsed)
        out[era] = (Stats.of(samples), count)
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
        notes=[f"median of {IMPORT_RUNS} runs; an import is timed inside the interpreter, without its start-up."],
    )
    targets = ("import pvemcp.cli.main", "import " + ", ".join(STDIO_PATH), "import pvesim")
    for statement in targets:
        seconds = [import_seconds(statement) for _ in range(IMPORT_RUNS)]
        table.rows.append([f"`{statement}`", ms(statistics.median(seconds), 1), ms(min(seconds), 1)])
        if statement == targets[0]:
            report.headlines.append(Headline(f"`{statement}`", f"{ms(statistics.median(seconds), 1)} ms"))
    seconds = [startup_seconds() for _ in range(IMPORT_RUNS)]
    table.rows.append(
        ["interpreter start and exit (`python -c pass`)", ms(statistics.median(seconds), 1), ms(min(seconds), 1)]
    )
    report.tables.append(table)


def heaviest_imports(report: Report) -> None:
    """The top-level packages that cost most on the path `run --sandbox` takes (first importer pays)."""
    roots: dict[str, int] = {}
    for item in importtime("import " + ", ".join(("pvemcp.cli.main", *STDIO_PATH, "pvesim"))):
        if "." not in item.name:
            roots[item.name] = max(roots.get(item.name, 0), item.cumulative_us)
    top = Table(
        "Heaviest top-level packages on the `run --sandbox` path",
        ["package", "cumulative ms"],
        notes=["a package's time includes every package it is the first to import."],
    )
    for name, total_us in sorted(roots.items(), key=lambda item: -item[1])[:TOP_IMPORTS]:
        top.rows.append([name, ms(total_us / 1e6, 1)])
    report.tables.append(top)


def loaded_modules(report: Report) -> None:
    statement = "import " + ", ".join(STDIO_PATH)
    probe = f"import json, sys\n{statement}\nprint(json.dumps({{m: m in sys.modules for m in {list(HEAVY)!r}}}))"
    loaded: dict[str, bool] = json.loads(python("-c", probe).stdout)
    entries = importtime(statement)
    table = Table(
        f"Modules loaded by `{statement}`",
        ["module", "loaded", "first imported by"],
        notes=["uvicorn, asyncssh and starlette serve other transports; the stdio path should not pay for them."],
    )
    for name, present in loaded.items():
        table.rows.append([name, "yes" if present else "no", importer_chain(entries, name) if present else "-"])
    report.tables.append(table)
    unwanted = [m for m in ("uvicorn", "asyncssh", "starlette") if loaded.get(m)]
    report.headlines.append(
        Headline("uvicorn/asyncssh/starlette on stdio path", ", ".join(unwanted) or "none", "none", not unwanted)
    )


def main() -> Report:
    report = Report("Cold start over stdio")
    table = Table(
        f"Spawn `pvemcp run --sandbox` → tools/list answered ({RUNS} runs per era)",
        ["era", "tools", "median ms", "p95 ms", "min ms", "max ms"],
        notes=[
            "legacy: initialize handshake then tools/list; 2026-07-28: no handshake, tools/list directly.",
            f"p95 of {RUNS} runs is the slowest run. The time includes building the sandbox's simulated cluster.",
        ],
    )
    for era, (stats, count) in anyio.run(cold_starts).items():
        table.rows.append(
            [era, str(count), ms(stats.median, 0), ms(stats.p95, 0), ms(stats.minimum, 0), ms(stats.maximum, 0)]
        )
        report.headlines.append(Headline(f"cold start to tools/list, {era} (median)", f"{ms(stats.median, 0)} ms"))
    report.tables.append(table)
    import_table(report)
    heaviest_imports(report)
    loaded_modules(report)
    return report


if __name__ == "__main__":
    print(main().render())
