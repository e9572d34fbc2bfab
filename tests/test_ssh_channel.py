"""The SSH channel against a real OpenSSH sshd on loopback: outputs, host keys, keys, drops, floods, routing."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import asyncssh
import pytest

from pvemcp.compose import make_runtime
from pvemcp.config import load_config
from pvemcp.pve.client import ProxmoxClient
from pvemcp.pve.errors import ErrorCode, PveMcpError
from pvemcp.ssh.channel import TRUNCATED, CommandResult
from pvemcp.ssh.client import SshChannel
from pvemcp.ssh.routing import Router
from pvemcp.ssh.settings import SshSettings
from pvesim import Simulator
from tests.conftest import client_for
from tests.sshd import Sshd, sshd_env_fixture, sshd_fixture  # noqa: F401

pytestmark = pytest.mark.anyio

LIMIT = 5.0  # seconds any one step may take
Opener = Callable[..., SshChannel]


@pytest.fixture
async def channel(pve: ProxmoxClient) -> AsyncIterator[Opener]:
    """Open channels on the simulated cluster's client; every one is closed at the end."""
    opened: list[SshChannel] = []

    def open_channel(settings: SshSettings) -> SshChannel:
        opened.append(SshChannel(settings, pve))
        return opened[-1]

    yield open_channel
    for item in opened:
        await item.close()


async def fails(code: ErrorCode, step: Any) -> PveMcpError:
    with anyio.fail_after(LIMIT), pytest.raises(PveMcpError) as caught:
        await step
    assert caught.value.code == code, caught.value.to_payload()
    return caught.value


async def run(chan: SshChannel, argv: list[str], node: str | None = None, **kw: Any) -> CommandResult:
    with anyio.fail_after(LIMIT):
        return await chan.run(node, argv, **kw)


async def test_stdout_stderr_and_exit_status(sshd: Sshd, channel: Opener) -> None:
    result = await run(channel(sshd.settings()), ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.stdout, result.stderr, result.exit_status) == ("out\n", "err\n", 3)
    assert result.route == "entry" and result.argv == ("sh", "-c", "echo out; echo err >&2; exit 3")


