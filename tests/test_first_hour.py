"""What a new admin meets in the first hour, driven as they drive it: the real commands, in a terminal where
one matters. Ctrl-C stops stdio serving; a busy port is one line naming it and the setting that moves it;
`pvemcp sim serve` prints lines a shell can take as pasted; help and dead ends point at the next step;
counts say what they count."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from pvemcp.audit import verify
from pvemcp.catalog import ALL_TOOLS
from pvemcp.cli.counts import consolidated, counted, policy_listing
from pvemcp.cli.main import cli
from pvemcp.config import read_config
from tests.conftest import BIN
from tests.test_stdio_wire import INITIALIZE

FULL = {"PVE_ACCESS_TIER": "full", "PVE_MODULE_MODE": "advanced", "PVE_LOG_LEVEL": "info"}

# Runs argv with the pty as its controlling terminal and stdio, SIGINT ignored or at its default: a job that
# a non-interactive shell started in the background (and all it starts, a terminal multiplexer's shells
# too) inherits SIGINT ignored, where Python installs no KeyboardInterrupt handler.
ON_TERMINAL = """
import os, signal, sys
tty, ignore, *argv = sys.argv[1:]
fd = os.open(tty, os.O_RDWR)  # a session leader's first terminal becomes its controlling terminal
for n in (0, 1, 2):
    os.dup2(fd, n)
