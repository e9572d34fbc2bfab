"""A real OpenSSH sshd on a loopback port, for the SSH channel and the SSH tools.

It runs as the test user with a generated ed25519 host key and one authorized client key. Sessions get
tests/sshd_bin first on their PATH (the `pct` and `docker` stand-ins) plus the `sshd_env` values.
A test module imports the fixtures: `from tests.sshd import sshd_env_fixture, sshd_fixture  # noqa: F401`
(then asks for `sshd`; it may define its own `sshd_env` fixture instead of importing that one).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from pvemcp.ssh.settings import SshSettings

SSHD = Path("/usr/sbin/sshd")
BIN_DIR = Path(__file__).resolve().parent / "sshd_bin"
START_SECONDS = 15.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_key(path: Path, key: asyncssh.SSHKey) -> str:
    """Write the private key (mode 0600, as sshd and ssh insist) and return the public key line."""
    key.write_private_key(str(path))
    path.chmod(0o600)
    public = key.export_public_key().decode().strip()
    path.with_suffix(".pub").write_text(public + "\n")
    return public


def _quote(value: str) -> str:
    if any(ch in value for ch in '"\n\r\0'):
        raise ValueError(f"sshd_config cannot carry {value!r}")
    return f'"{value}"'


def _descendants(root: int) -> list[int]:
    """Every live process below `root`: sshd's per-connection children outlive the listener otherwise."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    pending = [root]
    while pending:
        for child in parents.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


@dataclass
class Sshd:
    """One sshd: its address, keys and known_hosts, and the means to stop, restart or reconfigure it."""

    directory: Path
    port: int
    key_path: Path
    host_key: str  # "ssh-ed25519 AAAA…", the server's public host key
    env: Mapping[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    user: str = field(default_factory=getpass.getuser)
    bin_dir: Path = BIN_DIR
    _proc: subprocess.Popen[str] | None = None
    _pump: threading.Thread | None = None
    _log: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host_key_line(self) -> str:
        """The known_hosts line that trusts this server as host:port."""
        return self.known_hosts_line(self.host)

    def known_hosts_line(self, name: str) -> str:
        return f"[{name}]:{self.port} {self.host_key}"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    @property
    def config_path(self) -> Path:
        return self.directory / "sshd_config"

    def settings(self, **overrides: Any) -> SshSettings:
        base = SshSettings(
            host=self.host,
            user=self.user,
            key_path=self.key_path,
            port=self.port,
            known_hosts=self.known_hosts,
            connect_timeout=10.0,
            command_timeout=30.0,
        )
        return replace(base, **overrides)

    def log(self) -> list[str]:
        with self._lock:
            return list(self._log)

    def accepted(self) -> int:
        """How many SSH connections this sshd has authenticated since it was created."""
        return sum("Accepted publickey" in line for line in self.log())

    def _write_config(self) -> None:
        path = ":".join((str(self.bin_dir), "/usr/local/bin", "/usr/bin", "/bin"))
        setenv = " ".join(f"{name}={_quote(value)}" for name, value in {"PATH": path, **self.env}.items())
        options = {
            "ListenAddress": f"{self.host}:{self.port}",
            "HostKey": str(self.directory / "host_ed25519"),
            "AuthorizedKeysFile": str(self.directory / "authorized_keys"),
            "PidFile": str(self.directory / "sshd.pid"),
            "StrictModes": "no",
            "UsePAM": "no",
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            "PubkeyAuthentication": "yes",
            "PermitRootLogin": "prohibit-password",
            "AllowTcpForwarding": "yes",
            "MaxSessions": "32",
            "MaxStartups": "64",
            "LogLevel": "VERBOSE",
            "SetEnv": setenv,
            **self.options,
        }
        self.config_path.write_text("".join(f"{name} {value}\n" for name, value in options.items()))

    def start(self) -> None:
        if self._proc is not None:
            return
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self._write_config()
        listening = threading.Event()
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._proc = proc

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                with self._lock:
                    self._log.append(line.rstrip("\n"))
                if "Server listening on" in line:
                    listening.set()
            listening.set()  # exited: stop waiting

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not listening.wait(START_SECONDS) or proc.poll() is not None:
            log = "\n".join(self.log())
            self.stop()
            raise RuntimeError(f"sshd did not start listening on port {self.port}:\n{log}")

    def stop(self) -> None:
        """Stop the listener and every session it started, so open connections drop too."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        children = _descendants(proc.pid)
        proc.terminate()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if self._pump is not None:
            self._pump.join(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()

    def new_host_key(self) -> None:
        """Give the server another host key (a reinstalled node, or a man in the middle) and restart it."""
        self.host_key = _write_key(self.directory / "host_ed25519", asyncssh.generate_private_key("ssh-ed25519"))
        self.restart()

    def restart(self, **options: str) -> None:
        """Drop every connection and start again on the same port, with sshd_config options changed."""
        self.stop()
        self.options.update(options)
        self.start()


def make_sshd(directory: Path, env: Mapping[str, str] | None = None) -> Sshd:
    """Create keys, authorized_keys and known_hosts in `directory` and start sshd there."""
    if not SSHD.exists():
        pytest.skip(f"{SSHD} is not installed (Debian: apt-get install openssh-server)")
    directory.mkdir(parents=True, exist_ok=True)
    host_key = _write_key(directory / "host_ed25519", asyncssh.generate_private_key("ssh-ed25519"))
    client_key = directory / "client_ed25519"
    (directory / "authorized_keys").write_text(
        _write_key(client_key, asyncssh.generate_private_key("ssh-ed25519")) + "\n"
    )
    server = Sshd(directory=directory, port=_free_port(), key_path=client_key, host_key=host_key, env=dict(env or {}))
    server.known_hosts.write_text(server.host_key_line + "\n")
    server.start()
    return server


@pytest.fixture(name="sshd_env")
def sshd_env_fixture() -> dict[str, str]:
    """Extra environment for every session; override it in a test module to pass values to the stand-ins."""
    return {}


@pytest.fixture(name="sshd")
def sshd_fixture(tmp_path: Path, sshd_env: dict[str, str]) -> Iterator[Sshd]:
    server = make_sshd(tmp_path / "sshd", sshd_env)
    try:
        yield server
    finally:
        server.stop()
