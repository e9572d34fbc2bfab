"""Start-up configuration: every problem reported at once, never a traceback, secrets kept out."""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pvemcp.config import ConfigError, load_config
from pvemcp.config.table import int_default, number_default
from pvemcp.pve.tls import normalize_fingerprint
from pvemcp.ssh.settings import SshSettings

GOOD = {
    "PROXMOX_HOST": "pve.example.test",
    "PROXMOX_USER": "svc",
    "PROXMOX_REALM": "pve",
    "PROXMOX_TOKEN_NAME": "mcp",
    "PROXMOX_TOKEN_SECRET": "0f8e1d2c-aaaa-bbbb-cccc-1234567890ab",
}


def test_a_complete_configuration_builds_the_target_with_verification_on() -> None:
    config = load_config(GOOD)
    assert config.target is not None
    assert config.target.base_url == "https://pve.example.test:8006"
    assert config.target.token.header == "PVEAPIToken=svc@pve!mcp=0f8e1d2c-aaaa-bbbb-cccc-1234567890ab"
    assert not config.target.tls.insecure and config.target.tls.fingerprint is None
    assert "0f8e1d2c" not in repr(config)


def test_every_problem_is_listed_together() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"PROXMOX_PORT": "eighty", "PROXMOX_ALLOW_INSECURE_TLS": "maybe", "PROXMOX_HOST": "https://x/"})
    problems = caught.value.problems
    assert any("PROXMOX_USER is not set" in p for p in problems)
    assert any("PROXMOX_TOKEN_SECRET is not set" in p for p in problems)
    assert any("PROXMOX_PORT='eighty'" in p for p in problems)
    assert any("PROXMOX_ALLOW_INSECURE_TLS='maybe'" in p for p in problems)
    assert any("PROXMOX_HOST='https://x/'" in p for p in problems)


@pytest.mark.parametrize(
    "text",
    [
        "AB:" * 31 + "CD",
        ("ab" * 32),
        "sha256=" + "AB" * 32,
    ],
)
def test_a_fingerprint_is_accepted_as_proxmox_shows_it_or_as_plain_hex(text: str) -> None:
    assert len(normalize_fingerprint(text)) == 64
    config = load_config({**GOOD, "PROXMOX_TLS_FINGERPRINT": text})
    assert config.target is not None and config.target.tls.fingerprint == normalize_fingerprint(text)


def test_a_missing_ca_file_is_a_problem() -> None:
    with pytest.raises(ConfigError, match="PROXMOX_TLS_CA_FILE"):
        load_config({**GOOD, "PROXMOX_TLS_CA_FILE": "/nonexistent/ca.pem"})


def test_sandbox_needs_no_proxmox_settings() -> None:
    config = load_config({"PVE_SANDBOX": "true"})
    assert config.sandbox and config.target is None


