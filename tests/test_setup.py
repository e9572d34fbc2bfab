"""`pvemcp setup` end to end: the wizard and the scripted mode against `pvemcp sim serve` over HTTPS.

HOME points at a temporary folder and the working directory is a temporary project, so every file setup
writes lands there; each test reads those files back, checks their modes, and loads the configuration the
way `pvemcp run` does before calling the simulator with it.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner, Result
from mcp import Client, StdioServerParameters

from pvemcp.cli.main import cli
from pvemcp.config import Config, load_config
from pvemcp.config.table import BY_NAME, SETUP_KEYS
from pvemcp.pve.client import ApiToken, ProxmoxClient
from pvemcp.pve.tls import TlsConfig, normalize_fingerprint
from pvemcp.setup.plan import MANAGED_KEYS, make_plan, render_plan, settings_for
from pvemcp.setup.steps import Answers
from pvesim.builder import DEFAULT_SECRET
from tests.conftest import BIN, WRONG_CANARY, payload

TOKEN_ID = "root@pam!pvemcp"


@dataclass(frozen=True)
class Place:
    home: Path
    project: Path

    @property
    def user_config(self) -> Path:
        return self.home / ".config" / "pvemcp" / "config.toml"

    @property
    def project_config(self) -> Path:
        return self.project / ".pvemcp" / "config.toml"

    def files(self) -> list[Path]:
        return sorted(p for root in (self.home, self.project) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Place:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    for name in list(os.environ):
        if name.startswith(("PROXMOX_", "PVE_", "PVEMCP_", "MCP_")) or name in ("XDG_CONFIG_HOME", "APPDATA"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)
    return Place(home, project)


def invoke(args: list[str], text: str = "") -> Result:
    result = CliRunner().invoke(cli, ["setup", *args], input=text)
    for secret in (DEFAULT_SECRET, WRONG_CANARY):
        assert secret not in result.output, "the token secret was printed"
    return result


def lines(*answers: str) -> str:
    return "".join(f"{answer}\n" for answer in answers)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def reach(config: Config) -> str:
    """GET /version with the loaded configuration, as `pvemcp run` would connect."""
    target = config.target
    assert target is not None

    async def version() -> str:
        client = ProxmoxClient(target.base_url, target.token, tls=target.tls, timeout=target.timeout)
        try:
            return str((await client.get("/version"))["version"])
        finally:
            await client.aclose()

    return anyio.run(version)


def scripted(sim: dict[str, str], *extra: str) -> list[str]:
    return ["--yes", "--host", sim["PROXMOX_HOST"], "--port", sim["PROXMOX_PORT"], "--token-id", TOKEN_ID, *extra]


def test_wizard_pins_the_presented_certificate_and_writes_project_files(
    served_sim: dict[str, str], place: Place
) -> None:
    (place.project / ".gitignore").write_text("build/\n")
    answers = lines(
        served_sim["PROXMOX_HOST"],
        served_sim["PROXMOX_PORT"],
        "",  # TLS: the offered default, fingerprint (the certificate is self-signed)
        "y",  # it matches
        TOKEN_ID,
        served_sim["PROXMOX_TOKEN_SECRET"],
        "",  # tier: read-only
        "",  # module: core
        "",  # no SSH
        "project",
        "",  # no profile
        "inline",  # the secret in the config file itself
        "claude-code,vscode,cursor",
        "",  # write them
    )
    result = invoke([], answers)

    assert result.exit_code == 0, result.output
    assert "privilege separation" in result.output
    assert served_sim["PROXMOX_TLS_FINGERPRINT"] in result.output
    assert "✓ Proxmox VE" in result.output
    assert "3 node(s) visible" in result.output
    config = tomllib.loads(place.project_config.read_text())
    assert config == {
        "proxmox_host": served_sim["PROXMOX_HOST"],
        "proxmox_port": served_sim["PROXMOX_PORT"],
        "proxmox_user": "root",
        "proxmox_realm": "pam",
        "proxmox_token_name": "pvemcp",
        "pve_access_tier": "read-only",
        "pve_module_mode": "core",
        "proxmox_token_secret": served_sim["PROXMOX_TOKEN_SECRET"],
        "proxmox_tls_fingerprint": served_sim["PROXMOX_TLS_FINGERPRINT"],
    }
    assert mode(place.project_config) == 0o600
    assert (place.project / ".gitignore").read_text() == "build/\n.pvemcp/\n"

    code = json.loads((place.project / ".mcp.json").read_text())["mcpServers"]["pvemcp"]
    assert code["type"] == "stdio" and code["args"] == ["run"] and "env" not in code
    assert Path(code["command"]).name == "pvemcp"
    vscode = json.loads((place.project / ".vscode" / "mcp.json").read_text())["servers"]["pvemcp"]
    assert vscode["args"] == ["run"] and "env" not in vscode
    cursor = json.loads((place.home / ".cursor" / "mcp.json").read_text())["mcpServers"]["pvemcp"]
    assert cursor["env"] == {"PVEMCP_CONFIG": str(place.project_config)}  # it does not start in the project
    for client_file in (place.project / ".mcp.json", place.project / ".vscode" / "mcp.json"):
        assert mode(client_file) == 0o600
        assert served_sim["PROXMOX_TOKEN_SECRET"] not in client_file.read_text()

    loaded = load_config({"HOME": str(place.home)}, cwd=place.project)
    assert loaded.target is not None
    assert loaded.target.tls.fingerprint == normalize_fingerprint(served_sim["PROXMOX_TLS_FINGERPRINT"])
    assert reach(loaded) == reach(load_config({"PVEMCP_CONFIG": cursor["env"]["PVEMCP_CONFIG"]}))


def test_scripted_setup_merges_into_a_client_file_and_keeps_a_backup(served_sim: dict[str, str], place: Place) -> None:
    desktop = place.home / ".config" / "Claude" / "claude_desktop_config.json"
    desktop.parent.mkdir(parents=True)
    before: dict[str, Any] = {"theme": "dark", "mcpServers": {"files": {"command": "mcp-files", "args": ["/srv"]}}}
    desktop.write_text(json.dumps(before))
    args = scripted(served_sim, "--secret-stdin", "--accept-fingerprint", "--tier", "read-execute")
    result = invoke(
        [*args, "--profile", "lab", "--client", "claude-desktop"], served_sim["PROXMOX_TOKEN_SECRET"] + "\n"
    )

    assert result.exit_code == 0, result.output
    assert "Pinned the certificate the server presents" in result.output
    after = json.loads(desktop.read_text())
    assert after["theme"] == "dark"
    assert after["mcpServers"]["files"] == before["mcpServers"]["files"]
    entry = after["mcpServers"]["pvemcp-lab"]
    assert entry["args"] == ["run", "--profile", "lab"] and "env" not in entry  # the default user file
    backups = list(desktop.parent.glob("claude_desktop_config.json.*.bak"))
    assert len(backups) == 1 and json.loads(backups[0].read_text()) == before
    assert mode(desktop) == 0o600

    document = tomllib.loads(place.user_config.read_text())
    assert set(document) == {"profiles"}
    assert document["profiles"]["lab"]["pve_access_tier"] == "read-execute"
    assert mode(place.user_config) == 0o600
    loaded = load_config({"HOME": str(place.home)}, profile="lab")
    assert loaded.policy.tier.label == "read-execute"
    assert reach(loaded)


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (["--accept-fingerprint"], "PROXMOX_AUTH_FAILED"),
        (["--tls", "verify"], "TLS_ERROR"),
        (["--fingerprint", "AB" * 32], "TLS_ERROR"),
    ],
    ids=["wrong-secret", "self-signed-unverified", "wrong-pin"],
)
def test_a_failed_live_check_explains_and_writes_nothing(
    served_sim: dict[str, str], place: Place, extra: list[str], code: str
) -> None:
    secret = WRONG_CANARY if code == "PROXMOX_AUTH_FAILED" else served_sim["PROXMOX_TOKEN_SECRET"]
    result = invoke([*scripted(served_sim, "--secret-stdin", *extra), "--client", "claude-code"], secret + "\n")

    assert result.exit_code == 1, result.output
    assert f"GET /version failed [{code}]" in result.output
    assert "hint:" in result.output
    assert "Nothing was written" in result.output
    assert place.files() == []


def test_wizard_lets_the_user_fix_a_wrong_secret(served_sim: dict[str, str], place: Place) -> None:
    first = lines(served_sim["PROXMOX_HOST"], served_sim["PROXMOX_PORT"], "", "y", TOKEN_ID, WRONG_CANARY, "", "", "")
    # fix: Enter keeps each answer (the pin already matches, so it is not asked again), then the right secret
    second = lines("", "", "", "", served_sim["PROXMOX_TOKEN_SECRET"], "", "", "")
    result = invoke([], first + lines("fix") + second + lines("", "", "", "", ""))

    assert result.exit_code == 0, result.output
    assert "[PROXMOX_AUTH_FAILED]" in result.output
    assert "✓ Proxmox VE" in result.output
    assert place.files() == [place.user_config, place.user_config.parent / "default.token-secret"]
    assert reach(load_config({"HOME": str(place.home)}))


def test_print_config_prints_and_writes_nothing(served_sim: dict[str, str], place: Place) -> None:
    args = scripted(served_sim, "--secret-stdin", "--accept-fingerprint", "--print-config")
    result = invoke([*args, "--client", "claude-code", "--client", "generic"], served_sim["PROXMOX_TOKEN_SECRET"])

    assert result.exit_code == 0, result.output
    assert f'proxmox_host = "{served_sim["PROXMOX_HOST"]}"' in result.output
    assert f'proxmox_tls_fingerprint = "{served_sim["PROXMOX_TLS_FINGERPRINT"]}"' in result.output
    assert '"<token secret: not shown>"' in result.output
    assert '"mcpServers"' in result.output and "Nothing was written" in result.output
    assert place.files() == []


def test_secret_to_file_keeps_the_secret_out_of_the_config(
    served_sim: dict[str, str], place: Place, tmp_path: Path
) -> None:
    source = tmp_path / "secret.txt"
    source.write_text(served_sim["PROXMOX_TOKEN_SECRET"] + "\n")
    fingerprint = ["--fingerprint", served_sim["PROXMOX_TLS_FINGERPRINT"]]
    result = invoke([*scripted(served_sim, "--secret-file", str(source), "--secret-to-file", *fingerprint)])

    assert result.exit_code == 0, result.output
    document = tomllib.loads(place.user_config.read_text())
    secret_file = Path(document["proxmox_token_secret_file"])
    assert "proxmox_token_secret" not in document
    assert secret_file.parent == place.user_config.parent
    assert secret_file.read_text() == served_sim["PROXMOX_TOKEN_SECRET"] + "\n"
    assert mode(secret_file) == 0o600
    assert reach(load_config({"HOME": str(place.home)}))


def test_a_profile_hides_top_level_settings_it_does_not_use(served_sim: dict[str, str], place: Place) -> None:
    secret = served_sim["PROXMOX_TOKEN_SECRET"] + "\n"
    assert invoke(scripted(served_sim, "--secret-stdin", "--accept-fingerprint"), secret).exit_code == 0
    result = invoke([*scripted(served_sim, "--secret-stdin", "--tls", "insecure"), "--profile", "lax"], secret)

    assert result.exit_code == 0, result.output
    assert "certificate checks are off" in result.output
    top = load_config({"HOME": str(place.home)})
    lax = load_config({"HOME": str(place.home)}, profile="lax")
    assert top.target is not None and top.target.tls.fingerprint is not None
    assert lax.target is not None and lax.target.tls.fingerprint is None and lax.target.tls.insecure
    assert reach(lax)


def test_scripted_mode_names_every_missing_answer(place: Place) -> None:
    result = invoke(["--yes", "--tls", "fingerprint"])

    assert result.exit_code == 2
    for flag in ("--host", "--token-id", "--secret-stdin or --secret-file", "--fingerprint or --accept-fingerprint"):
        assert flag in result.output
    assert place.files() == []


@pytest.mark.anyio
async def test_the_client_entry_starts_pvemcp_on_the_configured_cluster(
    served_sim: dict[str, str], place: Place
) -> None:
    """The real binary, as a script would run it; then the entry it wrote, started the way the client starts it."""
    args = scripted(served_sim, "--secret-stdin", "--accept-fingerprint", "--profile", "lab", "--client", "cursor")
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [str(BIN), "setup", *args],
            input=(served_sim["PROXMOX_TOKEN_SECRET"] + "\n").encode(),
            cwd=place.project,
            env={"HOME": str(place.home), "PATH": os.environ.get("PATH", "")},
            check=False,
        )
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, output
    assert served_sim["PROXMOX_TOKEN_SECRET"] not in output
    entry = json.loads((place.home / ".cursor" / "mcp.json").read_text())["mcpServers"]["pvemcp-lab"]
    assert entry["command"] == str(Path(sys.executable).parent / "pvemcp")
    env = {"HOME": str(place.home), "PVE_AUDIT_LOG": "off", "PVE_LOG_LEVEL": "warning", **entry.get("env", {})}
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env, cwd=str(place.home))
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert "pve_inventory" in names and "pve_guest_power" not in names  # read-only
            assert payload(await client.call_tool("pve_list_nodes", {}))["count"] == 3


def as_root(sim: dict[str, str], method: str, path: str, params: dict[str, Any]) -> Any:
    """An administrator's call to the served simulator, to arrange its tokens and ACL."""
    token = ApiToken(sim["PROXMOX_USER"], sim["PROXMOX_REALM"], sim["PROXMOX_TOKEN_NAME"], sim["PROXMOX_TOKEN_SECRET"])
    tls = TlsConfig(fingerprint=sim["PROXMOX_TLS_FINGERPRINT"])

    async def call() -> Any:
        client = ProxmoxClient(f"https://{sim['PROXMOX_HOST']}:{sim['PROXMOX_PORT']}", token, tls=tls)
        try:
            return await client.request(method, path, params)
        finally:
            await client.aclose()

    return anyio.run(call)


