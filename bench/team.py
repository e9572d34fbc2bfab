"""A team's deployment: requests per second and latency through nginx with one and with three replicas, and what
the shared state in Redis adds to a call.

Real processes on loopback (tests/team/harness.py): nginx with deploy/nginx/'s rules, `pvemcp run --transport
http --sandbox` replicas (each with its own simulated cluster, so Proxmox is never the shared bottleneck), and
Redis when shared state is on. The load is bench/http.py's: keep-alive clients sending 2026-07-28 tools/call
requests one at a time. On a machine with few cores the replicas, nginx, Redis and the load generator share
them, so the ratio between one and three replicas is this machine's, not a promise.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.common import Headline, Report, Table, ms, percentile
from bench.http import MODERN, TOOL, Server, Tally, modern_client
from tests.team.harness import Team, missing, team

CLIENTS = 16
SECONDS = 8.0
WARMUP_SECONDS = 1.0
QUIET = {"MCP_RATE_LIMIT_MAX": "1000000000", "PVE_AUDIT_LOG": "off"}


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    requests: int
    seconds: float
    p50: float
    p95: float
    errors: int
    replica_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


async def load(t: Team, clients: int, seconds: float) -> tuple[Tally, float, float]:
    port = int(t.url.split(":")[2].split("/")[0])
    target = Server("127.0.0.1", port, 0)
    procs = [psutil.Process(r.proc.pid) for r in t.replicas.values() if r.proc is not None]
    tally = Tally()
    begin = time.perf_counter()
    counting_from, until = begin + WARMUP_SECONDS, begin + WARMUP_SECONDS + seconds
    tasks = [asyncio.create_task(modern_client(target, until, counting_from, tally)) for _ in range(clients)]
    await asyncio.sleep(max(0.0, counting_from - time.perf_counter()))
    cpu = sum(sum(p.cpu_times()[:2]) for p in procs)
    await asyncio.gather(*tasks)
    cpu = sum(sum(p.cpu_times()[:2]) for p in procs) - cpu
    return tally, time.perf_counter() - counting_from, cpu


def measure(label: str, count: int, shared: bool, clients: int = CLIENTS, seconds: float = SECONDS) -> Run:
    with (
        tempfile.TemporaryDirectory() as directory,
        team(Path(directory), None, shared=shared, extra=QUIET, count=count) as t,
    ):
        tally, window, cpu = asyncio.run(load(t, clients, seconds))
    samples = tally.latencies or [0.0]
    return Run(label, len(tally.latencies), window, percentile(samples, 50), percentile(samples, 95), tally.errors, cpu)


def main() -> Report:
    report = Report("A team behind nginx")
    reason = missing()
    if reason is not None:
        report.tables.append(Table("Not measured here", ["reason"], rows=[[reason]]))
        return report
    throughput = [
        measure("1 replica", 1, shared=False),
        measure("3 replicas", 3, shared=False),
        measure("3 replicas, shared state in Redis", 3, shared=True),
    ]
    table = Table(
        f"{CLIENTS} keep-alive clients calling {TOOL} ({MODERN}) through nginx for {SECONDS:g} s",
        ["deployment", "requests", "requests/s", "p50 ms", "p95 ms", "errors", "replicas' CPU s"],
        notes=[
            f"the first {WARMUP_SECONDS:g} s are a warm-up and not counted; one fresh deployment per row; the"
            " replicas run --sandbox, each with its own simulated cluster; PVE_AUDIT_LOG=off.",
            "with shared state every request takes one rate-limit round trip to Redis (INCR on loopback).",
        ],
    )
    for run in throughput:
        table.rows.append(
            [
                run.label,
                f"{run.requests:,}",
                f"{run.rate:,.0f}",
                ms(run.p50, 1),
                ms(run.p95, 1),
                str(run.errors),
                f"{run.replica_cpu:.1f}",
            ]
        )
    report.tables.append(table)
    one, three, _ = throughput
    report.headlines.append(Headline("requests/s through nginx, 3 replicas vs 1", f"{three.rate / one.rate:.2f}×"))

    latency = [
        measure("3 replicas", 3, shared=False, clients=1, seconds=4),
        measure("3 replicas, Redis", 3, shared=True, clients=1, seconds=4),
    ]
    alone = Table(
        "One client, one request at a time: what the Redis round trip adds to a call",
        ["deployment", "requests", "p50 ms", "p95 ms"],
        notes=["the difference of the medians is the shared rate limiter's round trip to Redis on loopback."],
    )
    for run in latency:
        alone.rows.append([run.label, f"{run.requests:,}", ms(run.p50, 2), ms(run.p95, 2)])
    report.tables.append(alone)
    report.headlines.append(
        Headline("Redis round trip per call (p50 difference)", f"{ms(latency[1].p50 - latency[0].p50, 2)} ms")
    )
    return report


if __name__ == "__main__":
    print(main().render())
