"""pve_ssh_batch_diagnostics' checks over one SSH connection, against one connection per command.

Runs a real OpenSSH sshd on loopback (tests/sshd.py). "One command" is a single check on a fresh
connection, connection set-up included, as a tool call on a cold channel pays it. "Batch, one session" is
what pvemcp does: every check of the node started at once in one session on one connection
(ssh/batch.py). "Batch, a session per check" runs them concurrently as separate sessions on one
connection. "Batch, a connection per command" is the one-ssh-process-per-command way: each check opens
its own connection, one after another.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import anyio
import pytest

from bench.common import Headline, Report, Table, inprocess_client
from pvemcp.ssh import batch
from pvemcp.ssh.checks import CHECKS
from pvemcp.ssh.client import SshChannel
from pvemcp.ssh.settings import SshSettings
from pvesim import Simulator

ROUNDS = 15
ARGVS: tuple[Sequence[str], ...] = tuple(check.argv for check in CHECKS)


async def median_ms(run: Callable[[], Awaitable[object]]) -> float:
    await run()  # warm-up: imports, key loading, sshd's first fork
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def measure(settings: SshSettings) -> tuple[float, float, float, float]:
    sim = Simulator()
    client = inprocess_client(sim)

    async def fresh(commands: Sequence[Sequence[str]]) -> None:
        channel = SshChannel(settings, client)
        try:
            if len(commands) == 1:
                await channel.run(None, commands[0])
            else:
                await channel.run_many(None, commands)
        finally:
            await channel.close()

    async def one_command() -> None:
        await fresh(ARGVS[:1])

    async def batch_one_session() -> None:
        marker = batch.new_marker()
        await fresh([batch.batch_argv(ARGVS, marker)])

    async def batch_session_each() -> None:
        await fresh(ARGVS)

    async def batch_connection_each() -> None:
        for argv in ARGVS:
            await fresh([argv])

    try:
        return (
            await median_ms(one_command),
            await median_ms(batch_one_session),
            await median_ms(batch_session_each),
            await median_ms(batch_connection_each),
        )
    finally:
        await client.aclose()


def main() -> Report:
    from tests.sshd import make_sshd

    report = Report("SSH batch diagnostics")
    with tempfile.TemporaryDirectory() as directory:
        try:
            server = make_sshd(Path(directory) / "sshd")
        except pytest.skip.Exception as exc:
            report.headlines.append(Headline("sshd", f"not run: {exc.msg}"))
            return report
        try:
            single, together, sessions, each = anyio.run(measure, server.settings())
        finally:
            server.stop()
    table = Table(
        f"{len(ARGVS)} node checks against a real sshd on loopback (median of {ROUNDS})",
        ["way", "ms", "× one command"],
        notes=["every figure includes opening the SSH connection(s), as a call on a cold channel does."],
    )
    for label, value in (
        ("one command", single),
        ("batch, one session on one connection (pvemcp)", together),
        ("batch, a session per check on one connection", sessions),
        ("batch, a connection per command", each),
    ):
        table.rows.append([label, f"{value:.1f}", f"{value / single:.2f}"])
    report.tables.append(table)
    ratio = together / single
    report.headlines.append(
        Headline("batch over one connection / one command", f"{ratio:.2f}×", "≤ 1.5×", ratio <= 1.5)
    )
    report.headlines.append(Headline("batch, a connection per command / one command", f"{each / single:.2f}×"))
    return report


if __name__ == "__main__":
    print(main().render())
