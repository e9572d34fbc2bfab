"""A team's deployment on one machine: Redis, three `pvemcp run --transport http` replicas against one simulator
served over HTTPS, and nginx in front with deploy/nginx/'s own rules (the upstreams rendered with these ports).

Everything runs as real processes on loopback, in a temporary directory; nothing is left running.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.httpserver import Served, spawn_http
from tests.loopback import REDIS_SERVER, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX_DIR = ROOT / "deploy" / "nginx"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NAMES = ("r1", "r2", "r3")


def missing() -> str | None:
    """Why a team cannot be started here, or None."""
    for binary, package in ((NGINX, "nginx"), (str(REDIS_SERVER), "redis-server")):
        if not (Path(binary).is_file() and os.access(binary, os.X_OK)):
            return f"{package} is not installed (Debian package {package}; .ci/run installs it)"
    return None


def wait_for_port(port: int, what: str, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port}")


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A throwaway Redis with a password on loopback; yields its URL (a secret, as in a real deployment)."""
    server = RedisServer(directory, "team-" + secrets.token_hex(12))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def render_upstreams(ports: Mapping[str, int]) -> str:
    """deploy/nginx/pvemcp-upstreams.conf with this team's ports in place of 8001-8003 (a smaller team's
    first replica stands in for the missing ones)."""
    text = (NGINX_DIR / "pvemcp-upstreams.conf").read_text()
    first = ports[NAMES[0]]
    for index, name in enumerate(NAMES, start=1):
        text = text.replace(f"127.0.0.1:800{index}", f"127.0.0.1:{ports.get(name, first)}")
    assert not re.search(r"127\.0\.0\.1:800\d\b", text), "every example port was replaced"
    return text


LOG_FORMAT = (
    'log_format team escape=json \'{"status":$status,"upstream":"$upstream_addr","session":"$http_mcp_session_id",'
    '"opened":"$sent_http_mcp_session_id","version":"$http_mcp_protocol_version","uri":"$request_uri"}\';'
)


@contextmanager
def nginx(directory: Path, ports: Mapping[str, int]) -> Iterator[int]:
    """nginx with deploy/nginx/'s rules in a plain-HTTP server on loopback; yields its port."""
    port = free_port()
    (directory / "pvemcp-upstreams.conf").write_text(render_upstreams(ports))
    shutil.copy(NGINX_DIR / "pvemcp-proxy.conf", directory / "pvemcp-proxy.conf")
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "\n".join(f"    {kind}_temp_path {directory}/{kind};" for kind in kinds)
    (directory / "nginx.conf").write_text(
        f"""worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    {LOG_FORMAT}
    access_log {directory}/access.log team;
{temp}
    include {directory}/pvemcp-upstreams.conf;
    server {{
        listen 127.0.0.1:{port};
        include {directory}/pvemcp-proxy.conf;
    }}
}}
"""
    )
    argv = [NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", str(directory / "error.log")]
    proc = subprocess.Popen([*argv, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, "nginx")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Team:
    """The deployment: where nginx answers, each replica by name, and where their audit logs are."""

    url: str
    replicas: dict[str, Served]
    directory: Path
    redis_url: str | None
    access_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.access_log = self.directory / "nginx" / "access.log"

    def audit(self, name: str) -> list[dict[str, Any]]:
        path = self.directory / f"{name}-audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def audits(self) -> dict[str, list[dict[str, Any]]]:
        return {name: self.audit(name) for name in self.replicas}

    def routed(self) -> list[dict[str, Any]]:
        """nginx's access log: one record per request, with the replica that answered it."""
        if not self.access_log.exists():
            return []
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line.strip()]

    def replica_at(self, upstream: str) -> str:
        """The replica's name for an nginx upstream address (the last one tried, when there were several)."""
        port = int(upstream.split(",")[-1].strip().rsplit(":", 1)[1])
        return next(name for name, served in self.replicas.items() if served.port == port)

    def kill(self, name: str) -> None:
        proc = self.replicas[name].proc
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def team(
    directory: Path,
    sim_env: Mapping[str, str] | None,
    *,
    shared: bool = True,
    extra: Mapping[str, str] | None = None,
    count: int = 3,
) -> Iterator[Team]:
    """Redis (when `shared`), `count` replicas on one simulator (`sim_env`; None: each its own sandbox), nginx
    in front."""
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(directory)) if shared else None
        key = secrets.token_urlsafe(32)
        replicas: dict[str, Served] = {}
        for name in NAMES[:count]:
            env = {
                **(sim_env or {}),
                "PVE_ACCESS_TIER": "full",
                "PVE_CONFIRM_MODE": "elicit",
                "PVE_AUDIT_LOG": str(directory / f"{name}-audit.jsonl"),
                "PVE_AUDIT_READS": "true",
                "MCP_STATE_KEY": key,
                "MCP_REPLICA_ID": name,
                "MCP_TRUSTED_PROXIES": "127.0.0.1",
                **({"MCP_SHARED_STATE_URL": redis_url} if redis_url else {}),
                **(extra or {}),
            }
            replicas[name] = stack.enter_context(spawn_http(env, sandbox=sim_env is None))
        (directory / "nginx").mkdir()
        port = stack.enter_context(nginx(directory / "nginx", {n: r.port for n, r in replicas.items()}))
        yield Team(f"http://127.0.0.1:{port}/mcp", replicas, directory, redis_url)
