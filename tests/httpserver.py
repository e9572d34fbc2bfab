"""Real HTTP servers for tests: the very app `pvemcp run --transport http` serves, on a loopback port.

- `http_service(env, sim)`: in-process. uvicorn runs in a thread of its own; the app talks to the test's
  simulator, so a test can assert on the cluster's state after a call.
- `spawn_http(env)`: the real CLI in a subprocess (start-up rules, signals, two replicas).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn

from pvemcp.http.serve import HttpService, bound_port, build_service, uvicorn_config
from pvemcp.http.settings import load_http_config
from pvesim import Simulator
from tests.conftest import BIN, client_for

BASE_ENV = {"PVE_AUDIT_LOG": "off", "MCP_PORT": "0"}


@dataclass(slots=True)
class Served:
    """A running server: where it answers, and (in-process) what it was built from."""

    url: str  # http://127.0.0.1:PORT/mcp
    port: int
    service: HttpService | None = None
    log: list[str] = field(default_factory=list)  # the subprocess's stderr lines so far
    proc: subprocess.Popen[str] | None = None  # the subprocess, for a test that stops it its own way

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")


@contextmanager
def http_service(env: Mapping[str, str], sim: Simulator, **runtime: Any) -> Iterator[Served]:
    """Serve the HTTP app for settings `env` (PVE_* and MCP_*) against `sim`, in this process.

    `runtime` sets Runtime fields after the build (e.g. clock=sim.wait_clock()).
    """
    config = load_http_config({**BASE_ENV, **env}, sandbox=True)
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            service = await build_service(config, client_for(sim))
            for name, value in runtime.items():
                for view in (service.runtime, *service.runtime._views.values()):  # callers' views were built too
                    setattr(view, name, value)
            assert config.http is not None
            server = uvicorn.Server(uvicorn_config(service.app, config.http))
            server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
            box["server"], box["service"] = server, service
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(server.serve)
                    while not server.started and not server.should_exit:  # noqa: ASYNC110 - uvicorn offers a flag only
                        await anyio.sleep(0.005)
                    box["port"] = bound_port(server, 0)
                    ready.set()
            finally:
                await service.aclose()
                ready.set()

        try:
            anyio.run(main)
        except BaseException as exc:  # reported to the test below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="pvemcp-http", daemon=True)
    thread.start()
    ready.wait(20)
    if "error" in box or "port" not in box:
        raise RuntimeError(f"the HTTP server did not start: {box.get('error')!r}")
    port = box["port"]
    try:
        yield Served(url=f"http://127.0.0.1:{port}/mcp", port=port, service=box["service"])
    finally:
        box["server"].should_exit = True
        thread.join(20)


LISTENING = re.compile(r"over Streamable HTTP at (http://\S+/mcp)")


@contextmanager
def spawn_http(env: Mapping[str, str], *args: str, sandbox: bool = True) -> Iterator[Served]:
    """`pvemcp run --transport http` in a subprocess with exactly `env` (plus PATH and HOME)."""
    full = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **BASE_ENV, **env}
    argv = [str(BIN), "run", "--transport", "http", *(["--sandbox"] if sandbox else []), *args]
    proc = subprocess.Popen(argv, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                raise RuntimeError("pvemcp exited before listening:\n" + "".join(lines))
            lines.append(line)
            match = LISTENING.search(line)
            url = match.group(1) if match else None
        assert url is not None, "pvemcp did not say where it listens:\n" + "".join(lines)
        threading.Thread(target=_drain, args=(proc, lines), daemon=True).start()
        yield Served(url=url, port=int(url.rsplit(":", 1)[1].split("/")[0]), log=lines, proc=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _drain(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)


def run_refused(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`pvemcp run --transport http` expected to refuse to start: returns once it exited."""
    full = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **BASE_ENV, **env}
    argv = [str(BIN), "run", "--transport", "http", "--sandbox", *args]
    return subprocess.run(argv, env=full, capture_output=True, text=True, timeout=30, check=False)
