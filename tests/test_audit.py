"""The audit log: a hash chain that verifies, names the line that was tampered with, and survives kill -9."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from click.testing import CliRunner
from mcp import Client
from mcp.shared.exceptions import MCPError

from pvemcp.audit import GENESIS, AuditLog, line_hash, tail_lines, verify
from pvemcp.catalog.spec import Tier
from pvemcp.cli.main import cli
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.inventory import Policy
from pvesim import Simulator
from tests.conftest import BIN, FULL, mcp_client, payload
from tests.helpers import pick

pytestmark = pytest.mark.anyio


def entry(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "caller": "stdio",
        "tool": "pve_create_pool",
        "arguments": {"poolid": f"p{number}"},
        "outcome": "ok",
    } | extra


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "audit.jsonl"


@pytest.fixture
def audit_log(log_path: Path) -> Iterator[AuditLog]:
    log = AuditLog(log_path)
    yield log
    log.close()


async def write(log: AuditLog, count: int) -> None:
    for number in range(count):
        await log.append(entry(number))


async def test_the_chain_verifies_and_lines_keep_their_order_and_keys(audit_log: AuditLog, log_path: Path) -> None:
    await write(audit_log, 5)
    assert verify(log_path).ok and verify(log_path).entries == 5
    lines = [line.rstrip(b"\n") for line in lines_of(log_path)]
    first = json.loads(lines[0])
    assert list(first) == ["time", "caller", "tool", "arguments", "outcome", "prev"]
    assert first["prev"] == GENESIS and first["time"].endswith("Z") and len(first["time"]) == 24
    assert all(json.loads(line)["prev"] == line_hash(before) for before, line in itertools.pairwise(lines))
    assert (mode(log_path), mode(log_path.parent)) == (0o600, 0o700)


async def test_concurrent_appends_and_two_writers_on_one_file_keep_one_chain(
    audit_log: AuditLog, log_path: Path
) -> None:
    other = AuditLog(log_path)  # another process's view: its own descriptor and cached tail
    try:
        async with anyio.create_task_group() as group:
            for number in range(40):
                group.start_soon(audit_log.append, entry(number))
                group.start_soon(other.append, entry(100 + number, caller="http-ci"))
    finally:
        other.close()
    assert verify(log_path) == verify(log_path).__class__(80)
    assert len(records(log_path)) == 80


@pytest.mark.parametrize("line", [1, 3, 5])
async def test_an_edited_line_is_named(audit_log: AuditLog, log_path: Path, line: int) -> None:
    await write(audit_log, 6)
    lines = lines_of(log_path)
    lines[line - 1] = lines[line - 1].replace(b'"outcome":"ok"', b'"outcome":"refused"')
    rewrite(log_path, lines)
    verdict = verify(log_path)
    assert not verdict.ok and verdict.bad_line == line and verdict.entries == line - 1
    assert "altered" in str(verdict.reason)


async def test_removed_malformed_and_headless_logs_fail(audit_log: AuditLog, log_path: Path) -> None:
    await write(audit_log, 4)
    lines = lines_of(log_path)
    rewrite(log_path, lines[:1] + lines[2:])
    assert verify(log_path).bad_line == 1  # line 2 no longer follows line 1
    rewrite(log_path, [*lines[:2], b"{not json\n", *lines[3:]])
    assert (verify(log_path).bad_line, verify(log_path).reason) == (3, "is not valid JSON")
    rewrite(log_path, lines[1:])
    assert verify(log_path).bad_line == 1 and "genesis" in str(verify(log_path).reason)


async def test_a_torn_last_line_is_reported_and_dropped_by_the_next_append(audit_log: AuditLog, log_path: Path) -> None:
    await write(audit_log, 3)
    with log_path.open("ab") as file:
        file.write(b'{"time":"2026-01-01T00:00:00.000Z","caller":"st')
    verdict = verify(log_path)
    assert verdict.ok and verdict.entries == 3 and verdict.torn_line == 4
    assert len(tail_lines(log_path, 10)) == 3
    writer = AuditLog(log_path)  # a restarted process finds the fragment
    try:
        await writer.append(entry(9))
    finally:
        writer.close()
    assert verify(log_path) == verify(log_path).__class__(4)
    assert [r["arguments"]["poolid"] for r in records(log_path)] == ["p0", "p1", "p2", "p9"]


async def test_a_rotated_log_starts_a_new_chain(audit_log: AuditLog, log_path: Path) -> None:
    await write(audit_log, 2)
    os.rename(log_path, log_path.with_suffix(".1"))
    await write(audit_log, 1)
    assert records(log_path)[0]["prev"] == GENESIS and verify(log_path).entries == 1


def test_a_log_path_that_cannot_be_created_fails_at_open(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    log = AuditLog(tmp_path / "file" / "audit.jsonl")
    with pytest.raises(NotADirectoryError):
        log.open()


async def test_cli_verify_and_tail(audit_log: AuditLog, log_path: Path) -> None:
    for number in range(30):
        target = {"vmid": 104, "node": "pve2", "name": "db"} if number == 29 else None
        extra = {"target": target, "code": "CONFIRMATION_REQUIRED", "outcome": "refused"} if target else {}
        await audit_log.append(entry(number, duration_ms=1.5, **extra))
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", str(log_path)])
    assert ok.exit_code == 0 and "30 entries" in ok.output
    by_env = runner.invoke(cli, ["audit", "tail", "-n", "3"], env={"PVE_AUDIT_LOG": str(log_path)})
    shown = by_env.output.splitlines()
    assert by_env.exit_code == 0 and len(shown) == 3
    assert "poolid=p27" in shown[0] and "104 'db' on pve2  refused CONFIRMATION_REQUIRED  1.5 ms" in shown[2]
    raw = runner.invoke(cli, ["audit", "tail", "-n", "2", "--json", str(log_path)]).output.splitlines()
    assert [json.loads(line)["arguments"]["poolid"] for line in raw] == ["p28", "p29"]
    lines = lines_of(log_path)
    lines[11] = lines[11].replace(b"p11", b"p99")
    rewrite(log_path, lines)
    bad = runner.invoke(cli, ["audit", "verify"], env={"PVE_AUDIT_LOG": str(log_path)})
    assert bad.exit_code == 1 and "line 12 " in bad.output
    assert runner.invoke(cli, ["audit", "verify", str(log_path.with_name("none"))]).exit_code == 2


@asynccontextmanager
async def audited(
    pve: ProxmoxClient, sim: Simulator, era: str, log: AuditLog, policy: Policy = FULL, reads: bool = False
) -> AsyncIterator[Client]:
    async with mcp_client(pve, sim, era, policy, audit=log, audit_reads=reads) as client:
        yield client


async def test_every_mutating_outcome_is_one_line_and_reads_are_not(
    pve: ProxmoxClient, sim: Simulator, era: str, audit_log: AuditLog, log_path: Path
) -> None:
    guest = pick(sim, "qemu", "running")
    async with audited(pve, sim, era, audit_log) as client:
        assert not (await client.call_tool("pve_list_nodes", {})).is_error
        refused = await client.call_tool("pve_stop_qemu_vm", {"vmid": guest.vmid})
        assert payload(refused)["code"] == "CONFIRMATION_REQUIRED"
        failed = await client.call_tool("pve_create_pool", {"poolid": "production"})
        assert failed.is_error
        assert not (await client.call_tool("pve_create_pool", {"poolid": "audited"})).is_error
        stopped = await client.call_tool("stopVM", {"vmid": guest.vmid, "confirm": True, "wait_seconds": 0})
        assert not stopped.is_error
    rows = records(log_path)
    assert [(r["tool"], r["outcome"], r.get("code")) for r in rows] == [
        ("pve_stop_qemu_vm", "refused", "CONFIRMATION_REQUIRED"),
        ("pve_create_pool", "failed", payload(failed)["code"]),
        ("pve_create_pool", "ok", None),
        ("stopVM", "ok", None),
    ]
    assert rows[0]["target"] == {"vmid": guest.vmid, "node": guest.node, "name": guest.config["name"]}
    assert rows[3]["upid"].startswith(f"UPID:{guest.node}:") and rows[3]["upid"] in json.dumps(payload(stopped))
    assert rows[3]["alias_of"] == "pve_stop_qemu_vm"
    assert all(r["caller"] == "stdio" and r["duration_ms"] >= 0 for r in rows)
    assert verify(log_path).ok and verify(log_path).entries == 4


async def test_reads_are_audited_when_asked(
    pve: ProxmoxClient, sim: Simulator, era: str, audit_log: AuditLog, log_path: Path
) -> None:
    async with audited(pve, sim, era, audit_log, reads=True) as client:
        await client.call_tool("pve_list_nodes", {})
    assert [(r["tool"], r["outcome"]) for r in records(log_path)] == [("pve_list_nodes", "ok")]


async def test_a_hidden_write_tool_is_audited_as_refused(
    pve: ProxmoxClient, sim: Simulator, era: str, audit_log: AuditLog, log_path: Path
) -> None:
    async with audited(pve, sim, era, audit_log, policy=Policy(tier=Tier.READ_ONLY)) as client:
        with pytest.raises(MCPError):
            await client.call_tool("pve_create_pool", {"poolid": "sneaky"})
    [row] = records(log_path)
    assert (row["tool"], row["outcome"], row["code"]) == ("pve_create_pool", "refused", "TOOL_NOT_EXPOSED")


async def test_a_password_never_reaches_the_file(
    pve: ProxmoxClient, sim: Simulator, era: str, audit_log: AuditLog, log_path: Path
) -> None:
    secret = "Tr0ub4dor-and-3"
    async with audited(pve, sim, era, audit_log) as client:
        args = {"userid": "erin@pve", "password": secret, "confirm": True}
        assert not (await client.call_tool("pve_create_user", args)).is_error
    [row] = records(log_path)
    assert row["arguments"]["password"] == "***"
    assert all(secret.encode() not in line for line in lines_of(log_path))


# kill -9 in the middle of a burst: a real `pvemcp run` on stdio against `pvemcp sim serve` over HTTPS.


def rpc(number: int | None, method: str, params: dict[str, Any]) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if number is not None:
        message["id"] = number
    return json.dumps(message).encode() + b"\n"


async def answers(process: Process, until: int, answered: dict[int, dict[str, Any]]) -> None:
    """Collect JSON-RPC responses by id until `until` of them arrived or the server's stdout closed."""
    assert process.stdout is not None
    reader = BufferedByteReceiveStream(process.stdout)
    while len(answered) < until:
        try:
            line = await reader.receive_until(b"\n", 1 << 20)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return
        message = json.loads(line)
        if "id" in message:
            answered[message["id"]] = message


