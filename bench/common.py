"""Shared pieces: statistics, markdown tables, and the simulator wired to our real client and server.

Every benchmark returns a `Report` (its tables plus headline numbers) so that `python -m bench`
can print them one after another and close with a single summary table.
"""

from __future__ import annotations

import math
import re
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psutil
from mcp.server import Server

from pvemcp.pve.client import ApiToken, ProxmoxClient
from pvemcp.server.app import build_server
from pvemcp.server.dispatch import Runtime
from pvemcp.server.inventory import Inventory, Policy
from pvesim import Simulator

ROOT = Path(__file__).resolve().parents[1]
ERAS = ("legacy", "2026-07-28")
SIM_URL = "https://pve1.sim:8006"
# Quiet servers: an info line per call on stderr would drown the tables and cost time we are not measuring.
QUIET_ENV = {"PVE_LOG_LEVEL": "warning", "PVE_AUDIT_LOG": "off"}  # measurements never touch the audit log
SERVE_TIMEOUT = 15.0
# Every tool the catalog has (the SSH tools aside, which need an SSH channel): the longest tools/list.
FULL_CATALOG = {"PVE_ACCESS_TIER": "full", "PVE_MODULE_MODE": "advanced"}
SETTINGS_PRINTED = 7  # the PROXMOX_* lines `pvemcp sim serve` prints
NUMBER = re.compile(r"^(-|[-+]?[\d.,]+ ?(ms|MiB|×|%|s)?)$")


def venv_script(name: str) -> str:
    """A console script installed beside the running interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def child_pid(*args: str) -> int:
    """The pid of our spawned `pvemcp` child process whose command line holds all of `args`."""
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if all(arg in cmdline for arg in args) and any("pvemcp" in part for part in cmdline):
            return int(child.pid)
    raise RuntimeError(f"no spawned `pvemcp {' '.join(args)}` process among this process's children")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


# ---------------------------------------------------------------- statistics


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Stats:
    n: int
    median: float
    p95: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        return cls(len(samples), statistics.median(samples), percentile(samples, 95), min(samples), max(samples))


async def timed(call: Callable[[], Awaitable[Any]], count: int) -> list[float]:
    """Run `call` `count` times in sequence; return each duration in seconds."""
    samples: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def ms(seconds: float, digits: int = 3) -> str:
    return f"{seconds * 1000:.{digits}f}"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / (1024 * 1024):.1f}"


# ---------------------------------------------------------------- reports


@dataclass(slots=True)
class Table:
    title: str
    headers: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def numeric(self, column: int) -> bool:
        """Right-align a column whose every cell is a number (a dash counts as an empty number)."""
        cells = [str(row[column]) for row in self.rows if column < len(row)]
        return column > 0 and any(cell != "-" for cell in cells) and all(NUMBER.match(cell) for cell in cells)

    def render(self) -> str:
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "|".join("---:" if self.numeric(i) else "---" for i in range(len(self.headers))) + "|")
        lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in self.rows)
        if self.notes:
            lines.append("")
            lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Headline:
    """One line of the closing summary; `met` is None when the number has no aim."""

    metric: str
    value: str
    aim: str = ""
    met: bool | None = None


@dataclass(slots=True)
class Report:
    name: str
    tables: list[Table] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)

    def render(self) -> str:
        return f"## {self.name}\n\n" + "\n\n".join(table.render() for table in self.tables)


def verdict(met: bool | None) -> str:
    return "-" if met is None else "yes" if met else "NO"


def summary(reports: Sequence[Report]) -> Table:
    table = Table("Summary", ["benchmark", "metric", "value", "aim", "within aim"])
    for report in reports:
        for line in report.headlines:
            table.rows.append([report.name, line.metric, line.value, line.aim or "-", verdict(line.met)])
    return table


# ---------------------------------------------------------------- the system under test


def sim_token(sim: Simulator) -> ApiToken:
    user_realm, token_name = sim.token_id.split("!", 1)
    user, realm = user_realm.rsplit("@", 1)
    return ApiToken(user=user, realm=realm, token_name=token_name, secret=sim.token_secret)


def inprocess_client(sim: Simulator) -> ProxmoxClient:
    """Our real client, talking to the simulator's ASGI app without a socket."""
    return ProxmoxClient(SIM_URL, sim_token(sim), transport=httpx2.ASGITransport(app=sim.app))


def server_for(client: ProxmoxClient, policy: Policy | None = None) -> Server[Any]:
    """The real MCP server (`mcp.server.Server`) over `client`, as `pvemcp run` builds it."""
    server: Server[Any] = build_server(Runtime(client, Inventory(policy or Policy())))
    return server


@asynccontextmanager
async def served(sim: Simulator) -> AsyncIterator[tuple[int, str]]:
    """The simulator over real HTTPS on 127.0.0.1 with a fresh certificate; yields (port, fingerprint)."""
    from pvesim.serve import serving

    async with serving(sim, startup_timeout=SERVE_TIMEOUT) as (url, cert):
        yield int(url.rsplit(":", 1)[1]), cert.fingerprint


def target_env(sim: Simulator, port: int, fingerprint: str) -> dict[str, str]:
    """The environment that points `pvemcp run` at the simulator served on 127.0.0.1:`port`."""
    token = sim_token(sim)
    return {
        **QUIET_ENV,
        "PROXMOX_HOST": "127.0.0.1",
        "PROXMOX_PORT": str(port),
        "PROXMOX_USER": token.user,
        "PROXMOX_REALM": token.realm,
        "PROXMOX_TOKEN_NAME": token.token_name,
        "PROXMOX_TOKEN_SECRET": token.secret,
        "PROXMOX_TLS_FINGERPRINT": fingerprint,
    }


@contextmanager
def sim_process(*extra: str) -> Iterator[dict[str, str]]:
    """`pvemcp sim serve --port 0` in its own process, as a user runs it; yields the PROXMOX_* lines it prints.

    In its own process the simulator takes no CPU time from the process that measures.
    """
    proc = subprocess.Popen(
        [venv_script("pvemcp"), "sim", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        while len(env) < SETTINGS_PRINTED:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("pvemcp sim serve exited before printing its settings")
            key, _, value = line.strip().removeprefix("export ").partition("=")
            env[key] = value
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=SERVE_TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()
