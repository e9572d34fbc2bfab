"""The configuration file: found where expected, under the environment, and every fault reported at once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pvemcp.config import ConfigError, load_config
from pvemcp.config.file import MAX_BYTES, read_settings, write_config
from pvemcp.http.settings import load_http_config

SECRET = "0f8e1d2c-aaaa-bbbb-cccc-1234567890ab"
CLUSTER = f"""
proxmox_host = "pve1.example.test"
proxmox_user = "svc"
proxmox_realm = "pve"
proxmox_token_name = "mcp"
proxmox_token_secret = "{SECRET}"
pve_access_tier = "read-execute"
pve_allowed_vmids = [100, "200-299"]
mcp_rate_limit_max = 50
pve_audit_reads = true

[profiles.lab]
proxmox_host = "lab.example.test"
pve_access_tier = "full"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_user_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    write(tmp_path / "home" / ".config" / "pvemcp" / "config.toml", CLUSTER)
    config = load_config({"HOME": str(tmp_path / "home"), "PVE_ACCESS_TIER": "read-only"})
    assert config.target is not None and config.target.base_url == "https://pve1.example.test:8006"
    assert config.policy.tier.label == "read-only"  # the environment over the file
    assert config.scope.vmids == ((100, 100), (200, 299)) and config.audit_reads


def test_a_project_file_comes_before_the_user_file(tmp_path: Path) -> None:
    write(tmp_path / "home" / ".config" / "pvemcp" / "config.toml", CLUSTER)
    write(tmp_path / "proj" / ".pvemcp" / "config.toml", CLUSTER.replace("pve1.example.test", "proj.example.test"))
    config = load_config({"HOME": str(tmp_path / "home")}, cwd=tmp_path / "proj")
    assert config.target is not None and "proj.example.test" in config.target.base_url


def test_a_profile_overrides_the_top_level(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", CLUSTER)
    config = load_config({"PVEMCP_CONFIG": str(path)}, profile="lab")
    assert config.target is not None and "lab.example.test" in config.target.base_url
    assert config.policy.tier.label == "full"
    assert load_config({"PVEMCP_CONFIG": str(path), "PVEMCP_PROFILE": "lab"}).policy.tier.label == "full"
    with pytest.raises(ConfigError, match=r"profile 'prod' is not in .* \(profiles there: lab\)"):
        load_config({"PVEMCP_CONFIG": str(path)}, profile="prod")


def test_the_secret_may_live_in_a_file_of_its_own(tmp_path: Path) -> None:
    secret_file = write(tmp_path / "secret", SECRET + "\n")
    text = CLUSTER.replace(f'proxmox_token_secret = "{SECRET}"', f'proxmox_token_secret_file = "{secret_file}"')
    config = load_config({"PVEMCP_CONFIG": str(write(tmp_path / "c.toml", text))})
    assert config.target is not None and config.target.token.secret == SECRET
    with pytest.raises(ConfigError, match=r"PROXMOX_TOKEN_SECRET_FILE=.* cannot be read"):
        load_config({"PVEMCP_CONFIG": str(tmp_path / "c.toml"), "PROXMOX_TOKEN_SECRET_FILE": str(tmp_path / "no")})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "PVEMCP_CONFIG is set but empty"),
        ("   ", "PVEMCP_CONFIG is set but empty"),
        ("/tmp/a\x07b.toml", "control characters"),
        ("/nonexistent/pvemcp.toml", "is not a readable file"),
    ],
)
def test_a_named_file_that_cannot_be_used_is_a_problem_not_a_fallback(value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_config({"PVEMCP_CONFIG": value}, sandbox=True)


def test_a_directory_or_an_oversized_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a readable file"):
        load_config({"PVEMCP_CONFIG": str(tmp_path)}, sandbox=True)
    big = write(tmp_path / "big.toml", "# " + "x" * MAX_BYTES + "\n")
    with pytest.raises(ConfigError, match="at most 65536"):
        load_config({"PVEMCP_CONFIG": str(big)}, sandbox=True)


def test_every_fault_in_the_file_is_listed_together(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        """
proxmox_hots = "pve1"
pve_access_tier = { level = "full" }
mcp_port = 3000

[profiles.lab]
pve_acess_tier = "full"
""",
    )
    problems: list[str] = []
    settings = read_settings(path, None, problems)
    assert settings == {"MCP_PORT": "3000"}
    text = "\n".join(problems)
    assert "unknown key 'proxmox_hots' (did you mean 'proxmox_host'?)" in text
    assert "pve_access_tier must be a string, number, boolean or list of strings, not a dict" in text
    assert "[profiles.lab]: unknown key 'pve_acess_tier' (did you mean 'pve_access_tier'?)" in text
    with pytest.raises(ConfigError) as caught:  # file faults and value faults come out together
        load_config({"PVEMCP_CONFIG": str(path), "PVE_LOG_LEVEL": "loud"}, sandbox=True)
    assert len(caught.value.problems) == 4


def test_malformed_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'proxmox_host = "pve1\n')
    with pytest.raises(ConfigError, match=r"is not valid TOML: .*line 1"):
        load_config({"PVEMCP_CONFIG": str(path)}, sandbox=True)


def test_a_file_never_sets_where_files_are_looked_for(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'pvemcp_config = "/etc/other.toml"\nhome = "/"\n')
    problems: list[str] = []
    read_settings(path, None, problems)
    assert len(problems) == 2 and all("unknown key" in p for p in problems)


def test_written_files_are_private_merged_and_ignored_by_git(tmp_path: Path) -> None:
    path = tmp_path / "proj" / ".pvemcp" / "config.toml"
    write(tmp_path / "proj" / ".gitignore", "node_modules/")
    write_config(path, {"PROXMOX_HOST": "pve1", "PROXMOX_TOKEN_SECRET": SECRET})
    write_config(path, {"PROXMOX_HOST": "lab"}, profile="lab")
    write_config(path, {"PVE_ACCESS_TIER": "full"}, profile="lab")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    problems: list[str] = []
    assert read_settings(path, "lab", problems) == {
        "PROXMOX_HOST": "lab",
        "PROXMOX_TOKEN_SECRET": SECRET,
        "PVE_ACCESS_TIER": "full",
    }
    assert not problems
    assert (tmp_path / "proj" / ".gitignore").read_text() == "node_modules/\n.pvemcp/\n"
    write_config(path, {"PROXMOX_PORT": "8006"})
    assert (tmp_path / "proj" / ".gitignore").read_text().count(".pvemcp/") == 1


def test_an_explicit_mapping_is_read_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PVE_ACCESS_TIER", "full")
    monkeypatch.setenv("MCP_PORT", "4000")
    assert load_config({}, sandbox=True).policy.tier.label == "read-only"
    assert load_config(sandbox=True).policy.tier.label == "full"  # None: the process environment
    assert load_http_config({}, sandbox=True).http.port == 3000


def test_a_value_from_the_file_is_judged_like_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'proxmox_ssh_port = 22.5\npve_ssh = "on"\npve_audit_reads = "maybe"\n')
    with pytest.raises(ConfigError) as caught:
        load_config({"PVEMCP_CONFIG": str(path), "PVE_ACCESS_TIER": "full"}, sandbox=True)
    problems = "\n".join(caught.value.problems)
    assert "PROXMOX_SSH_PORT='22.5' must be a whole number from 1 to 65535" in problems
    assert "PVE_AUDIT_READS='maybe' is not a boolean" in problems