async def test_kill_9_during_a_burst_loses_no_acknowledged_entry(served_sim: dict[str, str], log_path: Path) -> None:
    burst, kill_after = 300, 25
    env = {
        **served_sim,
        "PVE_ACCESS_TIER": "full",
        "PVE_LOG_LEVEL": "warning",
        "PVE_AUDIT_LOG": str(log_path),
        "PATH": os.environ.get("PATH", ""),
    }
    answered: dict[int, dict[str, Any]] = {}
    with anyio.fail_after(60):
        async with await anyio.open_process([str(BIN), "run"], env=env, stderr=subprocess.DEVNULL) as process:
            assert process.stdin is not None
            hello = {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "burst", "version": "1"},
            }
            await process.stdin.send(rpc(0, "initialize", hello))
            await answers(process, 1, answered)
            assert "result" in answered.pop(0)
            await process.stdin.send(rpc(None, "notifications/initialized", {}))
            calls = b"".join(
                rpc(n, "tools/call", {"name": "pve_create_pool", "arguments": {"poolid": f"burst{n}"}})
                for n in range(1, burst + 1)
            )
            await process.stdin.send(calls)
            await answers(process, kill_after, answered)
            process.send_signal(signal.SIGKILL)
            await answers(process, burst, answered)  # answers already written before the kill count too
            assert await process.wait() == -signal.SIGKILL
    assert kill_after <= len(answered) < burst, "the kill must land in the middle of the burst"
    assert all(not message["result"].get("isError") for message in answered.values())
    verdict = verify(log_path)
    assert verdict.ok, verdict
    logged = {r["arguments"]["poolid"] for r in records(log_path)[: verdict.entries]}
    assert {f"burst{n}" for n in answered} <= logged