def test_the_check_explains_a_privilege_separated_token_without_acl(served_sim: dict[str, str], place: Place) -> None:
    secret = as_root(served_sim, "POST", "/access/users/root@pam/token/narrow", {"privsep": 1})["value"]
    base = [*scripted(served_sim, "--secret-stdin", "--accept-fingerprint", "--print-config")]
    base[base.index(TOKEN_ID)] = "root@pam!narrow"

    bare = invoke(base, secret + "\n")
    assert bare.exit_code == 0, bare.output  # it works; it just sees nothing yet
    assert secret not in bare.output
    # Proxmox lets a token read its own record (privsep) only with User.Modify, so a bare token cannot tell.
    assert "Privilege separation" not in bare.output
    assert "0 held; read-only needs Sys.Audit ✗, Datastore.Audit ✗" in bare.output
    assert "! Tier read-only usually needs VM.Audit on /vms; the token lacks them." in bare.output
    assert "! The token holds nothing at / or /vms." in bare.output

    as_root(served_sim, "PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor", "tokens": "root@pam!narrow"})
    granted = invoke(base, secret + "\n")
    assert granted.exit_code == 0, granted.output
    assert "read-only needs Sys.Audit ✓, Datastore.Audit ✓" in granted.output
    assert "read-only needs VM.Audit ✓" in granted.output
    assert "! " not in granted.output
    assert place.files() == []


