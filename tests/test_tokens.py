"""MCP_AUTH_TOKENS_FILE: every problem reported at start-up, and `pvemcp token new` entries that work."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

from pvemcp.catalog.spec import Tier
from pvemcp.cli.main import cli
from pvemcp.config import ConfigError
from pvemcp.http.settings import load_http_config
from pvemcp.http.tokens import TokenAuthenticator, entry_toml, load_tokens_file, new_token, parse_tokens
from pvesim import Simulator
from tests.httpserver import http_service, run_refused

pytestmark = pytest.mark.anyio

SHA = "ab" * 32


def problems_of(text: str) -> list[str]:
    _, problems = parse_tokens(text, "tokens.toml")
    return problems


def test_a_well_formed_file_gives_one_entry_per_token() -> None:
    entries, problems = parse_tokens(
        f"""
        [[tokens]]
        name = "claude-laptop"
        sha256 = "{SHA.upper()}"
        tier = "read-only"
        nodes = ["pve1", "pve2"]
        vmids = "100-199,300"

        [[tokens]]
        name = "ci"
        sha256 = "{"cd" * 32}"
        tier = "full"
        vmids = 250
        """,
        "tokens.toml",
    )
    assert problems == []
    laptop, ci = entries
    assert laptop.name == "claude-laptop" and laptop.digest == bytes.fromhex(SHA) and laptop.tier is Tier.READ_ONLY
    assert laptop.nodes == frozenset({"pve1", "pve2"}) and laptop.vmids == ((100, 199), (300, 300))
    assert ci.nodes is None and ci.vmids == ((250, 250),)
    assert ci.grant(Tier.READ_EXECUTE).tier is Tier.READ_EXECUTE  # a ceiling under the server's tier


def test_every_problem_of_every_entry_is_reported_together() -> None:
    problems = problems_of(
        f"""
        version = 2

        [[tokens]]
        name = "a"
        sha256 = "{SHA}"
        tier = "admin"
        secret = "x"

        [[tokens]]
        name = "a"
        sha256 = "{SHA}"
        tier = "full"

        [[tokens]]
        name = "has space"
        sha256 = "1234"
        nodes = "pve1"
        vmids = "5-3"

        [[tokens]]
        name = "b"
        sha256 = "{"ef" * 32}"
        tier = "read-only"
        nodes = []
        vmids = "abc"
        """
    )
    expected = [
        "unknown top-level key 'version'",
        "token #1 ('a'): unknown key 'secret'",
        "token #1 ('a'): tier must be one of read-only, read-execute, full",
        "token #2 ('a'): name repeats token #1",
        "token #2 ('a'): sha256 repeats token #1",
        "token #3 ('has space'): name must be",
        "token #3 ('has space'): sha256 must be 64 hex digits",
        "token #3 ('has space'): tier must be one of",
        "token #3 ('has space'): nodes must be a list",
        "token #3 ('has space'): vmids: '5-3' must be VMIDs from 100 up",
        "token #4 ('b'): nodes is empty",
        "token #4 ('b'): vmids: 'abc' is not a VMID",
    ]
    assert len(problems) == len(expected), problems
    for fragment, problem in zip(expected, problems, strict=True):
        assert fragment in problem and problem.startswith("tokens.toml: ")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[tokens]\nname=", "is not valid TOML"),
        ("", "has no [[tokens]] entries"),
        ("tokens = 3", "has no [[tokens]] entries"),
        ("tokens = [1]", "token #1 is not a table"),
    ],
)
def test_a_file_that_is_not_a_token_list(text: str, fragment: str) -> None:
    problems = problems_of(text)
    assert len(problems) == 1 and fragment in problems[0]


def test_the_tokens_file_is_checked_when_the_configuration_loads(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(f'[[tokens]]\nname = "a"\nsha256 = "{SHA}"\ntier = "sudo"\n')
    with pytest.raises(ConfigError) as raised:
        load_http_config({"MCP_AUTH_TOKENS_FILE": str(path), "MCP_AUTH_TOKEN": "short"}, sandbox=True)
    text = raised.value.render()
    assert "tier must be one of" in text and "MCP_AUTH_TOKEN is shorter than 32 characters" in text
    single = new_token()
    path.write_text(entry_toml("token", single, Tier.FULL))
    with pytest.raises(ConfigError) as raised:
        load_http_config({"MCP_AUTH_TOKENS_FILE": str(path), "MCP_AUTH_TOKEN": single}, sandbox=True)
    assert len(raised.value.problems) == 2  # the same token twice, and the caller name "token" taken
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match="is not a readable file"):
        load_http_config({"MCP_AUTH_TOKENS_FILE": str(missing)}, sandbox=True)


def test_the_cli_refuses_to_start_on_a_bad_tokens_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text('[[tokens]]\nname = "a"\nsha256 = "nothex"\ntier = "full"\n')
    refused = run_refused({"MCP_AUTH_TOKENS_FILE": str(path)})
    assert refused.returncode == 2
    assert "sha256 must be 64 hex digits" in refused.stderr


def new_entry(*args: str) -> tuple[str, str]:
    """`pvemcp token new ARGS`: the token it prints and the TOML entry it offers."""
    result = CliRunner().invoke(cli, ["token", "new", *args])
    assert result.exit_code == 0, result.output
    token = re.search(r"^    (\S+)$", result.output, re.MULTILINE)
    assert token is not None
    entry = result.output[result.output.index("[[tokens]]") :]
    assert token.group(1) not in entry  # only its hash goes into the file
    return token.group(1), entry


async def test_token_new_round_trips_into_a_working_entry(tmp_path: Path) -> None:
    token, entry = new_entry(
        "--name", "ops-laptop", "--tier", "read-execute", "--nodes", "pve1, pve2", "--vmids", "100-150"
    )
    assert len(token) >= 43 and hashlib.sha256(token.encode()).hexdigest() in entry
    path = tmp_path / "tokens.toml"
    path.write_text(entry + "\n" + new_entry()[1])
    entries, problems = load_tokens_file(path)
    assert problems == [] and [e.name for e in entries] == ["ops-laptop", "assistant"]
    grant = await TokenAuthenticator(entries, Tier.FULL).grant_for(token)
    assert grant is not None and grant.name == "ops-laptop" and grant.tier is Tier.READ_EXECUTE
    assert grant.nodes == frozenset({"pve1", "pve2"}) and grant.vmids == ((100, 150),)
    assert await TokenAuthenticator(entries, Tier.FULL).grant_for(token + "x") is None
    with http_service({"MCP_AUTH_TOKENS_FILE": str(path), "PVE_ACCESS_TIER": "full"}, Simulator()) as served:
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx2.get(served.base + "/metrics", headers=headers).status_code == 200
        assert httpx2.get(served.base + "/metrics").status_code == 401


def test_token_new_checks_its_options_and_makes_state_keys() -> None:
    refused = CliRunner().invoke(cli, ["token", "new", "--vmids", "5"])
    assert refused.exit_code == 2 and "VMIDs from 100 up" in refused.output
    refused = CliRunner().invoke(cli, ["token", "new", "--name", "two words"])
    assert refused.exit_code == 2 and "name must be" in refused.output
    keys = [CliRunner().invoke(cli, ["token", "new", "--state-key"]).output.strip() for _ in range(2)]
    assert keys[0] != keys[1] and all(len(key) >= 32 and "\n" not in key for key in keys)
    assert load_http_config({"MCP_STATE_KEY": keys[0]}, sandbox=True).http is not None