signal.signal(signal.SIGINT, signal.SIG_IGN if ignore == "1" else signal.SIG_DFL)
os.execv(argv[0], argv)
"""


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with no PROXMOX_* or PVE_* settings and a HOME of its own (no configuration file)."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), **extra}


class Terminal:
    """A command on a pseudo-terminal: what it writes is collected, keys are typed into it."""

    def __init__(self, argv: list[str], env: dict[str, str], *, sigint_ignored: bool) -> None:
        self.master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO  # what is typed is not echoed back among the answers
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ON_TERMINAL, os.ttyname(slave), "1" if sigint_ignored else "0", *argv],
            env=env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, wanted: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while not wanted(self.text) and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the terminal closed: the program ended
                    time.sleep(0.05)
                    if self.proc.poll() is not None:
                        break
        return self.text

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace").replace("\r\n", "\n")

    def type(self, data: str) -> None:
        os.write(self.master, data.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.mark.parametrize(
    ("extra", "sigint_ignored"),
    [([], False), ([], True), (["--print-config"], True)],
    ids=["plain", "sigint-inherited-ignored", "print-config"],
)
def test_ctrl_c_stops_stdio_serving_and_closes_the_audit_log(
    tmp_path: Path, extra: list[str], sigint_ignored: bool
) -> None:
    audit = tmp_path / "audit.jsonl"
    env = clean_env(tmp_path, PVE_AUDIT_LOG=str(audit), **FULL)
    terminal = Terminal([str(BIN), "run", "--sandbox", *extra], env, sigint_ignored=sigint_ignored)
    try:
        terminal.read_until(lambda text: "serving " in text, timeout=60)
        if extra:
            assert "Press Ctrl-C to stop." in terminal.text
        call = {"name": "pve_create_pool", "arguments": {"poolid": "ctrl-c"}}
        for message in (
            INITIALIZE,
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call},
        ):
            terminal.type(json.dumps(message) + "\n")
        terminal.read_until(lambda text: '"id":2,"result"' in text, timeout=30)
        assert '"id":2,"result"' in terminal.text, terminal.text
        terminal.type("\x03")
        status = terminal.proc.wait(timeout=10)
        log = terminal.read_until(lambda text: "stopped serving on stdio" in text, timeout=5)
    finally:
        terminal.close()
    assert status == 0, log
    assert "SIGINT: stopping" in log and "stopped serving on stdio" in log
    assert "Traceback" not in log
    verdict = verify(audit)
    assert verdict.ok and verdict.torn_line is None and verdict.entries >= 1, verdict
    assert "pve_create_pool" in audit.read_text()


@contextmanager
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_busy_port_over_http_is_one_line_naming_it_and_mcp_port(tmp_path: Path) -> None:
    with taken_port() as port:
        env = clean_env(tmp_path, PVE_AUDIT_LOG="off", MCP_PORT=str(port))
        command = [str(BIN), "run", "--sandbox", "--transport", "http"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    line = one_line(result)
    assert f"127.0.0.1:{port}" in line and "already in use" in line and "MCP_PORT" in line


def test_a_busy_port_for_sim_serve_is_one_line_naming_it_and_the_option(tmp_path: Path) -> None:
    with taken_port() as port:
        command = [str(BIN), "sim", "serve", "--port", str(port)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    line = one_line(result)
    assert f"127.0.0.1:{port}" in line and "already in use" in line and "--port" in line


def test_sim_serve_prints_export_lines_a_shell_takes_as_pasted(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(BIN), "sim", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        lines = [proc.stdout.readline() for _ in range(7)]
        after = proc.stderr.readline()
        # Printed by a child of the shell: only exported variables reach it.
        shell = subprocess.run(
            ["bash", "-c", 'eval "$PASTED"; env'],
            env=clean_env(tmp_path, PASTED="".join(lines)),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        seen = dict(line.partition("=")[::2] for line in shell.stdout.splitlines() if line.startswith("PROXMOX_"))
        # The settings reach the cluster: pvemcp, started from that shell, lists its nodes.
        listed = subprocess.run(
            ["bash", "-c", 'eval "$PASTED"; exec "$PVEMCP" run < "$REQUESTS"'],
            env=clean_env(tmp_path, PASTED="".join(lines), PVEMCP=str(BIN), REQUESTS=str(requests(tmp_path))),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert all(line.startswith("export PROXMOX_") for line in lines), lines
    assert set(seen) == {
        f"PROXMOX_{name}" for name in ("HOST", "PORT", "USER", "REALM", "TOKEN_NAME", "TOKEN_SECRET", "TLS_FINGERPRINT")
    }
    assert seen["PROXMOX_HOST"] == "127.0.0.1" and int(seen["PROXMOX_PORT"]) > 0
    assert "paste the export lines above" in after
    assert listed.returncode == 0, listed.stderr
    answer = next(json.loads(line) for line in listed.stdout.splitlines() if json.loads(line).get("id") == 2)
    assert "pve1" in json.dumps(answer["result"]), answer


def requests(tmp_path: Path) -> Path:
    """initialize, then a read of the cluster's nodes through the default consolidated surface."""
    path = tmp_path / "requests.jsonl"
    call = {"name": "pve_list_nodes", "arguments": {}}
    lines = [
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def help_text(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_summary_is_a_whole_sentence() -> None:
    listed = help_text().split("Commands:", 1)[1]
    summaries = [line.strip() for line in listed.splitlines() if line.strip()]
    assert len(summaries) >= 8
    for summary in summaries:
        assert summary.endswith(".") and not summary.endswith("..."), summary
    for group in ("sim", "audit"):
        for line in help_text(group).split("Commands:", 1)[1].strip().splitlines():
            assert line.strip().endswith(".") and not line.strip().endswith("..."), line


def test_sim_serve_help_describes_every_option_and_what_it_prints() -> None:
    text = " ".join(help_text("sim", "serve").split())
    said = {
        "--nodes": "cluster members",
        "--guests": "VMs and containers",
        "--latency-ms": "delay before every answer",
    }
    for option, words in said.items():
        assert words in text.split(option, 1)[1].split("[default", 1)[0], (option, text)
    assert "export PROXMOX_" in text and "paste them" in text


def test_setup_help_shows_the_defaults_of_tls_and_scope_and_that_client_repeats() -> None:
    text = " ".join(help_text("setup").split())
    tls = text.split("--tls", 1)[1].split("--ca-file", 1)[0]
    assert "Default:" in tls and "verify" in tls
    scope = text.split("--scope", 1)[1].split("--client", 1)[0]
    assert "the default" in scope and "user" in scope
    client = text.split("--client", 1)[1].split("--print-config", 1)[0]
    assert "repeat" in client


def test_run_with_nothing_configured_names_setup_and_the_sandbox(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN), "run"], env=clean_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "`pvemcp setup`" in result.stderr and "`pvemcp run --sandbox`" in result.stderr
    assert "Traceback" not in result.stderr


def test_audit_on_a_fresh_install_says_nothing_has_been_changed_yet(tmp_path: Path) -> None:
    def audit(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(BIN), "audit", *args]
        return subprocess.run(command, env=clean_env(tmp_path), capture_output=True, text=True, timeout=30)

    tail, check = audit("tail"), audit("verify")
    assert tail.returncode == 0 and tail.stdout == ""
    assert check.returncode == 2
    for result in (tail, check):
        assert "nothing has been changed" in one_line(result)
    named = audit("tail", str(tmp_path / "elsewhere.jsonl"))
    assert named.returncode == 2 and "no such file" in one_line(named)


def stdio_log(tmp_path: Path, **settings: str) -> tuple[str, list[str]]:
    """`pvemcp run --sandbox` serving requests from a file: its log, and the names tools/list answered."""
    path = tmp_path / "list.jsonl"
    lines = [INITIALIZE, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    env = clean_env(tmp_path, PVE_AUDIT_LOG="off", PVE_LOG_LEVEL="info", **settings)
    with path.open() as stdin:
        done = subprocess.run(
            [str(BIN), "run", "--sandbox"], stdin=stdin, env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stderr
    answer = next(json.loads(line) for line in done.stdout.splitlines() if json.loads(line).get("id") == 2)
    return done.stderr, [tool["name"] for tool in answer["result"]["tools"]]


def test_run_counts_aliases_apart_from_tools(tmp_path: Path) -> None:
    log, names = stdio_log(tmp_path, PVE_ACCESS_TIER="read-execute", PVE_TOOL_MODE="catalog")
    alias_names = {alias for spec in ALL_TOOLS for alias in spec.aliases}
    aliases = sum(1 for name in names if name in alias_names)
    assert aliases > 0
    assert f"serving {counted(len(names) - aliases, aliases)} on stdio" in log, log
    assert f"serving {len(names)} tools" not in log


def test_run_in_consolidated_mode_counts_the_listed_tools_and_the_operations_behind_them(tmp_path: Path) -> None:
    log, names = stdio_log(tmp_path, PVE_ACCESS_TIER="full", PVE_MODULE_MODE="advanced")
    config = read_config(sandbox=True, environ={"PVE_ACCESS_TIER": "full", "PVE_MODULE_MODE": "advanced"}).result()
    operations = sum(1 for spec in ALL_TOOLS if spec.ssh is False)  # the sandbox has no SSH channel
    phrase = consolidated(len(names), operations)
    assert f"serving {phrase} on stdio" in log, log
    assert policy_listing(config.policy) == phrase


def test_http_announces_the_same_counts(tmp_path: Path) -> None:
    env = clean_env(tmp_path, PVE_AUDIT_LOG="off", PVE_LOG_LEVEL="info", MCP_PORT="0")
    proc = subprocess.Popen(
        [str(BIN), "run", "--sandbox", "--transport", "http"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 60
        while "serving" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, "pvemcp exited before serving"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        if proc.stderr is not None:
            proc.stderr.close()
    policy = read_config(sandbox=True, environ={}).result().policy
    assert f"serving {policy_listing(policy)} over Streamable HTTP" in line, line
