"""PROXMOX_HOST as an IPv6 literal: bracketed in the URL, and run, doctor and setup all reach a cluster on ::1.

The cluster is `pvemcp sim serve --host ::1` over real HTTPS; without an IPv6 loopback those tests skip.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from pvemcp.cli.main import cli
from pvemcp.compose import make_client
from pvemcp.config import ConfigError, load_config
from tests.conftest import sim_served

BASE = {
    "PROXMOX_USER": "root",
    "PROXMOX_REALM": "pam",
    "PROXMOX_TOKEN_NAME": "pvemcp",
    "PROXMOX_TOKEN_SECRET": "s3cret",
    "PVE_AUDIT_LOG": "off",
}


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("::1", "https://[::1]:8006"),
        ("[::1]", "https://[::1]:8006"),
        ("fd00::5", "https://[fd00::5]:8006"),
        ("[2001:db8::10]", "https://[2001:db8::10]:8006"),
        ("10.0.0.5", "https://10.0.0.5:8006"),
        ("pve1.example.lan", "https://pve1.example.lan:8006"),
    ],
)
def test_an_ipv6_literal_host_is_bracketed_in_the_url(host: str, url: str) -> None:
    config = load_config({**BASE, "PROXMOX_HOST": host}, cwd=None)
    assert config.target is not None and config.target.base_url == url


@pytest.mark.parametrize("host", ["[1:2]", "fe80::1%eth0", "::1]", "[pve1]", "pve1:8006", "https://pve1"])
def test_what_is_no_host_is_still_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="PROXMOX_HOST"):
        load_config({**BASE, "PROXMOX_HOST": host}, cwd=None)


@pytest.fixture
def served_v6(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """`pvemcp sim serve --host ::1`: the PROXMOX_* settings it prints; HOME and the working folder are empty."""
    if not has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback")
    for name in list(os.environ):
        if name.startswith(("PROXMOX_", "PVE_", "PVEMCP_", "MCP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with sim_served("--host", "::1") as env:
        yield {**env, "PVE_AUDIT_LOG": "off"}


def version(env: dict[str, str]) -> str:
    """GET /version the way `pvemcp run` connects with these settings."""
    config = load_config(env, cwd=None)

    async def ask() -> str:
        client = make_client(config)
        try:
            return str((await client.get("/version"))["version"])
        finally:
            await client.aclose()

    return anyio.run(ask)


def test_run_reaches_a_cluster_on_ipv6_loopback_pinned_or_through_a_ca_file(
    served_v6: dict[str, str], tmp_path: Path
) -> None:
    assert served_v6["PROXMOX_HOST"] == "::1"
    port = served_v6["PROXMOX_PORT"]
    target = load_config(served_v6, cwd=None).target
    assert target is not None and target.base_url == f"https://[::1]:{port}"
    assert version(served_v6).startswith("9.")  # pinned: the fingerprint checked in the handshake
    ca_file = tmp_path / "node.pem"
    ca_file.write_text(ssl.get_server_certificate(("::1", int(port))))
    verified = {k: v for k, v in served_v6.items() if k != "PROXMOX_TLS_FINGERPRINT"}
    assert version({**verified, "PROXMOX_TLS_CA_FILE": str(ca_file)}).startswith("9.")  # the name is the IP ::1


def test_doctor_checks_a_cluster_on_ipv6_loopback(served_v6: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--json", "--check", "config,reach,version,auth"], env=served_v6)
    checks = {check["name"]: check for check in json.loads(result.output)["checks"]}
    assert result.exit_code == 0, result.output
    assert {name: check["status"] for name, check in checks.items()} == dict.fromkeys(checks, "GREEN")
    assert checks["reach"]["data"]["address"] == f"[::1]:{served_v6['PROXMOX_PORT']}"


def test_setup_pins_a_cluster_on_ipv6_loopback(served_v6: dict[str, str]) -> None:
    args = ["setup", "--yes", "--host", "::1", "--port", served_v6["PROXMOX_PORT"], "--token-id", "root@pam!pvemcp"]
    args += ["--secret-stdin", "--accept-fingerprint", "--print-config"]
    result = CliRunner().invoke(cli, args, input=served_v6["PROXMOX_TOKEN_SECRET"] + "\n")
    assert result.exit_code == 0, result.output
    assert f"Checking https://[::1]:{served_v6['PROXMOX_PORT']}" in result.output
    assert 'proxmox_host = "::1"' in result.output
    assert f'proxmox_tls_fingerprint = "{served_v6["PROXMOX_TLS_FINGERPRINT"]}"' in result.output
