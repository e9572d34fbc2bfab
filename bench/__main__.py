"""`python -m bench [name ...]`: run the benchmarks, print one markdown table set each and a summary.

A benchmark that crashes is reported in the summary and makes the exit status 1; the others still
run. Numbers are never compared against a clock here: "within aim" is information, not a verdict.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Callable

from bench import (
    cold_start,
    concurrency,
    http,
    listing,
    memory,
    overhead,
    paging,
    pictures,
    results,
    scope,
    sessions,
    ssh,
    team,
)
from bench.common import Headline, Report, summary

BENCHMARKS: dict[str, tuple[str, Callable[[], Report]]] = {
    "cold_start": ("Cold start over stdio", cold_start.main),
    "listing": ("tools/list size", listing.main),
    "results": ("Result size", results.main),
    "overhead": ("Per-call overhead of the MCP server", overhead.main),
    "concurrency": ("Concurrency", concurrency.main),
    "memory": ("Memory", memory.main),
    "paging": ("5,000-guest inventory", paging.main),
    "ssh": ("SSH batch diagnostics", ssh.main),
    "http": ("Streamable HTTP throughput", http.main),
    "sessions": ("Session memory", sessions.main),
    "scope": ("Scope boundary", scope.main),
    "team": ("A team behind nginx", team.main),
    "pictures": ("Pictures", pictures.main),
}


def machine() -> str:
    from pvemcp import __version__

    return (
        f"pvemcp {__version__}, Python {platform.python_version()} ({platform.python_implementation()}),"
        f" {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    selected = argv or list(BENCHMARKS)
    print(f"# pvemcp benchmarks\n\n{machine()}\n", flush=True)
    reports: list[Report] = []
    failed = False
    for name in selected:
        title, run = BENCHMARKS[name]
        started = time.perf_counter()
        try:
            report = run()
        except Exception as exc:
            failed = True
            traceback.print_exc()
            report = Report(title, headlines=[Headline("run", f"FAILED: {type(exc).__name__}: {exc}")])
        print(report.render(), flush=True)
        print(f"\n_{name} took {time.perf_counter() - started:.1f} s_\n", flush=True)
        reports.append(report)
    print(summary(reports).render(), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
