"""Real servers of other projects on loopback, for tests: a free port, and a throwaway redis-server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_SERVER = Path(shutil.which("redis-server") or "/usr/bin/redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server of our own on a loopback port, with a password: no persistence, its files in `directory`."""

    def __init__(self, directory: Path, password: str, port: int | None = None) -> None:
        self.directory = directory
        self.password = password
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if not REDIS_SERVER.exists():
            pytest.skip(f"{REDIS_SERVER} is not installed (Debian package redis-server)")
        argv = [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.directory), "--requirepass", self.password]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        once = Retry(NoBackoff(), 0)  # no retries with back-off of its own: this loop polls
        sync = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.2, retry=once)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    if sync.ping():
                        return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                    time.sleep(0.02)
        finally:
            sync.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def flush(self) -> None:
        with redis.Redis(port=self.port, password=self.password) as sync:
            sync.flushdb()
