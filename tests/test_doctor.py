"""`pvemcp doctor` through the CLI against the simulator served over HTTPS (and a real sshd for the SSH check)."""

from __future__ import annotations

import json
import os
import shlex
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner, Result

from pvemcp.cli.main import cli
from pvemcp.pve.tls import TlsConfig
from pvemcp.setup.clients import pvemcp_command
from tests.sshd import Sshd, sshd_env_fixture, sshd_fixture  # noqa: F401

CHECKS = ["config", "reach", "version", "auth", "privileges", "inventory", "ssh", "clients", "selftest"]
WRONG_FINGERPRINT = ":".join(["AB"] * 32)


@pytest.fixture
def admin(served_sim: dict[str, str]) -> Iterator[Admin]:
    client = Admin(served_sim)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolated(monkeypatch, tmp_path)


def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting of the machine running the tests leaks in: a fresh HOME and working directory."""
    for name in list(os.environ):
        if name.startswith(("PROXMOX_", "PVE_", "PVEMCP_", "MCP_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".state"))
    monkeypatch.chdir(work)
    return work


def doctor(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["doctor", *args], env=env, catch_exceptions=False)


def report(env: dict[str, str], *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = doctor(env, "--json", *args)
    document = json.loads(result.output)
    return result.exit_code, {check["name"]: check for check in document["checks"]}


def statuses(checks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: check["status"] for name, check in checks.items()}


class Admin:
    """The simulator's own administrator token, for changing its users, tokens and ACLs through the API."""

    def __init__(self, env: dict[str, str]) -> None:
        token_id = f"{env['PROXMOX_USER']}@{env['PROXMOX_REALM']}!{env['PROXMOX_TOKEN_NAME']}"
        self.http = httpx2.Client(
            base_url=f"https://{env['PROXMOX_HOST']}:{env['PROXMOX_PORT']}/api2/json",
            headers={"Authorization": f"PVEAPIToken={token_id}={env['PROXMOX_TOKEN_SECRET']}"},
            verify=TlsConfig(fingerprint=env["PROXMOX_TLS_FINGERPRINT"]).ssl_context(),
        )

    def close(self) -> None:
        self.http.close()  # a kept-alive connection would hold the simulator's shutdown

    def call(self, method: str, endpoint: str, **params: Any) -> Any:
        response = self.http.request(method, endpoint, data=params if method != "GET" else None)
        response.raise_for_status()
        return response.json()["data"]

    def acl(self) -> list[dict[str, Any]]:
        return list(self.http.get("/access/acl").json()["data"])

    def apply(self, command: str) -> None:
        """Carry out one `pveum acl modify …` or `pveum role add|modify …` the doctor printed, through the API."""
        words = shlex.split(command)
        assert words[0] == "pveum", command
        options = {k.removeprefix("--"): v for k, v in zip(words[4::2], words[5::2], strict=True)}
        if words[1:3] == ["acl", "modify"]:
            self.call("PUT", "/access/acl", path=words[3], **options)
        elif words[1:3] == ["role", "add"]:
            self.call("POST", "/access/roles", roleid=words[3], **options)
        elif words[1:3] == ["role", "modify"]:
            self.call("PUT", f"/access/roles/{words[3]}", **options)
        else:
            raise AssertionError(command)


def test_a_healthy_setup_is_all_green_and_exits_0(served_sim: dict[str, str]) -> None:
    code, checks = report(served_sim)
    assert code == 0
    assert list(checks) == CHECKS
    assert statuses(checks) == {
        **dict.fromkeys(CHECKS, "GREEN"),
        "ssh": "SKIP",  # no SSH settings
        "clients": "SKIP",  # no client configuration in this HOME or directory
    }
    assert "environment only" in checks["config"]["detail"]
    assert checks["reach"]["data"]["fingerprint"] == served_sim["PROXMOX_TLS_FINGERPRINT"].upper()
    assert checks["version"]["data"]["major"] == 9
    assert checks["privileges"]["data"]["not_usable"] == 0
    assert checks["inventory"]["data"]["nodes"] == ["pve1", "pve2", "pve3"]
    assert checks["selftest"]["data"]["called"] == "pve_list_nodes"
    assert "pvemcp setup" in checks["clients"]["detail"]
    table = doctor(served_sim)
    assert table.exit_code == 0
    assert "7 passed, 0 failed, 2 skipped: all good" in table.output
    assert served_sim["PROXMOX_TOKEN_SECRET"] not in table.output