def test_setup_writes_only_settings_the_table_says_it_manages(tmp_path: Path) -> None:
    """Whatever the answers, every key written is one setup manages, so a later run can also remove it."""

    assert MANAGED_KEYS == SETUP_KEYS and all(BY_NAME[key].in_file for key in MANAGED_KEYS)
    written: set[str] = set()
    for tls in ("verify", "ca", "fingerprint", "insecure"):
        answers = Answers(host="pve1", user="svc", realm="pve", token_name="mcp", secret="s" * 36, tls=tls)
        answers.ca_file, answers.fingerprint, answers.ssh_host = str(tmp_path), "ab" * 32, "pve1"
        for secret_file in (None, tmp_path / "secret"):
            written |= set(settings_for(answers, secret_file=secret_file))
    assert written == set(MANAGED_KEYS)
    answers.secret = "hidden-" * 6
    plan = make_plan(
        answers,
        scope="user",
        profile=None,
        clients=[],
        secret_to_file=False,
        environ={"HOME": str(tmp_path)},
        cwd=tmp_path,
    )
    assert answers.secret not in render_plan(plan)  # every secret of the table is hidden, not just one name


WIZARD_WIDTH = 100


def wizard_answers(sim: dict[str, str], scope: str) -> str:
    """Every question answered with its default, except where the cluster is and the token."""
    token = [TOKEN_ID, sim["PROXMOX_TOKEN_SECRET"], "", "", ""]  # then tier, module, no SSH
    return lines(sim["PROXMOX_HOST"], sim["PROXMOX_PORT"], "", "y", *token, scope, "", "", "", "")


