"""Injection corpus: hostile values through every parameter of every SSH tool, over a real sshd.

Each attempt either is refused before anything runs (an error, and the `pct` stand-in records nothing) or
the stand-in records exactly the intended argv, the value as one argument. The payloads try to create a
canary file; it must never appear. Containers tagged `norun` only record, so a command string meant for the
container's own shell is checked for arriving intact without being run.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import anyio
import pytest

from pvemcp.pve.client import ProxmoxClient
from pvemcp.ssh.commands import CONTAINER_NAME, DIAGNOSTICS, SINCE
from pvesim import Simulator
from tests.standins import DOCKER_TAG, NORUN_TAG, Rig, add_tag, rig, running_containers

pytestmark = pytest.mark.anyio

CORPUS_SECONDS = 180.0
REFUSALS = {
    "TOOL_INPUT_REJECTED",
    "DIAGNOSTIC_COMMAND_NOT_ALLOWED",
    "INVALID_CONTAINER_NAME",
    "GUEST_NOT_FOUND",
    "PROXMOX_NOT_FOUND",
}

SHAPES = (
    "; touch {c}", "&& touch {c}", "|| touch {c}", "| touch {c}", "& touch {c} &", "`touch {c}`", "$(touch {c})",
    "\ntouch {c}", "\r\ntouch {c}", "'; touch {c}; '", '"; touch {c}; "', "\\'; touch {c} #", "$'\\x3b' touch {c}",
    "> {c}", ">> {c}", "< /etc/hostname > {c}", "${{IFS}}touch${{IFS}}{c}", "$(printf touch) {c}",
    "--", "-rf", "--help", "-o ProxyCommand=touch {c}", "--format={{{{json .}}}}", "-- ; touch {c}",
    "$HOME", "~", "~root/.ssh", "*", "?", "[a-z]*", "{{a,b}}", "!!", "# touch {c}", "\\", " ",
    "\x00; touch {c}", "\x1b[2J", "\ttouch {c}", "\u037e touch {c}", "\uff1b touch {c}", "\u2212a", "\u200b",
    "\u00fcptime", "\uff55ptime", "\u202e; touch {c}", "%0a touch {c}", "A" * 5000, "B" * 20000,
)  # fmt: skip
PREFIXES = ("", "uptime", "web")


def corpus(canary: Path) -> list[str]:
    payloads = [prefix + shape.format(c=canary) for shape in SHAPES for prefix in PREFIXES]
    return list(dict.fromkeys(payloads))


def test_the_corpus_is_large_and_varied(tmp_path: Path) -> None:
    payloads = corpus(tmp_path / "canary")
    assert len(payloads) >= 100
    page = (Path(__file__).resolve().parents[1] / "docs" / "ssh.md").read_text()
    assert f"A corpus of {len(payloads)} injection payloads" in page, "docs/ssh.md gives the corpus's size"
    for needle in (";", "&&", "|", "`", "$(", "\n", "'", '"', "--", "\x00", "\uff1b", "*", "~", "$HOME"):
        assert any(needle in p for p in payloads), needle
    assert max(map(len, payloads)) > 16_384


CONCURRENT = 8  # attempts in flight at once, over the one SshChannel


class Attempts:
    """Runs attempts on one rig and checks them: refused with nothing recorded, or exactly the intended argv.

    Attempts run concurrently, so the record is checked as a whole: it must hold exactly the intended argv of
    the attempts that succeeded, each once, and nothing else.
    """

    def __init__(self, remote: Rig) -> None:
        self.remote = remote
        self.before = len(remote.calls())
        self.ran: list[list[str]] = []
        self.count = 0
        self.limiter = anyio.CapacityLimiter(CONCURRENT)

    async def attempt(self, tool: str, args: dict[str, Any], intended: list[str] | None) -> None:
        async with self.limiter:
            result = await self.remote.client.call_tool(tool, args)
        self.count += 1
        body = dict(result.structured_content or {})
        if result.is_error:
            assert body.get("code") in REFUSALS, (tool, args, body)
        else:
            assert intended is not None, (tool, args, body)
            self.ran.append(intended)

    def check_record(self) -> None:
        recorded = self.remote.calls()[self.before :]
        assert sorted(map(repr, recorded)) == sorted(map(repr, self.ran))


async def run_corpus(
    sim: Simulator, pve: ProxmoxClient, tmp_path: Path, tool: str, build: Any, *, ssh_expected: bool = True
) -> None:
    canary = tmp_path / "canary"
    with anyio.fail_after(CORPUS_SECONDS):
        async with rig(sim, pve, tmp_path) as remote:
            attempts = Attempts(remote)
            async with anyio.create_task_group() as group:
                for payload in corpus(canary):
                    for args, intended in build(payload):
                        group.start_soon(attempts.attempt, tool, args, intended)
            attempts.check_record()
            if not ssh_expected:
                assert remote.channel.connections_opened == 0
    assert attempts.count >= 100
    assert not canary.exists()


def pct(ctid: int, *argv: str) -> list[str]:
    return ["exec", str(ctid), "--", *argv]


def common(payload: str, ctid: int) -> list[tuple[dict[str, Any], list[str] | None]]:
    """The parameters every container tool shares: a hostile ctid or node is never an argv."""
    return [({"ctid": payload}, None), ({"ctid": ctid, "node": payload}, None)]


async def test_exec_in_container(sim: Simulator, pve: ProxmoxClient, tmp_path: Path) -> None:
    ctid, quiet = running_containers(sim)[:2]
    add_tag(sim, quiet, NORUN_TAG)

    programs = set(corpus(tmp_path / "canary")[::4])  # as the program too, for a quarter of them (time)

    def build(payload: str) -> list[tuple[dict[str, Any], list[str] | None]]:
        base = {"confirm": True}
        as_program = [({**base, "ctid": ctid, "argv": [payload, "x"]}, pct(ctid, payload, "x"))]
        return [
            ({**base, "ctid": ctid, "argv": ["printf", "%s", payload]}, pct(ctid, "printf", "%s", payload)),
            ({**base, "ctid": quiet, "command": payload}, pct(quiet, "sh", "-c", payload)),
            *(as_program if payload in programs else []),
            *[({**base, "argv": ["true"], **args}, None) for args, _ in common(payload, ctid)],
        ]

    await run_corpus(sim, pve, tmp_path, "pve_exec_in_container", build)


async def test_run_remote_diagnostic(sim: Simulator, pve: ProxmoxClient, tmp_path: Path) -> None:
    ctid = running_containers(sim)[0]

    def build(payload: str) -> list[tuple[dict[str, Any], list[str] | None]]:
        try:
            argv = shlex.split(payload)
        except ValueError:
            argv = []
        allowed = pct(ctid, *argv) if tuple(argv) in DIAGNOSTICS else None
        return [
            ({"ctid": ctid, "command": payload}, allowed),
            *[({"command": "uptime", **args}, None) for args, _ in common(payload, ctid)],
        ]

    await run_corpus(sim, pve, tmp_path, "pve_run_remote_diagnostic", build)


async def test_docker_ps_in_container(sim: Simulator, pve: ProxmoxClient, tmp_path: Path) -> None:
    ctid = running_containers(sim)[0]
    add_tag(sim, ctid, DOCKER_TAG)

    def build(payload: str) -> list[tuple[dict[str, Any], list[str] | None]]:
        return [({"ctid": ctid, "all": payload}, None), *common(payload, ctid)]

    await run_corpus(sim, pve, tmp_path, "pve_docker_ps_in_container", build, ssh_expected=False)


async def test_docker_logs_in_container(sim: Simulator, pve: ProxmoxClient, tmp_path: Path) -> None:
    ctid = running_containers(sim)[0]
    add_tag(sim, ctid, DOCKER_TAG)
    logs = ["docker", "logs", "--tail"]

    def build(payload: str) -> list[tuple[dict[str, Any], list[str] | None]]:
        name_ok = bool(CONTAINER_NAME.match(payload))
        since_ok = bool(SINCE.match(payload))
        return [
            ({"ctid": ctid, "containerName": payload}, pct(ctid, *logs, "200", "--", payload) if name_ok else None),
            (
                {"ctid": ctid, "containerName": "web", "since": payload},
                pct(ctid, *logs, "200", "--since", payload, "--", "web") if since_ok else None,
            ),
            ({"ctid": ctid, "containerName": "web", "tail": payload}, None),
            ({"ctid": ctid, "containerName": "web", "timestamps": payload}, None),
            *[({"containerName": "web", **args}, None) for args, _ in common(payload, ctid)],
        ]

    await run_corpus(sim, pve, tmp_path, "pve_docker_logs_in_container", build)


async def test_ssh_batch_diagnostics(sim: Simulator, pve: ProxmoxClient, tmp_path: Path) -> None:
    def build(payload: str) -> list[tuple[dict[str, Any], list[str] | None]]:
        return [({"node": payload}, None), ({"checks": [payload]}, None), ({"checks": payload}, None)]

    await run_corpus(sim, pve, tmp_path, "pve_ssh_batch_diagnostics", build, ssh_expected=False)
