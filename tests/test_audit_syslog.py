"""Audit entries forwarded to syslog: RFC 5424 messages that real loopback receivers read back, in order.

The receivers are a UDP socket, the TCP server of tests/syslog_receivers.py (it splits RFC 6587 octet-counted
frames) and, when installed, a real rsyslogd in a temporary directory.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from click.testing import CliRunner
from mcp import Client

from pvemcp.audit import AuditLog, line_hash, verify
from pvemcp.audit_syslog import (
    AUTHPRIV,
    SD_ID,
    UDP_LIMIT,
    SyslogForwarder,
    SyslogTarget,
    parse_target,
    render,
    sd_escape,
)
from pvemcp.cli.main import cli
from pvemcp.config import ConfigError, load_config
from pvemcp.pve.client import ProxmoxClient
from pvesim import Simulator
from tests.conftest import BIN, mcp_client, payload
from tests.helpers import pick
from tests.httpserver import spawn_http
from tests.loopback import free_port
from tests.syslog_receivers import RFC3339, Message, TcpReceiver, parse

pytestmark = pytest.mark.anyio


def file_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def entry(number: int, outcome: str = "ok") -> dict[str, Any]:
    return {"caller": "stdio", "tool": "pve_create_pool", "arguments": {"poolid": f"p{number}"}, "outcome": outcome}


@pytest.fixture
def tcp_receiver() -> Iterator[TcpReceiver]:
    receiver = TcpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def udp_receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    yield sock
    sock.close()


async def datagrams(sock: socket.socket, count: int) -> list[bytes]:
    return [await anyio.to_thread.run_sync(sock.recv, 70_000) for _ in range(count)]


def forwarder(protocol: str, port: int, **options: Any) -> SyslogForwarder:
    options.setdefault("retry_max", 0.1)
    return SyslogForwarder(SyslogTarget(protocol, "127.0.0.1", port), **options)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


def check_against_file(messages: list[bytes], path: Path) -> list[Message]:
    """Every message is the file's line in RFC 5424 form, in the file's order."""
    lines = file_lines(path)
    parsed = [parse(raw) for raw in messages]
    assert [m.msg for m in parsed] == lines
    for message, line in zip(parsed, lines, strict=True):
        record = json.loads(line)
        assert message.fields == {
            "version": "1",
            "time": record["time"],
            "host": socket.gethostname(),
            "app": "pvemcp",
            "procid": str(os.getpid()),
            "msgid": "audit",
            "sd_id": SD_ID,
        }
        assert RFC3339.match(message.fields["time"]) and message.pri // 8 == AUTHPRIV
        assert message.params == {
            "hash": line_hash(line),
            "prev": record["prev"],
            "tool": record["tool"],
            "outcome": record["outcome"],
        }
    return parsed


async def test_udp_sends_one_rfc5424_datagram_per_entry_with_the_files_line_as_msg(
    udp_receiver: socket.socket, log_path: Path
) -> None:
    log = AuditLog(log_path, forwarder("udp", udp_receiver.getsockname()[1]))
    try:
        for number in range(5):
            await log.append(entry(number))
        received = await datagrams(udp_receiver, 5)
    finally:
        log.close()
    parsed = check_against_file(received, log_path)
    assert [m.params["prev"] for m in parsed[1:]] == [m.params["hash"] for m in parsed[:-1]]  # a chain on the wire
    assert verify(log_path).ok and verify(log_path).entries == 5


async def test_tcp_frames_are_octet_counted_in_order_on_one_connection_and_the_file_still_verifies(
    tcp_receiver: TcpReceiver, log_path: Path
) -> None:
    log = AuditLog(log_path, forwarder("tcp", tcp_receiver.port))
    try:
        async with anyio.create_task_group() as tg:  # concurrent calls: the wire keeps the file's order
            for number in range(40):
                tg.start_soon(log.append, entry(number))
        received = tcp_receiver.wait_for(40)
    finally:
        log.close()
    check_against_file(received, log_path)
    assert tcp_receiver.connections == 1 and not tcp_receiver.errors
    verified = CliRunner().invoke(cli, ["audit", "verify", str(log_path)])
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize(
    ("outcome", "severity"),
    [("ok", 5), ("asked", 5), ("refused", 4), ("declined", 4), ("failed", 4), ("cancelled", 4)],
)
async def test_severity_is_notice_for_ok_and_asked_and_warning_otherwise(
    udp_receiver: socket.socket, log_path: Path, outcome: str, severity: int
) -> None:
    log = AuditLog(log_path, forwarder("udp", udp_receiver.getsockname()[1]))
    try:
        await log.append(entry(1, outcome))
        [raw] = await datagrams(udp_receiver, 1)
    finally:
        log.close()
    message = parse(raw)
    assert message.severity == severity and message.pri == AUTHPRIV * 8 + severity


def test_structured_data_escapes_quote_backslash_and_bracket() -> None:
    assert sd_escape('a"b\\c]d') == 'a\\"b\\\\c\\]d'
    line = json.dumps({"time": "2026-03-01T12:00:00.123Z", "tool": 'x"]\\y', "outcome": "ok", "prev": "0" * 64})
    raw = render(line.encode(), "f" * 64, facility=16, hostname="h", procid="1")
    message = parse(raw)
    assert message.params["tool"] == 'x"]\\y' and message.msg == line.encode() and message.pri == 16 * 8 + 5


def test_a_datagram_too_large_is_cut_on_a_character_boundary_and_says_so() -> None:
    line = json.dumps({"time": "2026-03-01T12:00:00.123Z", "note": "é" * 40_000}, ensure_ascii=False).encode()
    raw = render(line, "f" * 64, facility=AUTHPRIV, hostname="h", procid="1", limit=UDP_LIMIT)
    assert UDP_LIMIT - 2 <= len(raw) <= UDP_LIMIT
    message = parse(raw)
    assert message.params["truncated"] == str(len(line)) and line.startswith(message.msg)
    message.msg.decode()  # whole characters only


async def test_calls_do_not_wait_for_a_receiver_that_is_down_and_the_entries_arrive_when_it_is_up(
    log_path: Path,
) -> None:
    port = free_port()  # nothing listens there yet
    forward = forwarder("tcp", port)
    log = AuditLog(log_path, forward)
    try:
        started = time.monotonic()
        for number in range(10):
            await log.append(entry(number))
        assert time.monotonic() - started < 2.0 and forward.pending == 10
        receiver = TcpReceiver(port)
        try:
            received = receiver.wait_for(10)
            await log.append(entry(10))
            received = receiver.wait_for(11)
        finally:
            receiver.close()
    finally:
        log.close()
    check_against_file(received, log_path)


async def test_a_receiver_that_restarts_gets_what_was_written_while_it_was_away(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "pvemcp.audit")
    first = TcpReceiver()
    log = AuditLog(log_path, forwarder("tcp", first.port))
    try:
        for number in range(3):
            await log.append(entry(number))
        before = first.wait_for(3)
        first.close()  # the receiver goes away with the connection open
        for number in range(3, 8):
            await log.append(entry(number))
        second = TcpReceiver(first.port)
        try:
            after = second.wait_for(5)
        finally:
            second.close()
    finally:
        log.close()
    check_against_file(before + after, log_path)
    said = [r.getMessage() for r in caplog.records if r.name == "pvemcp.audit"]
    assert sum("cannot be reached" in m for m in said) == 1 and sum("reachable again" in m for m in said) == 1


async def test_a_full_queue_drops_the_oldest_counts_them_and_says_so_once(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "pvemcp.audit")
    port = free_port()
    forward = forwarder("tcp", port, capacity=5)
    log = AuditLog(log_path, forward)
    try:
        for number in range(12):
            await log.append(entry(number))
        assert forward.dropped == 7 and forward.pending == 5
        dropping = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
        assert len(dropping) == 1 and dropping[0].levelno == logging.WARNING
        receiver = TcpReceiver(port)
        try:
            received = receiver.wait_for(5)
        finally:
            receiver.close()
    finally:
        log.close()
    assert [parse(raw).msg for raw in received] == file_lines(log_path)[7:]  # the newest five
    assert verify(log_path).entries == 12  # the file has every entry
    assert any("7 entries were dropped" in r.getMessage() for r in caplog.records)


async def test_closing_sends_what_is_queued_and_gives_up_after_the_drain_time(
    tcp_receiver: TcpReceiver, log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = AuditLog(log_path, forwarder("tcp", tcp_receiver.port))
    for number in range(200):
        await log.append(entry(number))
    log.close()  # at once: whatever is still queued is sent before close returns
    assert len(tcp_receiver.wait_for(200, timeout=5)) == 200  # sent; the receiver's thread may still be reading

    gone = AuditLog(log_path.with_name("other.jsonl"), forwarder("tcp", free_port(), drain_seconds=0.3))
    await gone.append(entry(0))
    started = time.monotonic()
    gone.close()
    assert 0.25 <= time.monotonic() - started < 2.0
    assert any("1 entries were not sent before stopping" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "url",
    [
        "syslog.example:514",
        "http://syslog.example:514",
        "tcp://",
        "udp://syslog.example:99999",
        "udp://syslog.example:port",
        "tcp://syslog.example:0",
        "tcp://user@syslog.example:601",
        "tcp://syslog.example:601/path",
        "tcp://bad_host!:601",
        "udp://syslog.example?facility=nosuch",
        "udp://syslog.example?level=5",
    ],
)
def test_a_bad_url_is_refused_at_configuration_time(url: str, tmp_path: Path) -> None:
    env = {"PVE_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "PVE_AUDIT_SYSLOG": url}
    with pytest.raises(ConfigError) as caught:
        load_config(env, sandbox=True)
    [problem] = caught.value.problems
    assert problem.startswith(f"PVE_AUDIT_SYSLOG={url!r}")


def test_forwarding_needs_the_audit_log() -> None:
    with pytest.raises(ConfigError, match="PVE_AUDIT_SYSLOG forwards the audit log's entries"):
        load_config({"PVE_AUDIT_LOG": "off", "PVE_AUDIT_SYSLOG": "udp://127.0.0.1"}, sandbox=True)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("udp://syslog.example", SyslogTarget("udp", "syslog.example", 514)),
        ("tcp://syslog.example", SyslogTarget("tcp", "syslog.example", 601)),
        ("TCP://10.0.0.5:6514/", SyslogTarget("tcp", "10.0.0.5", 6514)),
        ("tcp://[fd00::5]:601?facility=local3", SyslogTarget("tcp", "fd00::5", 601, 19)),
        ("udp://h?facility=4", SyslogTarget("udp", "h", 514, 4)),
    ],
)
def test_good_urls_are_read_with_default_ports_and_an_optional_facility(url: str, target: SyslogTarget) -> None:
    assert parse_target(url) == target
    config = load_config({"PVE_AUDIT_SYSLOG": url, "HOME": "/nonexistent"}, sandbox=True)
    assert config.audit_syslog == target
    assert load_config({"HOME": "/nonexistent"}, sandbox=True).audit_syslog is None


async def test_a_destructive_call_through_the_server_reaches_the_receiver(
    pve: ProxmoxClient, sim: Simulator, tcp_receiver: TcpReceiver, log_path: Path
) -> None:
    guest = pick(sim, "qemu", "running")
    log = AuditLog(log_path, forwarder("tcp", tcp_receiver.port))
    try:
        async with mcp_client(pve, sim, audit=log) as client:
            refused = await client.call_tool("pve_stop_qemu_vm", {"vmid": guest.vmid})
            assert payload(refused)["code"] == "CONFIRMATION_REQUIRED"
            stopped = await client.call_tool("pve_stop_qemu_vm", {"vmid": guest.vmid, "confirm": True})
            assert not stopped.is_error
        received = tcp_receiver.wait_for(2)
    finally:
        log.close()
    parsed = check_against_file(received, log_path)
    assert [(m.params["tool"], m.params["outcome"], m.severity) for m in parsed] == [
        ("pve_stop_qemu_vm", "refused", 4),
        ("pve_stop_qemu_vm", "ok", 5),
    ]
    assert json.loads(parsed[1].msg)["target"]["vmid"] == guest.vmid


async def test_pvemcp_run_on_stdio_forwards_and_drains_on_exit(tcp_receiver: TcpReceiver, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PVE_ACCESS_TIER": "full",
        "PVE_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "PVE_AUDIT_SYSLOG": f"tcp://127.0.0.1:{tcp_receiver.port}",
    }
    opening = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "pve_create_pool", "arguments": {"poolid": "forwarded"}},
        },
    ]
    stdin = "".join(json.dumps(message) + "\n" for message in opening)
    done = await anyio.to_thread.run_sync(
        lambda: subprocess.run(
            [str(BIN), "run", "--sandbox"], input=stdin, env=env, capture_output=True, text=True, timeout=60
        )
    )
    assert done.returncode == 0, done.stderr
    assert "also to syslog tcp://127.0.0.1" in done.stderr
    [raw] = tcp_receiver.wait_for(1)
    message = parse(raw)
    assert message.msg == file_lines(tmp_path / "audit.jsonl")[0]
    assert message.params["tool"] == "pve_create_pool" and message.fields["procid"] != str(os.getpid())


async def test_pvemcp_run_over_http_forwards(udp_receiver: socket.socket, tmp_path: Path) -> None:
    env = {
        "PVE_ACCESS_TIER": "full",
        "PVE_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "PVE_AUDIT_SYSLOG": f"udp://127.0.0.1:{udp_receiver.getsockname()[1]}",
    }
    with spawn_http(env) as served:
        async with Client(served.url) as client:
            created = await client.call_tool("pve_create_pool", {"poolid": "over-http"})
            assert not created.is_error
        [raw] = await datagrams(udp_receiver, 1)
    message = parse(raw)
    assert message.msg == file_lines(tmp_path / "audit.jsonl")[0]
    assert json.loads(message.msg)["arguments"] == {"poolid": "over-http"}


RSYSLOGD = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None)
RSYSLOG_CONF = """
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
input(type="imudp" address="127.0.0.1" port="{udp}")
template(name="fields" type="string"
  string="%pri%|%protocol-version%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n")