def test_the_wizard_explains_the_tls_choices_and_keeps_copyable_values_whole(
    served_sim: dict[str, str], place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(WIZARD_WIDTH))
    result = invoke([], wizard_answers(served_sim, "project"))

    assert result.exit_code == 0, result.output
    shown = result.output.splitlines()
    assert "How should pvemcp trust the node's certificate?" in shown
    assert "  fingerprint  pin this exact certificate by its SHA-256 fingerprint (self-signed)  (default)" in shown
    assert any(line.startswith("  verify       a CA this system trusts signed it") for line in shown)
    assert any(line.startswith("Trust by [fingerprint]: ") for line in shown)
    assert "(verify, ca, fingerprint, insecure)" not in result.output
    pin = served_sim["PROXMOX_TLS_FINGERPRINT"]
    assert shown.count(f"  {pin}") >= 3  # presented, compared, and in the check's summary: whole on a line
    assert any("`pvenode cert info`" in line for line in shown)
    # Only a value to copy (a pin, a path) may pass the width, alone on its line
    too_long = [line for line in shown if len(line) > WIZARD_WIDTH and len(line.split()) > 1]
    assert too_long == []


def test_the_wizard_keeps_the_secret_in_its_own_file_by_default(served_sim: dict[str, str], place: Place) -> None:
    result = invoke([], wizard_answers(served_sim, "project"))

    assert result.exit_code == 0, result.output
    assert "Keep the secret (file, inline) [file]:" in result.output
    secret_file = place.project_config.parent / "default.token-secret"
    assert secret_file.read_text() == served_sim["PROXMOX_TOKEN_SECRET"] + "\n"
    assert mode(secret_file) == 0o600 and mode(place.project_config) == 0o600
    document = tomllib.loads(place.project_config.read_text())
    assert document["proxmox_token_secret_file"] == str(secret_file)
    assert "proxmox_token_secret" not in document
    assert served_sim["PROXMOX_TOKEN_SECRET"] not in place.project_config.read_text()
    loaded = load_config({"HOME": str(place.home)}, cwd=place.project)
    assert loaded.target is not None and loaded.target.token.secret == served_sim["PROXMOX_TOKEN_SECRET"]
    assert reach(loaded)


def test_moving_the_secret_to_its_file_removes_it_from_the_config(served_sim: dict[str, str], place: Place) -> None:
    secret = served_sim["PROXMOX_TOKEN_SECRET"]
    assert invoke(scripted(served_sim, "--secret-stdin", "--accept-fingerprint"), secret + "\n").exit_code == 0
    assert tomllib.loads(place.user_config.read_text())["proxmox_token_secret"] == secret

    result = invoke([], wizard_answers(served_sim, "user"))

    assert result.exit_code == 0, result.output
    document = tomllib.loads(place.user_config.read_text())
    assert "proxmox_token_secret" not in document
    assert Path(document["proxmox_token_secret_file"]).read_text() == secret + "\n"
    assert reach(load_config({"HOME": str(place.home)}))