def test_a_wrong_secret_makes_auth_red_with_the_fix_and_exits_1(served_sim: dict[str, str]) -> None:
    wrong = {**served_sim, "PROXMOX_TOKEN_SECRET": "00000000-0000-4000-8000-000000000000"}
    code, checks = report(wrong)
    assert code == 1
    assert checks["auth"]["status"] == "RED"
    assert "401" in checks["auth"]["detail"]
    assert "PROXMOX_TOKEN_SECRET" in checks["auth"]["fix"]
    assert statuses(checks)["reach"] == "GREEN"
    assert {statuses(checks)[name] for name in ("version", "privileges", "inventory", "selftest")} == {"SKIP"}
    table = doctor(wrong)
    assert "fix: check the token ID root@pam!pvemcp and its secret" in table.output
    assert "00000000-0000-4000-8000-000000000000" not in table.output


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_port_makes_reach_red(served_sim: dict[str, str]) -> None:
    code, checks = report({**served_sim, "PROXMOX_PORT": str(_closed_port())})
    assert code == 1
    assert checks["reach"]["status"] == "RED"
    assert "nothing accepts connections" in checks["reach"]["detail"]
    assert "PROXMOX_PORT" in checks["reach"]["fix"]
    assert statuses(checks)["auth"] == "SKIP" and checks["auth"]["data"]["blocked_by"] == "reach"


def test_a_wrong_fingerprint_makes_reach_red_and_names_the_presented_certificate(served_sim: dict[str, str]) -> None:
    code, checks = report({**served_sim, "PROXMOX_TLS_FINGERPRINT": WRONG_FINGERPRINT})
    assert code == 1
    reach = checks["reach"]
    assert reach["status"] == "RED"
    actual = served_sim["PROXMOX_TLS_FINGERPRINT"].upper()
    assert f"presented       {actual}\nnot the pinned  {WRONG_FINGERPRINT} (from the environment)" in reach["detail"]
    assert "Node > System > Certificates" in reach["fix"]
    assert f"set PROXMOX_TLS_FINGERPRINT={actual} where pvemcp is started" in reach["fix"]
    assert actual in reach["copy"]


def test_an_unpinned_self_signed_certificate_is_explained(served_sim: dict[str, str]) -> None:
    env = {k: v for k, v in served_sim.items() if k != "PROXMOX_TLS_FINGERPRINT"}
    code, checks = report(env, "--check", "reach,auth")
    assert code == 1
    assert "self-signed" in checks["reach"]["detail"]
    assert f"PROXMOX_TLS_FINGERPRINT={served_sim['PROXMOX_TLS_FINGERPRINT'].upper()}" in checks["reach"]["fix"]
    assert checks["auth"]["status"] == "SKIP"


def test_a_check_whose_prerequisite_is_not_selected_is_red_not_hidden(served_sim: dict[str, str]) -> None:
    code, checks = report({**served_sim, "PROXMOX_TOKEN_SECRET": "wrong-secret-1"}, "--check", "inventory")
    assert code == 1
    assert list(checks) == ["inventory"]
    assert checks["inventory"]["status"] == "RED" and checks["inventory"]["data"]["blocked_by"] == "auth"


def test_settings_from_a_config_file_and_its_profile_are_checked(
    served_sim: dict[str, str], clean_environment: Path
) -> None:
    folder = clean_environment / ".pvemcp"
    folder.mkdir()
    settings = {k.lower(): v for k, v in served_sim.items() if k != "PROXMOX_TOKEN_SECRET"}
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items() if key != "proxmox_port"]
    text = "\n".join(lines) + f"\n\n[profiles.lab]\nproxmox_port = {served_sim['PROXMOX_PORT']}\n"
    (folder / "config.toml").write_text(text)
    env = {"PROXMOX_TOKEN_SECRET": served_sim["PROXMOX_TOKEN_SECRET"]}
    code, checks = report(env, "--profile", "lab", "--check", "config,reach,auth")
    assert code == 0, checks
    assert f"file {folder / 'config.toml'}, profile 'lab'" in checks["config"]["detail"]
    assert "secret from the environment" in checks["config"]["detail"]
    code, checks = report(env, "--profile", "nope", "--check", "config,auth")
    assert code == 1
    assert checks["config"]["status"] == "RED" and "nope" in checks["config"]["detail"]
    assert checks["auth"]["status"] == "SKIP"


