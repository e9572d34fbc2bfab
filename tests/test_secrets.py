"""Secrets that cannot travel in a header are refused at start, and never echoed by any answer.

The bad secrets below are built around ASCII fragments registered with the suite's leak watch: whichever way
a library would quote the secret (raw, repr-escaped, as bytes), the fragment shows, and the session fails.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx2
import pytest

import tests.httpserver
from pvemcp.config import ConfigError, load_config
from pvemcp.http.settings import load_http_config
from pvemcp.pve.client import BAD_HEADER, ApiToken, ProxmoxClient, RequestNotSentError
from pvemcp.pve.errors import ErrorCode, PveMcpError
from pvemcp.secret_input import MAX_SECRET_FILE
from pvesim import Simulator
from tests.canary import LeakHandler
from tests.conftest import FAST_RETRY, LEAK_WATCH, client_for, mcp_client
from tests.httpserver import http_service
from tests.test_config import GOOD

FRAGMENTS = (
    "5ec2e7a1-crlf-canary-part1",
    "5ec2e7a1-crlf-canary-part2",
    "5ec2e7a1-nonascii-canary-part3",
    "5ec2e7a1-quoted-canary-part4",
    "5ec2e7a1-bearer-canary-part5",
)
CRLF_SECRET = f"{FRAGMENTS[0]}\r\nX-Injected: {FRAGMENTS[1]}"
NON_ASCII_SECRET = f"{FRAGMENTS[2]}-\u00e9\u00df"
QUOTED_SECRET = FRAGMENTS[3]  # a valid secret that a library error below quotes back
BAD_SECRETS = {"crlf": CRLF_SECRET, "non-ascii": NON_ASCII_SECRET, "nul": f"{FRAGMENTS[0]}\x00x", "tab": "a\tb"}
LEAK_WATCH.secrets = (*LEAK_WATCH.secrets, *FRAGMENTS)


def test_the_bad_secrets_are_on_the_sessions_leak_watch(leak_watch: LeakHandler) -> None:
    assert leak_watch.watch is LEAK_WATCH and set(FRAGMENTS) <= set(leak_watch.watch.secrets)


def assert_clean(text: str) -> None:
    assert all(fragment not in text for fragment in FRAGMENTS), text


def problems_of(environ: dict[str, str], **kwargs: Any) -> list[str]:
    load = load_http_config if kwargs.pop("transport", None) == "http" else load_config
    with pytest.raises(ConfigError) as raised:
        load(environ, **kwargs)
    assert_clean(raised.value.render())
    return raised.value.problems


# ---------------------------------------------------------------- refused at start


def secret_file_env(path: Path) -> dict[str, str]:
    return {**{k: v for k, v in GOOD.items() if k != "PROXMOX_TOKEN_SECRET"}, "PROXMOX_TOKEN_SECRET_FILE": str(path)}


@pytest.mark.parametrize("kind", sorted(BAD_SECRETS))
def test_a_token_secret_that_cannot_be_a_header_is_a_problem_naming_the_setting(kind: str) -> None:
    problems = problems_of({**GOOD, "PROXMOX_TOKEN_SECRET": BAD_SECRETS[kind], "PVE_ACCESS_TIER": "everything"})
    assert any(p.startswith("PROXMOX_TOKEN_SECRET holds control characters or non-ASCII") for p in problems)
    assert any("PVE_ACCESS_TIER" in p for p in problems)  # reported with the others


@pytest.mark.parametrize("kind", ["non-ascii", "nul", "tab"])  # a line break ends the first line instead
def test_the_secret_files_first_line_is_held_to_the_same_rule(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "secret"
    path.write_bytes(BAD_SECRETS[kind].encode() + b"\n")
    path.chmod(0o600)
    [problem] = problems_of(secret_file_env(path))
    assert problem.startswith(f"PROXMOX_TOKEN_SECRET_FILE={str(path)!r} holds control characters or non-ASCII")


def test_a_secret_file_that_is_not_utf8_is_refused_without_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(FRAGMENTS[0].encode() + b"\xff\xfe\n")
    [problem] = problems_of(secret_file_env(path))
    assert "non-ASCII" in problem


@pytest.mark.parametrize("user", ["svc\r\nX: y", "svc\u00e9", "s vc"])
def test_token_id_parts_go_into_the_header_too(user: str) -> None:
    problems = problems_of({**GOOD, "PROXMOX_USER": user})
    assert any(p.startswith("PROXMOX_USER=") and "may only hold" in p for p in problems)


@pytest.mark.parametrize("kind", sorted(BAD_SECRETS))
def test_bearer_tokens_and_state_keys_are_held_to_the_same_rule(kind: str) -> None:
    bad = BAD_SECRETS[kind] + FRAGMENTS[4] * 2  # long enough that only the characters are wrong
    good_key = "k" * 40
    problems = problems_of(
        {"MCP_AUTH_TOKEN": bad, "MCP_STATE_KEY": f"{good_key},{bad}"}, transport="http", sandbox=True
    )
    assert any(p.startswith("MCP_AUTH_TOKEN holds control characters or non-ASCII") for p in problems)
    assert any(p.startswith("MCP_STATE_KEY holds control characters or non-ASCII") for p in problems)


@pytest.mark.parametrize("kind", ["crlf", "non-ascii"])
def test_pvemcp_run_refuses_a_bad_secret_with_one_message_and_no_traceback(kind: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXMOX_", "PVE_", "MCP_"))}
    env.update({**GOOD, "PROXMOX_TOKEN_SECRET": BAD_SECRETS[kind], "PVE_AUDIT_LOG": "off"})
    proc = subprocess.run(
        [sys.executable, "-m", "pvemcp", "run"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert "PROXMOX_TOKEN_SECRET holds control characters or non-ASCII characters" in proc.stderr
    assert_clean(proc.stderr)


# ---------------------------------------------------------------- secret files


def test_a_private_secret_file_is_read_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "secret"
    path.write_text("0f8e1d2c-from-the-file\n# a comment line is ignored\n")
    path.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="pvemcp.config"):
        config = load_config(secret_file_env(path))
    assert config.target is not None and config.target.token.secret == "0f8e1d2c-from-the-file"
    assert caplog.records == []


@pytest.mark.parametrize(
    ("mode", "readers"),
    [(0o604, "others"), (0o640, "its group"), (0o644, "its group and others"), (0o444, "its group and others")],
)
def test_a_readable_secret_file_is_used_with_a_warning_naming_file_and_mode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int, readers: str
) -> None:
    path = tmp_path / "secret"
    path.write_text("0f8e1d2c-mounted-secret\n")
    path.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="pvemcp.config"):
        config = load_config(secret_file_env(path))
    assert config.target is not None and config.target.token.secret == "0f8e1d2c-mounted-secret"
    [record] = caplog.records
    text = record.getMessage()
    assert str(path) in text and f"{mode:04o}" in text and f"readable by {readers}" in text
    assert "0f8e1d2c-mounted-secret" not in text


def test_a_symlink_to_a_secret_file_is_followed_as_container_runtimes_mount_them(tmp_path: Path) -> None:
    data = tmp_path / "..data"
    data.mkdir()
    (data / "token").write_text("0f8e1d2c-kubernetes\n")
    (data / "token").chmod(0o400)
    link = tmp_path / "token"
    link.symlink_to(data / "token")
    config = load_config(secret_file_env(link))
    assert config.target is not None and config.target.token.secret == "0f8e1d2c-kubernetes"


def run_briefly(environ: dict[str, str]) -> list[str]:
    """load_config in a thread that must finish: a FIFO or device named as the file must not block start-up."""
    box: dict[str, list[str]] = {}

    def load() -> None:
        try:
            load_config(environ)
            box["problems"] = []
        except ConfigError as exc:
            box["problems"] = exc.problems

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(10)
    assert "problems" in box, "start-up blocked on the secret file"
    return box["problems"]


def test_a_fifo_a_directory_or_a_device_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path, Path("/dev/zero")):
        [problem] = run_briefly(secret_file_env(path))
        assert problem == f"PROXMOX_TOKEN_SECRET_FILE={str(path)!r} is not a regular file" + (
            " (a FIFO, directory or device is refused)"
        )
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_secret_file_larger_than_4_kib_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("x" * MAX_SECRET_FILE)
    path.chmod(0o600)
    assert load_config(secret_file_env(path)).target is not None  # exactly 4 KiB is still read
    path.write_text("x" * (MAX_SECRET_FILE + 1))
    [problem] = problems_of(secret_file_env(path))
    assert problem == f"PROXMOX_TOKEN_SECRET_FILE={str(path)!r} is larger than 4096 bytes; it cannot be the file meant"


def test_the_tokens_file_must_be_a_regular_file_too(tmp_path: Path) -> None:
    fifo = tmp_path / "tokens.toml"
    os.mkfifo(fifo)
    problems = problems_of({"MCP_AUTH_TOKENS_FILE": str(fifo)}, sandbox=True, transport="http")
    assert any("MCP_AUTH_TOKENS_FILE" in p for p in problems)


# ---------------------------------------------------------------- the client, built directly


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(BAD_SECRETS))
async def test_a_client_with_a_bad_secret_says_so_in_fixed_words_and_sends_nothing(kind: str) -> None:
    sim = Simulator(token_secret="not-the-point")
    client = client_for(sim, secret=BAD_SECRETS[kind])  # built directly: no configuration check on the way
    try:
        with pytest.raises(RequestNotSentError) as raised:
            await client.get("/version")
    finally:
        await client.aclose()
    error = raised.value
    assert error.code is ErrorCode.PROXMOX_AUTH_FAILED and error.message == BAD_HEADER
    assert_clean(json.dumps(error.to_payload()) + str(error) + repr(error))
    assert sim.requests == []  # never sent, never retried


def quoting_client(exc: Exception) -> ProxmoxClient:
    """A client whose transport fails with `exc`, the way a library reports a request it could not send."""

    def fail(request: httpx2.Request) -> httpx2.Response:
        raise exc

    token = ApiToken("root", "pam", "pvemcp", QUOTED_SECRET)
    return ProxmoxClient("https://pve1:8006", token, transport=httpx2.MockTransport(fail), retry=FAST_RETRY)


HEADER = f"PVEAPIToken=root@pam!pvemcp={QUOTED_SECRET}"
LIBRARY_ERRORS = {
    "h11 header": (httpx2.LocalProtocolError(f"Illegal header value b'{HEADER}'"), BAD_HEADER),
    "encoding": (UnicodeEncodeError("ascii", HEADER, 0, 1, "ordinal not in range(128)"), BAD_HEADER),
    "other local": (
        httpx2.LocalProtocolError(f"Can't send data when our state is ERROR {HEADER}"),
        "the request could not be sent: the HTTP library refused to build it",
    ),
    "remote": (
        httpx2.RemoteProtocolError(f"illegal header line {HEADER}"),
        "Proxmox closed the connection or broke the HTTP protocol during GET /version.",
    ),
    "read": (httpx2.ReadError(HEADER), "The connection failed during GET /version (ReadError)."),
    "connect": (httpx2.ConnectError(HEADER), "Could not connect (GET /version)."),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", sorted(LIBRARY_ERRORS))
async def test_a_library_error_quoting_the_header_becomes_fixed_words(case: str) -> None:
    exc, message = LIBRARY_ERRORS[case]
    client = quoting_client(exc)
    try:
        with pytest.raises(PveMcpError) as raised:
            await client.get("/version")
    finally:
        await client.aclose()
    got = raised.value
    assert got.message == message
    assert QUOTED_SECRET not in json.dumps(got.to_payload()) + str(got)


# ---------------------------------------------------------------- through MCP and /ready


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["crlf", "non-ascii"])
async def test_a_tool_call_with_a_bad_secret_answers_the_fixed_words(kind: str) -> None:
    sim = Simulator(token_secret="not-the-point")
    client = client_for(sim, secret=BAD_SECRETS[kind])
    try:
        async with mcp_client(client, sim) as mcp:
            result = await mcp.call_tool("pve_list_nodes", {})
    finally:
        await client.aclose()
    assert result.is_error
    text = result.model_dump_json()
    assert BAD_HEADER in text and "PROXMOX_AUTH_FAILED" in text
    assert_clean(text)


@pytest.mark.parametrize("kind", ["crlf", "non-ascii"])
def test_ready_over_http_reports_fixed_words_for_a_bad_secret(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(token_secret="not-the-point")
    monkeypatch.setattr(tests.httpserver, "client_for", lambda s: client_for(s, secret=BAD_SECRETS[kind]))
    with http_service({}, sim) as served:
        ready = httpx2.get(f"{served.base}/ready", timeout=20)
    assert ready.status_code == 503
    assert ready.json() == {"status": "not ready", "code": "PROXMOX_AUTH_FAILED", "message": BAD_HEADER}
    assert_clean(ready.text)
