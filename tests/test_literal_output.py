"""The CLI prints cluster and user data as it is: a fingerprint's `:CD:` is no emoji code, `[red]` no markup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pvemcp.cli.main import cli
from pvemcp.doctor.model import CheckResult, Status
from pvemcp.doctor.runner import render_table
from pvemcp.setup.steps import Answers, CheckReport, render_report

PIN = "AB:CD:" * 15 + "AB:CD"  # rich reads ":CD:" as 💿 and ":AB:" as 🆎
EMOJI = ("💿", "🆎", "😄")
MARKUP_DATA = "9.1 [bold]x[/bold] :smile:"


def squeezed(text: str) -> str:
    """The output without whitespace: a value a table folds over several lines reads whole again."""
    return "".join(text.split())


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("PROXMOX_", "PVE_", "PVEMCP_", "MCP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_settings")
def test_the_setup_summary_prints_a_pinned_fingerprint_literally(served_sim: dict[str, str]) -> None:
    args = ["setup", "--yes", "--host", served_sim["PROXMOX_HOST"], "--port", served_sim["PROXMOX_PORT"]]
    args += ["--token-id", "root@pam!pvemcp", "--secret-stdin", "--fingerprint", PIN]
    result = CliRunner().invoke(cli, args, input=served_sim["PROXMOX_TOKEN_SECRET"] + "\n")
    assert result.exit_code == 1, result.output  # the server presents another certificate: the check fails
    assert "TLS_ERROR" in result.output
    assert not any(emoji in result.output for emoji in EMOJI)
    assert f"TLSpinned{PIN}" in squeezed(result.output)


def test_the_setup_summary_prints_what_the_cluster_says_literally() -> None:
    answers = Answers(host="pve1", user="u", realm="pve", token_name="t", secret="s", tls="fingerprint")
    answers.fingerprint = PIN.replace(":", "").lower()
    report = CheckReport(version=MARKUP_DATA, nodes=[("pve1[red]", "online")])
    shown = render_report(answers, report, width=200)
    assert f"pinned {PIN}" in shown and MARKUP_DATA in shown and "pve1[red] (online)" in shown
    assert not any(emoji in shown for emoji in EMOJI)


@pytest.mark.parametrize("color", [False, True])
def test_doctor_prints_details_and_fixes_literally(color: bool) -> None:
    result = CheckResult(
        "reach", Status.RED, f"presents {PIN} [bold]x[/bold]", f"set PROXMOX_TLS_FINGERPRINT={PIN}", {}
    )
    shown = render_table([result], width=300, color=color)
    assert PIN in shown and "[bold]x[/bold]" in shown and f"PROXMOX_TLS_FINGERPRINT={PIN}" in shown
    assert not any(emoji in shown for emoji in EMOJI)


@pytest.mark.usefixtures("no_settings")
def test_doctor_names_a_wrong_pin_literally(served_sim: dict[str, str]) -> None:
    env = {**served_sim, "PROXMOX_TLS_FINGERPRINT": PIN, "PVE_AUDIT_LOG": "off"}
    result = CliRunner().invoke(cli, ["doctor", "--check", "config,reach"], env=env)
    assert result.exit_code == 1, result.output
    assert f"notthepinned{PIN}" in squeezed(result.output)
    assert not any(emoji in result.output for emoji in EMOJI)
