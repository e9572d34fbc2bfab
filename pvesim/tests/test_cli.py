"""The `pvesim` command line: `serve` prints what reaches the cluster and serves it; `endpoints` lists the
routes, and the checked-in ENDPOINTS.md is what they generate."""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from pvesim.endpoints import SUMMARIES, key_of, render_markdown, undescribed
from pvesim.handlers import ALL_ROUTES

ENDPOINTS_MD = Path(__file__).resolve().parents[1] / "ENDPOINTS.md"
SETTINGS = ("HOST", "PORT", "USER", "REALM", "TOKEN_NAME", "TOKEN_SECRET", "TLS_FINGERPRINT")


@contextmanager
def served(*extra: str) -> Iterator[dict[str, str]]:
    """`python -m pvesim serve --port 0 [extra]`; yields the PROXMOX_* settings it prints."""
    command = [sys.executable, "-m", "pvesim", "serve", "--port", "0", *extra]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        while len(env) < len(SETTINGS):
            line = proc.stdout.readline()
            assert line, "pvesim serve exited before printing its settings"
            key, _, value = line.strip().removeprefix("export ").partition("=")
            env[key] = value
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_serve_prints_the_settings_and_answers_with_that_token_over_that_certificate() -> None:
    with served("--nodes", "2", "--guests", "3") as env:
        assert list(env) == [f"PROXMOX_{name}" for name in SETTINGS]
        assert env["PROXMOX_HOST"] == "127.0.0.1"
        host, port = env["PROXMOX_HOST"], int(env["PROXMOX_PORT"])
        pem = ssl.get_server_certificate((host, port))
        der = ssl.PEM_cert_to_DER_cert(pem)
        assert ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest()) == env["PROXMOX_TLS_FINGERPRINT"]
        token = f"{env['PROXMOX_USER']}@{env['PROXMOX_REALM']}!{env['PROXMOX_TOKEN_NAME']}"
        headers = {"Authorization": f"PVEAPIToken={token}={env['PROXMOX_TOKEN_SECRET']}"}
        context = ssl.create_default_context(cadata=pem)  # the certificate names the loopback address
        with httpx2.Client(base_url=f"https://{host}:{port}", verify=context, headers=headers) as client:
            nodes = client.get("/api2/json/nodes").json()["data"]
        assert sorted(node["node"] for node in nodes) == ["pve1", "pve2"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "pve1.example"])
def test_serve_refuses_an_address_off_loopback(host: str) -> None:
    command = [sys.executable, "-m", "pvesim", "serve", "--host", host, "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"refusing to serve the simulator on {host}" in result.stderr


def test_serve_refuses_an_out_of_range_option() -> None:
    command = [sys.executable, "-m", "pvesim", "serve", "--nodes", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "--nodes" in result.stderr and "not in the range 1 to 500" in result.stderr


def test_every_route_is_described_and_every_description_has_a_route() -> None:
    assert undescribed() == []
    assert set(SUMMARIES) == {key_of(route) for route in ALL_ROUTES}


def test_the_checked_in_endpoints_table_is_what_the_routes_generate() -> None:
    assert ENDPOINTS_MD.read_text() == render_markdown(), (
        "pvesim/ENDPOINTS.md is stale: regenerate it with `pvesim endpoints --markdown > pvesim/ENDPOINTS.md`"
    )


def test_the_table_lists_every_route_once() -> None:
    table = render_markdown()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    listed = sum(2 if "{qemu|lxc}" in row else 1 for row in rows)
    assert listed == len(ALL_ROUTES)
    assert len(set(rows)) == len(rows)


def test_serve_prints_export_lines_a_shell_takes_as_pasted() -> None:
    command = [sys.executable, "-m", "pvesim", "serve", "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        lines = [proc.stdout.readline() for _ in SETTINGS]
        after = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert [line.split("=", 1)[0] for line in lines] == [f"export PROXMOX_{name}" for name in SETTINGS]
    assert "paste the export lines above" in after
    # `env` is a child of the shell: it sees only what the pasted lines exported.
    shell = subprocess.run(
        ["bash", "-c", 'eval "$PASTED"; env'],
        env={"PATH": os.environ.get("PATH", ""), "PASTED": "".join(lines)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    exported = dict(line.partition("=")[::2] for line in shell.stdout.splitlines() if line.startswith("PROXMOX_"))
    printed = dict(shlex.split(line)[1].partition("=")[::2] for line in lines)
    assert exported == printed and set(exported) == {f"PROXMOX_{name}" for name in SETTINGS}


def test_serve_on_a_busy_port_says_so_in_one_line() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        command = [sys.executable, "-m", "pvesim", "serve", "--port", str(port)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"127.0.0.1:{port}" in line and "already in use" in line and "--port" in line