def test_pvemcp_run_with_bad_settings_exits_with_one_message_and_no_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXMOX_", "PVE_"))}
    env.update({"PROXMOX_TOKEN_SECRET": "s3cr3t-value", "PVE_ACCESS_TIER": "everything"})
    proc = subprocess.run(
        [sys.executable, "-m", "pvemcp", "run"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert "PROXMOX_HOST is not set" in proc.stderr and "PVE_ACCESS_TIER='everything'" in proc.stderr
    assert "s3cr3t-value" not in proc.stderr


@pytest.mark.anyio
async def test_insecure_tls_logs_a_warning_when_the_client_is_built(caplog: pytest.LogCaptureFixture) -> None:
    from pvemcp.compose import make_client

    config = load_config({**GOOD, "PROXMOX_ALLOW_INSECURE_TLS": "true"})
    assert config.target is not None and config.target.tls.insecure
    with caplog.at_level(logging.WARNING, logger="pvemcp"):
        client = make_client(config)
    await client.aclose()
    assert "NOT verified" in caplog.text
    assert "0f8e1d2c" not in caplog.text


def test_a_pin_wins_over_insecure_mode() -> None:
    config = load_config({**GOOD, "PROXMOX_ALLOW_INSECURE_TLS": "true", "PROXMOX_TLS_FINGERPRINT": "ab" * 32})
    assert config.target is not None
    assert config.target.tls.fingerprint == "ab" * 32 and not config.target.tls.insecure


def test_safety_settings_default_to_auto_confirmation_an_open_scope_and_an_audit_log_in_the_state_dir() -> None:
    config = load_config({**GOOD, "HOME": "/home/admin"})
    assert config.confirm_mode == "auto"
    assert not config.scope.restricted and config.scope.protected_tag == "pvemcp-protected"
    assert str(config.audit_path) == "/home/admin/.local/state/pvemcp/audit.jsonl"
    assert not config.audit_reads
    xdg = load_config({**GOOD, "XDG_STATE_HOME": "/var/lib/state"})
    assert str(xdg.audit_path) == "/var/lib/state/pvemcp/audit.jsonl"
    assert load_config({**GOOD, "PVE_AUDIT_LOG": "off"}).audit_path is None


def test_the_scope_is_read_from_node_names_and_vmid_ranges() -> None:
    config = load_config(
        {**GOOD, "PVE_ALLOWED_NODES": "pve1, pve2", "PVE_ALLOWED_VMIDS": "100-199,300", "PVE_PROTECTED_TAG": ""}
    )
    scope = config.scope
    assert scope.restricted and scope.nodes == frozenset({"pve1", "pve2"})
    assert [scope.allows_vmid(v) for v in (99, 100, 199, 200, 300, 301)] == [False, True, True, False, True, False]
    assert scope.allows_node("pve2") and not scope.allows_node("pve3")
    assert scope.protected_tag is None


def test_bad_safety_settings_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(
            {
                **GOOD,
                "PVE_CONFIRM_MODE": "sometimes",
                "PVE_ALLOWED_VMIDS": "100-50,abc,42",
                "PVE_ALLOWED_NODES": "pve1,bad/name",
                "PVE_AUDIT_LOG": str(tmp_path),
                "PVE_AUDIT_READS": "perhaps",
            }
        )
    problems = "\n".join(caught.value.problems)
    for expected in (
        "PVE_CONFIRM_MODE='sometimes'",
        "'100-50'",
        "'abc'",
        "'42'",
        "bad/name",
        "is a directory",
        "PVE_AUDIT_READS='perhaps'",
    ):
        assert expected in problems


SSH = {"PROXMOX_SSH_HOST": "pve1.example.test", "PROXMOX_SSH_USER": "root", "PROXMOX_SSH_KEY_PATH": "/keys/pvemcp"}


def test_ssh_settings_turn_the_ssh_tools_on_and_pve_ssh_off_hides_them() -> None:
    config = load_config({**GOOD, **SSH, "PROXMOX_SSH_NODE_HOSTS": "pve2=10.0.0.2"})
    assert config.ssh is not None and config.policy.ssh
    assert (config.ssh.port, dict(config.ssh.node_hosts)) == (22, {"pve2": "10.0.0.2"})
    assert not load_config({**GOOD, **SSH, "PVE_SSH": "off"}).policy.ssh
    assert load_config(GOOD).ssh is None  # no SSH host: the SSH tools are simply not offered


def test_ssh_settings_are_required_only_when_an_ssh_tool_would_be_exposed() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**GOOD, "PROXMOX_SSH_HOST": "pve1", "PROXMOX_SSH_USER": "-oProxyCommand=x"})
    problems = "\n".join(caught.value.problems)
    assert "PROXMOX_SSH_KEY_PATH is not set" in problems and "PROXMOX_SSH_USER='-oProxyCommand=x'" in problems
    hidden = load_config({**GOOD, "PROXMOX_SSH_HOST": "pve1", "PVE_CATEGORIES": "qemu"})
    assert hidden.ssh is None and not hidden.policy.ssh
    with pytest.raises(ConfigError, match="PROXMOX_SSH_HOST is not set"):
        load_config({**GOOD, "PVE_SSH": "on"})


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("PROXMOX_SSH_PORT", "22.5", "PROXMOX_SSH_PORT='22.5' must be a whole number from 1 to 65535"),
        ("PROXMOX_PORT", "8006.0", "PROXMOX_PORT='8006.0' must be a whole number from 1 to 65535"),
        ("PVE_RESULT_MAX_BYTES", "40000.5", "PVE_RESULT_MAX_BYTES='40000.5' must be a whole number from 2000 to"),
        ("PVE_SSH_MAX_OUTPUT_BYTES", "1_048_576", "PVE_SSH_MAX_OUTPUT_BYTES='1_048_576' must be a whole number"),
        ("PROXMOX_TIMEOUT", "nan", "PROXMOX_TIMEOUT='nan' is not a number"),
        ("PROXMOX_TIMEOUT", "1e3", "PROXMOX_TIMEOUT='1e3' is not a number"),
        ("PROXMOX_TIMEOUT", "0.5", "PROXMOX_TIMEOUT='0.5' must be a number from 1 to 600"),
        ("PROXMOX_SSH_TRUST_ON_FIRST_USE", "t", "PROXMOX_SSH_TRUST_ON_FIRST_USE='t' is not a boolean"),
    ],
)
def test_one_rule_for_every_number_and_boolean(name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**GOOD, **SSH, "PVE_ACCESS_TIER": "full", name: value})
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_seconds_take_decimals_and_booleans_any_case() -> None:
    config = load_config({**GOOD, **SSH, "PROXMOX_TIMEOUT": "2.5", "PROXMOX_SSH_TRUST_ON_FIRST_USE": "YES"})
    assert config.target is not None and config.target.timeout == 2.5
    assert config.ssh is not None and config.ssh.trust_on_first_use


def test_a_setting_the_configuration_does_not_use_is_not_judged() -> None:
    assert load_config({**GOOD, "PVE_SSH": "off", "PROXMOX_SSH_PORT": "22.5"}).ssh is None


def test_config_imports_neither_the_http_transport_nor_heavy_libraries() -> None:
    """pvemcp.config is on the stdio start path; the HTTP layer builds on it, never the other way round."""
    code = (
        "import sys, pvemcp.config;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('asyncssh', 'rich', 'jsonschema',"
        " 'pydantic_settings') or m == 'pvemcp.http' or m.startswith('pvemcp.http.')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]"
    source = Path(__file__).resolve().parents[1] / "src" / "pvemcp"
    for path in (source / "config").rglob("*.py"):
        assert not [m for m in imported(path) if m.startswith("pvemcp.http")], path
    for path in (source / "server").rglob("*.py"):
        assert not [m for m in imported(path) if m.startswith("pvemcp.config")], path


def imported(path: Path) -> list[str]:
    """Every module a file imports, at any depth (TYPE_CHECKING blocks and functions included)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return names


def test_the_ssh_defaults_are_the_tables() -> None:
    """SshSettings sits below the configuration and repeats its defaults; they must agree."""
    ssh = SshSettings(host="h", user="u", key_path=Path("k"))
    assert ssh.port == int_default("PROXMOX_SSH_PORT")
    assert ssh.max_output_bytes == int_default("PVE_SSH_MAX_OUTPUT_BYTES")
    assert ssh.connect_timeout == number_default("PROXMOX_SSH_CONNECT_TIMEOUT")
    assert ssh.command_timeout == number_default("PVE_SSH_COMMAND_TIMEOUT")