def test_a_configuration_error_is_red_with_every_problem_and_the_rest_skip() -> None:
    code, checks = report({"PROXMOX_HOST": "https://pve1:8006", "PVE_ACCESS_TIER": "admin"})
    assert code == 1
    config = checks["config"]
    assert config["status"] == "RED"
    assert "PROXMOX_HOST='https://pve1:8006'" in config["detail"] and "PVE_ACCESS_TIER" in config["detail"]
    assert "PROXMOX_USER is not set" in config["detail"]
    assert len(config["data"]["problems"]) >= 4
    later = ["reach", "version", "auth", "privileges", "inventory", "ssh", "selftest"]
    assert {checks[name]["status"] for name in later} == {"SKIP"}


def test_json_is_one_document_with_every_check_named() -> None:
    result = doctor({}, "--sandbox", "--json")
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert set(document) == {"pvemcp", "ok", "checks"} and document["ok"] is True
    assert [c["name"] for c in document["checks"]] == CHECKS
    for check in document["checks"]:
        assert set(check) == {"name", "status", "detail", "fix", "data", "copy"}
        assert check["status"] in ("GREEN", "RED", "SKIP")
        assert check["fix"] is None or check["status"] == "RED"
    assert document["checks"][1]["status"] == "SKIP"  # the sandbox has no network to reach


def test_check_selects_and_orders_and_unknown_names_are_a_usage_error() -> None:
    code, checks = report({}, "--sandbox", "--check", "selftest, config")
    assert code == 0 and list(checks) == ["config", "selftest"]
    refused = doctor({}, "--check", "auth,tls,nodes")
    assert refused.exit_code == 2
    assert "unknown check(s) nodes, tls" in refused.output
    assert "valid checks: " + ", ".join(CHECKS) in refused.output


def _client_file(work: Path, command: str) -> Path:
    path = work / ".mcp.json"
    entry = {"type": "stdio", "command": command, "args": ["run"]}
    path.write_text(json.dumps({"mcpServers": {"pvemcp": entry, "other": {"command": "node", "args": ["x.js"]}}}))
    return path


def test_a_client_file_pointing_at_this_installation_is_green(clean_environment: Path) -> None:
    path = _client_file(clean_environment, pvemcp_command())
    code, checks = report({}, "--check", "clients")
    assert code == 0
    clients = checks["clients"]
    assert clients["status"] == "GREEN"
    assert clients["data"]["entries"] == [
        {"client": "claude-code", "file": str(path), "name": "pvemcp", "verdict": "this", "command": pvemcp_command()}
    ]


def test_a_client_file_pointing_at_a_missing_pvemcp_is_red_with_the_fix(clean_environment: Path) -> None:
    path = _client_file(clean_environment, "/opt/gone/bin/pvemcp")
    code, checks = report({}, "--check", "clients")
    assert code == 1
    clients = checks["clients"]
    assert clients["status"] == "RED"
    assert "runs /opt/gone/bin/pvemcp, which does not exist" in clients["detail"]
    assert clients["fix"] == f'set "command" to {pvemcp_command()} in {path} (or rerun `pvemcp setup` for that client)'


def _ssh_env(served_sim: dict[str, str], sshd: Sshd, **extra: str) -> dict[str, str]:
    return {
        **served_sim,
        "PROXMOX_SSH_HOST": sshd.host,
        "PROXMOX_SSH_PORT": str(sshd.port),
        "PROXMOX_SSH_USER": sshd.user,
        "PROXMOX_SSH_KEY_PATH": str(sshd.key_path),
        "PROXMOX_SSH_KNOWN_HOSTS": str(sshd.known_hosts),
        **extra,
    }


def test_ssh_is_green_when_the_node_answers_with_a_known_key_and_has_pct(
    served_sim: dict[str, str], sshd: Sshd
) -> None:
    code, checks = report(_ssh_env(served_sim, sshd), "--check", "ssh")
    assert code == 0, checks
    ssh = checks["ssh"]
    assert ssh["status"] == "GREEN"
    assert ssh["data"]["pct"].endswith("/pct")
    assert "reachable, host key trusted, pct at" in ssh["detail"]


def test_ssh_with_an_unknown_host_key_is_red_and_records_nothing(
    served_sim: dict[str, str], sshd: Sshd, tmp_path: Path
) -> None:
    known = tmp_path / "empty_known_hosts"
    code, checks = report(_ssh_env(served_sim, sshd, PROXMOX_SSH_KNOWN_HOSTS=str(known)), "--check", "ssh")
    assert code == 1
    assert checks["ssh"]["status"] == "RED"
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1" in checks["ssh"]["fix"]
    assert not known.exists()