async def test_each_argument_arrives_as_one_word(sshd: Sshd, channel: Opener, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    words = ["a b", f"$(touch {canary})", f"`touch {canary}`", "x; touch " + str(canary), "'\"", "-n", "\n", "*"]
    result = await run(channel(sshd.settings()), ["printf", "[%s]", *words])
    assert result.stdout == "".join(f"[{w}]" for w in words)
    assert not canary.exists()


async def test_nul_in_an_argument_is_refused_before_connecting(sshd: Sshd, channel: Opener) -> None:
    chan = channel(sshd.settings())
    await fails(ErrorCode.TOOL_INPUT_REJECTED, chan.run(None, ["echo", "a\0b"]))
    assert chan.connections_opened == 0


async def test_exit_255_is_reported_and_the_command_ran_once(sshd: Sshd, channel: Opener, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    result = await run(channel(sshd.settings()), ["sh", "-c", f"echo once >> {ran}; exit 255"])
    assert result.exit_status == 255
    assert ran.read_text() == "once\n"


async def test_a_signal_ends_with_no_exit_status(sshd: Sshd, channel: Opener) -> None:
    result = await run(channel(sshd.settings()), ["sh", "-c", "kill -TERM $$"])
    assert result.exit_status is None and "signal TERM" in result.stderr


async def test_a_changed_host_key_is_refused_even_with_trust_on_first_use(sshd: Sshd, channel: Opener) -> None:
    before = sshd.known_hosts.read_text()
    sshd.new_host_key()
    for tofu in (False, True):
        error = await fails(
            ErrorCode.SSH_HOST_KEY_CHANGED, channel(sshd.settings(trust_on_first_use=tofu)).run(None, ["true"])
        )
        assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}'" in error.hint
    assert sshd.known_hosts.read_text() == before
    assert sshd.accepted() == 0


async def test_an_unknown_host_is_refused_with_the_command_that_trusts_it(
    sshd: Sshd, channel: Opener, tmp_path: Path
) -> None:
    known = tmp_path / "empty" / "known_hosts"
    error = await fails(ErrorCode.SSH_HOST_KEY_UNKNOWN, channel(sshd.settings(known_hosts=known)).run(None, ["true"]))
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {known}" in error.hint
    assert "PROXMOX_SSH_TRUST_ON_FIRST_USE=true" in error.hint
    assert error.details is not None and error.details["fingerprint"].startswith("SHA256:")
    assert not known.exists() and sshd.accepted() == 0


async def test_trust_on_first_use_records_the_key_and_still_refuses_a_later_change(
    sshd: Sshd, channel: Opener, tmp_path: Path
) -> None:
    known = tmp_path / "tofu" / "known_hosts"
    settings = sshd.settings(known_hosts=known, trust_on_first_use=True)
    assert (await run(channel(settings), ["echo", "hi"])).stdout == "hi\n"
    assert known.read_text() == sshd.host_key_line + "\n"
    assert (await run(channel(settings), ["true"])).exit_status == 0  # recorded once, matched after
    assert known.read_text() == sshd.host_key_line + "\n"
    sshd.new_host_key()
    await fails(ErrorCode.SSH_HOST_KEY_CHANGED, channel(settings).run(None, ["true"]))


async def test_a_missing_or_unreadable_key_is_a_clear_error(sshd: Sshd, channel: Opener, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key\n")
    encrypted = tmp_path / "encrypted"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(encrypted), "pkcs8-pem", passphrase="pass")
    for path, words in ((tmp_path / "missing", "does not exist"), (garbage, "not a private key"), (tmp_path, "")):
        error = await fails(ErrorCode.SSH_KEY_UNREADABLE, channel(sshd.settings(key_path=path)).run(None, ["true"]))
        assert str(path) in error.message and words in error.message
    error = await fails(ErrorCode.SSH_KEY_UNREADABLE, channel(sshd.settings(key_path=encrypted)).run(None, ["true"]))
    assert "pass" not in error.message.replace("passphrase", "")


async def test_a_key_the_node_does_not_accept_is_refused(sshd: Sshd, channel: Opener, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    await fails(ErrorCode.SSH_AUTH_FAILED, channel(sshd.settings(key_path=stranger)).run(None, ["true"]))


async def test_a_connection_dropped_mid_command_is_an_error_and_the_next_call_reconnects(
    sshd: Sshd, channel: Opener, tmp_path: Path
) -> None:
    chan = channel(sshd.settings())
    started = tmp_path / "started"
    os.mkfifo(started)
    failure: list[PveMcpError] = []

    async def long_command() -> None:
        try:
            await chan.run(None, ["sh", "-c", f"echo go > {started}; exec sleep 30"])
        except PveMcpError as exc:
            failure.append(exc)

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(long_command)
            await anyio.to_thread.run_sync(started.read_text)  # returns once the command is running
            await anyio.to_thread.run_sync(sshd.restart)
    assert [exc.code for exc in failure] == [ErrorCode.SSH_CONNECTION_LOST]
    assert (await run(chan, ["echo", "back"])).stdout == "back\n"
    assert chan.connections_opened == 2


async def test_an_idle_connection_that_closed_is_replaced(sshd: Sshd, channel: Opener) -> None:
    chan = channel(sshd.settings())
    await run(chan, ["true"])
    await anyio.to_thread.run_sync(sshd.restart)
    with anyio.fail_after(LIMIT):  # the drop reaches the client as an event: let asyncssh see it first
        await next(iter(chan._connections.values())).wait_closed()
    assert (await run(chan, ["echo", "again"])).stdout == "again\n"
    assert chan.connections_opened == 2


async def test_the_call_right_after_a_drop_reconnects(sshd: Sshd, channel: Opener) -> None:
    """The transport is gone a moment before asyncssh reports the connection closed: no session opened, so retry."""
    chan = channel(sshd.settings())
    await run(chan, ["true"])
    await anyio.to_thread.run_sync(sshd.restart)
    assert (await run(chan, ["echo", "again"])).stdout == "again\n"
    assert chan.connections_opened == 2


async def test_a_node_that_does_not_answer_is_a_connection_failure(sshd: Sshd, channel: Opener) -> None:
    sshd.stop()
    error = await fails(ErrorCode.SSH_CONNECTION_FAILED, channel(sshd.settings()).run(None, ["true"]))
    assert f"127.0.0.1:{sshd.port}" in error.message


async def test_a_command_that_outlives_its_timeout_is_cut_off(sshd: Sshd, channel: Opener) -> None:
    chan = channel(sshd.settings())
    # 1.5 s leaves a loaded machine room to send the first line; the sleep lasts far longer.
    result = await run(chan, ["sh", "-c", "echo early; exec sleep 30"], timeout=1.5)
    assert result.exit_status is None and result.stdout == "early\n" and "no exit status after 1.5 s" in result.stderr
    assert (await run(chan, ["true"])).exit_status == 0
    assert chan.connections_opened == 1


async def test_an_output_flood_is_truncated_with_the_marker(sshd: Sshd, channel: Opener) -> None:
    limit = 64 * 1024
    flood = "head -c 5000000 /dev/zero | tr '\\0' x; head -c 300000 /dev/zero | tr '\\0' y >&2; exit 7"
    result = await run(channel(sshd.settings(max_output_bytes=limit)), ["sh", "-c", flood])
    marker = TRUNCATED.format(limit=limit)
    assert result.exit_status == 7
    assert result.stdout == "x" * limit + marker and result.stdout_truncated
    assert result.stderr == "y" * limit + marker and result.stderr_truncated


async def test_run_many_runs_together_over_one_connection(sshd: Sshd, channel: Opener, tmp_path: Path) -> None:
    """Each command waits until all have started: run one after another, they would never finish."""
    chan = channel(sshd.settings())
    count = 6
    wait_for_all = (
        f'touch {tmp_path}/started.$1; until [ "$(ls {tmp_path} | grep -c started)" -ge {count} ]; do sleep 0.02; done'
    )
    commands = [["sh", "-c", wait_for_all + "; echo $1", "sh", str(i)] for i in range(count)]
    with anyio.fail_after(LIMIT * 2):
        results = await chan.run_many(None, commands)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(count)]
    assert chan.connections_opened == 1 and sshd.accepted() == 1


def _add_node(sim: Simulator, name: str, ip: str) -> None:
    sim.state.nodes[name] = replace(next(iter(sim.state.nodes.values())), name=name, ip=ip)


async def test_a_node_without_an_address_is_reached_through_the_entry_host(
    sshd: Sshd, sim: Simulator, channel: Opener
) -> None:
    """`localhost` has no address in /cluster/status: the entry sshd forwards to it (the same sshd, by name)."""
    sim.state.nodes["pve1"].ip = sshd.host
    _add_node(sim, "localhost", "")
    sshd.known_hosts.write_text(sshd.host_key_line + "\n" + sshd.known_hosts_line("localhost") + "\n")
    chan = channel(sshd.settings())
    result = await run(chan, ["echo", "via"], node="localhost")
    assert (result.route, result.node, result.stdout) == ("jump", "localhost", "via\n")
    assert (await run(chan, ["true"], node="pve1")).route == "entry"
    assert chan.connections_opened == 2 and sshd.accepted() == 2
    await anyio.to_thread.run_sync(lambda: sshd.restart(AllowTcpForwarding="no"))
    await fails(ErrorCode.SSH_CONNECTION_FAILED, channel(sshd.settings()).run("localhost", ["true"]))


async def test_the_jumped_host_key_is_checked_too(sshd: Sshd, sim: Simulator, channel: Opener) -> None:
    sim.state.nodes["pve1"].ip = sshd.host
    _add_node(sim, "localhost", "")
    error = await fails(ErrorCode.SSH_HOST_KEY_UNKNOWN, channel(sshd.settings()).run("localhost", ["true"]))
    assert f"ssh -p {sshd.port} {sshd.user}@127.0.0.1 ssh-keyscan -p {sshd.port} localhost >>" in error.hint


async def test_a_node_with_its_own_address_is_reached_directly(sshd: Sshd, channel: Opener) -> None:
    sshd.known_hosts.write_text(sshd.known_hosts_line("localhost") + "\n")
    chan = channel(sshd.settings(node_hosts={"pve2": "localhost"}))
    result = await run(chan, ["echo", "direct"], node="pve2")
    assert (result.route, result.node, result.stdout) == ("direct", "pve2", "direct\n")


async def test_routes_follow_the_cluster_status(sim: Simulator, pve: ProxmoxClient) -> None:
    settings = SshSettings(host="10.0.0.1", user="root", key_path=Path("/nonexistent"))
    sim.state.nodes["pve1"].ip = "10.0.0.1"
    sim.state.nodes["pve3"].ip = ""
    router = Router(settings, pve)
    with anyio.fail_after(LIMIT):
        hops = {node: await router.route(node) for node in ("pve1", "pve2", "pve3")}
        entry = await router.route(None)
        pinned = await Router(replace(settings, node_hosts={"pve3": "pve3.lan"}), pve).route("pve3")
    assert [(h.route, h.address) for h in hops.values()] == [
        ("entry", "10.0.0.1"),
        ("direct", sim.state.nodes["pve2"].ip),
        ("jump", "pve3"),
    ]
    assert (entry.node, pinned.route, pinned.address) == ("pve1", "direct", "pve3.lan")
    assert len([r for r in sim.requests if r.path.endswith("/cluster/status")]) == 1  # cached
    await fails(ErrorCode.TOOL_INPUT_REJECTED, router.route("pve9"))
    await fails(ErrorCode.TOOL_INPUT_REJECTED, router.route("-oProxyCommand=x"))


async def test_a_single_node_cluster_is_its_own_entry() -> None:
    solo = Simulator(nodes=1, guests=1)
    settings = SshSettings(host="pve.example", user="root", key_path=Path("/nonexistent"))
    client = client_for(solo)
    try:
        with anyio.fail_after(LIMIT):
            hop = await Router(settings, client).route("pve1")
    finally:
        await client.aclose()
    assert (hop.route, hop.address) == ("entry", "pve.example")


async def test_the_configured_server_runs_commands_over_ssh(sshd: Sshd, pve: ProxmoxClient, tmp_path: Path) -> None:
    environ = {
        "PROXMOX_SSH_HOST": sshd.host,
        "PROXMOX_SSH_PORT": str(sshd.port),
        "PROXMOX_SSH_USER": sshd.user,
        "PROXMOX_SSH_KEY_PATH": str(sshd.key_path),
        "PROXMOX_SSH_KNOWN_HOSTS": str(sshd.known_hosts),
        "PVE_AUDIT_LOG": "off",
    }
    runtime = make_runtime(load_config(environ, sandbox=True), pve)
    assert isinstance(runtime.ssh, SshChannel)
    try:
        with anyio.fail_after(LIMIT):
            assert (await runtime.ssh.run(None, ["echo", "wired"])).stdout == "wired\n"
    finally:
        await runtime.ssh.close()
    assert make_runtime(load_config({**environ, "PVE_SSH": "off"}, sandbox=True), pve).ssh is None