action(type="omfile" file="{out}" template="fields")
"""


@pytest.mark.skipif(RSYSLOGD is None, reason="rsyslogd is not installed (Debian package rsyslog)")
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
async def test_a_real_rsyslogd_reads_the_messages(tmp_path: Path, log_path: Path, protocol: str) -> None:
    assert RSYSLOGD is not None
    ports = {"tcp": free_port(), "udp": free_port()}
    out, errors = tmp_path / "received.log", tmp_path / "rsyslogd.err"
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=tmp_path, out=out, **ports))
    argv = [RSYSLOGD, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslogd.pid")]
    with errors.open("wb") as stderr:
        daemon = await anyio.open_process(argv, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        log = AuditLog(log_path, forwarder(protocol, ports[protocol]))
        try:
            deadline = time.monotonic() + 15
            while not out.exists() and time.monotonic() < deadline:  # until rsyslogd listens and writes
                await log.append(entry(0, "failed"))
                await anyio.sleep(0.3)
            for number in range(1, 4):
                await log.append(entry(number))
            lines = file_lines(log_path)
            while time.monotonic() < deadline and len(out.read_bytes().splitlines()) < len(lines):  # noqa: ASYNC110
                await anyio.sleep(0.1)  # the file is the only sign rsyslogd gives
        finally:
            log.close()
    finally:
        daemon.terminate()
        with anyio.fail_after(15):
            await daemon.wait()
    rows = [row.split(b"|", 8) for row in out.read_bytes().splitlines()]
    assert rows, errors.read_text()
    first = len(lines) - len(rows)  # over UDP, what was sent before rsyslogd listened is lost
    assert first == 0 or protocol == "udp"
    for row, line in zip(rows, lines[first:], strict=True):
        record = json.loads(line)
        pri = AUTHPRIV * 8 + (5 if record["outcome"] == "ok" else 4)
        params = (
            f'hash="{line_hash(line)}" prev="{record["prev"]}" tool="pve_create_pool" outcome="{record["outcome"]}"'
        )
        expected = [pri, 1, record["time"], socket.gethostname(), "pvemcp", os.getpid(), "audit", f"[{SD_ID} {params}]"]
        assert row == [str(field).encode() for field in expected] + [line]
