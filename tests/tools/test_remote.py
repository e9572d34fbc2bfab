"""The SSH tools through the MCP client, against the simulator and a real sshd whose `pct` stand-in asks the
simulator whether a container exists and runs: the REST and SSH views of the cluster agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequestParams, ElicitResult

from pvemcp.catalog.remote import TOOLS as REMOTE_TOOLS
from pvemcp.config import load_config
from pvemcp.pve.client import ProxmoxClient
from pvemcp.server.inventory import Inventory
from pvemcp.server.scope import Scope
from pvemcp.ssh import checks
from pvemcp.ssh.channel import CommandResult
from pvemcp.ssh.commands import docker_missing
from pvesim import Simulator
from tests.conftest import FULL, mcp_client, payload
from tests.helpers import pick
from tests.standins import DOCKER_TAG, SSH_FULL, Rig, add_tag, rig, running_containers

pytestmark = pytest.mark.anyio

LIMIT = 30.0
REMOTE_NAMES = {name for spec in REMOTE_TOOLS for name in (spec.name, *spec.aliases)}


@pytest.fixture
async def remote(sim: Simulator, pve: ProxmoxClient, tmp_path: Path, era: str) -> AsyncIterator[Rig]:
    with anyio.fail_after(LIMIT):
        async with rig(sim, pve, tmp_path, era) as ready:
            yield ready


def container(sim: Simulator, *, docker: bool = False) -> int:
    ctid = running_containers(sim)[0]
    if docker:
        add_tag(sim, ctid, DOCKER_TAG)
    return ctid


# pve_exec_in_container


@pytest.mark.parametrize("name", ["pve_exec_in_container", "execInContainer"])
async def test_exec_runs_an_argv_in_the_container_and_reports_all_outputs(
    remote: Rig, sim: Simulator, name: str
) -> None:
    ctid = container(sim)
    argv = ["sh", "-c", "echo out; echo err >&2; exit 3"]
    body = await remote.call(name, {"ctid": ctid, "argv": argv, "confirm": True})
    assert (body["exit_status"], body["stdout"], body["stderr"]) == (3, "out\n", "err\n")
    assert body["ctid"] == ctid and body["node"] == sim.state.guests[ctid].node and body["argv"] == argv
    assert body["route"] in ("entry", "direct")
    assert remote.calls() == [["exec", str(ctid), "--", *argv]]


async def test_exec_gives_a_command_string_to_the_container_shell_as_one_argument(remote: Rig, sim: Simulator) -> None:
    ctid = container(sim)
    command = "cd / && printf '%s|' $HOME \"a b\" ; echo"
    body = await remote.call("pve_exec_in_container", {"ctid": ctid, "command": command, "confirm": True})
    assert body["exit_status"] == 0 and body["stdout"].startswith("/tmp/") and body["stdout"].endswith("|a b|\n")
    assert remote.calls() == [["exec", str(ctid), "--", "sh", "-c", command]]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"argv": ["true"]}, "CONFIRMATION_REQUIRED"),
        ({"argv": ["true"], "command": "true", "confirm": True}, "TOOL_INPUT_REJECTED"),
        ({"confirm": True}, "TOOL_INPUT_REJECTED"),
        ({"argv": [], "confirm": True}, "TOOL_INPUT_REJECTED"),
        ({"argv": ["-rf"], "confirm": True}, "TOOL_INPUT_REJECTED"),
        ({"argv": ["echo", "a\x00b"], "confirm": True}, "TOOL_INPUT_REJECTED"),
        ({"command": "  ", "confirm": True}, "TOOL_INPUT_REJECTED"),
    ],
)
async def test_exec_refuses_before_any_ssh(remote: Rig, sim: Simulator, args: dict[str, object], code: str) -> None:
    body = await remote.error("pve_exec_in_container", {"ctid": container(sim), **args})
    assert body["code"] == code
    assert remote.calls() == [] and remote.channel.connections_opened == 0


async def test_a_vm_or_an_unknown_id_is_no_container(remote: Rig, sim: Simulator) -> None:
    vm = pick(sim, "qemu", "running").vmid
    body = await remote.error("pve_exec_in_container", {"ctid": vm, "argv": ["true"], "confirm": True})
    assert body["code"] == "GUEST_NOT_FOUND" and "QEMU VM" in body["message"]
    body = await remote.error("pve_run_remote_diagnostic", {"ctid": 9999, "command": "uptime"})
    assert body["code"] == "GUEST_NOT_FOUND"
    assert remote.calls() == []


async def test_a_stopped_container_is_refused_and_runs_once_started_through_the_api(
    remote: Rig, sim: Simulator
) -> None:
    ctid = pick(sim, "lxc", "stopped").vmid
    args = {"ctid": ctid, "argv": ["true"], "confirm": True}
    body = await remote.error("pve_exec_in_container", args)
    assert body["code"] == "CONTAINER_NOT_RUNNING" and remote.calls() == []
    await remote.call("pve_start_lxc_container", {"vmid": ctid})
    assert (await remote.call("pve_exec_in_container", args))["exit_status"] == 0


async def test_the_stand_in_refuses_what_the_simulator_says_is_stopped_or_missing(remote: Rig, sim: Simulator) -> None:
    stopped = pick(sim, "lxc", "stopped").vmid
    result = await remote.channel.run("pve1", ["pct", "exec", str(stopped), "--", "true"])
    assert (result.exit_status, result.stderr) == (2, f"CT {stopped} not running\n")
    result = await remote.channel.run("pve1", ["pct", "exec", "9999", "--", "true"])
    assert result.exit_status == 2 and "does not exist" in result.stderr
    running = container(sim)
    sim.state.guests[running].status = "stopped"  # the API now says stopped: the node agrees
    result = await remote.channel.run("pve1", ["pct", "exec", str(running), "--", "true"])
    assert result.exit_status == 2


async def test_scope_and_protection_apply_to_the_container(sim: Simulator, pve: ProxmoxClient, tmp_path: Path) -> None:
    ctid, other = running_containers(sim)[:2]
    add_tag(sim, other, "pvemcp-protected")
    async with rig(sim, pve, tmp_path) as remote:
        remote.runtime.scope = Scope(vmids=((ctid, ctid),))
        exec_args = {"argv": ["true"], "confirm": True}
        out = await remote.error("pve_exec_in_container", {"ctid": other, **exec_args})
        assert out["code"] == "OUT_OF_SCOPE"
        hidden = await remote.error("pve_run_remote_diagnostic", {"ctid": other, "command": "uptime"})
        assert hidden["code"] == "GUEST_NOT_FOUND"
        remote.runtime.scope = Scope()
        protected = await remote.error("pve_exec_in_container", {"ctid": other, **exec_args})
        assert protected["code"] == "PROTECTED_GUEST"
        assert remote.calls() == []


async def test_output_beyond_the_result_budget_is_cut_with_the_marker(remote: Rig, sim: Simulator) -> None:
    args = {"ctid": container(sim), "command": "yes 0123456789 | head -n 20000", "confirm": True}
    body = await remote.call("pve_exec_in_container", args)
    assert body["stdout_truncated"] is True and "output truncated by pvemcp" in body["stdout"]
    assert body["exit_status"] == 0


# pve_run_remote_diagnostic


@pytest.mark.parametrize("name", ["pve_run_remote_diagnostic", "runRemoteDiagnostic"])
async def test_an_allowed_diagnostic_runs_as_its_argv(remote: Rig, sim: Simulator, name: str) -> None:
    ctid = container(sim)
    body = await remote.call(name, {"ctid": ctid, "command": "uname  -a"})
    assert body["exit_status"] == 0 and body["stdout"].startswith("Linux") and body["argv"] == ["uname", "-a"]
    assert remote.calls() == [["exec", str(ctid), "--", "uname", "-a"]]


async def test_the_docker_diagnostic_keeps_its_format_as_one_argument(remote: Rig, sim: Simulator) -> None:
    ctid = container(sim, docker=True)
    body = await remote.call(
        "pve_run_remote_diagnostic", {"ctid": ctid, "command": "docker ps --format '{{.Names}} {{.Status}}'"}
    )
    assert body["stdout"] == "web Up 2 hours\n"
    assert remote.calls() == [["exec", str(ctid), "--", "docker", "ps", "--format", "{{.Names}} {{.Status}}"]]


@pytest.mark.parametrize("command", ["uptime; id", "df -h /etc", "rm -rf /", "uptime 'x", "UPTIME", "free"])
async def test_a_diagnostic_off_the_list_is_refused(remote: Rig, sim: Simulator, command: str) -> None:
    body = await remote.error("pve_run_remote_diagnostic", {"ctid": container(sim), "command": command})
    assert body["code"] == "DIAGNOSTIC_COMMAND_NOT_ALLOWED" and "uname -a" in body["message"]
    assert remote.calls() == []


# pve_docker_ps_in_container / pve_docker_logs_in_container


@pytest.mark.parametrize("name", ["pve_docker_ps_in_container", "dockerPsInContainer"])
async def test_docker_ps_lists_parsed_rows(remote: Rig, sim: Simulator, name: str) -> None:
    ctid = container(sim, docker=True)
    running = await remote.call(name, {"ctid": ctid})
    assert running["count"] == 1 and running["containers"][0]["names"] == "web"
    assert running["containers"][0]["image"] == "nginx:1.27"
    everything = await remote.call(name, {"ctid": ctid, "all": True})
    assert [c["names"] for c in everything["containers"]] == ["web", "worker"]
    base = ["exec", str(ctid), "--", "docker", "ps"]
    tail = ["--no-trunc", "--format", "{{json .}}"]
    assert remote.calls() == [[*base, *tail], [*base, "--all", *tail]]


async def test_docker_absent_is_docker_not_available(remote: Rig, sim: Simulator) -> None:
    ctid = container(sim)
    body = await remote.error("pve_docker_ps_in_container", {"ctid": ctid})
    assert body["code"] == "DOCKER_NOT_AVAILABLE" and str(ctid) in body["message"]
    body = await remote.error("pve_docker_logs_in_container", {"ctid": ctid, "containerName": "web"})
    assert body["code"] == "DOCKER_NOT_AVAILABLE"


@pytest.mark.parametrize("name", ["pve_docker_logs_in_container", "dockerLogsInContainer"])
async def test_docker_logs_keeps_stderr_apart_and_honours_tail(remote: Rig, sim: Simulator, name: str) -> None:
    ctid = container(sim, docker=True)
    body = await remote.call(name, {"ctid": ctid, "containerName": "web", "tail": 5})
    assert body["stdout"] == "".join(f"info line {i}\n" for i in range(296, 300))
    assert body["stderr"] == "warn line 300\n" and body["container"] == "web" and body["exit_status"] == 0
    default = await remote.call(name, {"ctid": ctid, "containerName": "web", "since": "30m", "timestamps": True})
    assert default["stdout"].count("\n") + default["stderr"].count("\n") == 200
    assert remote.calls() == [
        ["exec", str(ctid), "--", "docker", "logs", "--tail", "5", "--", "web"],
        ["exec", str(ctid), "--", "docker", "logs", "--tail", "200", "--timestamps", "--since", "30m", "--", "web"],
    ]


async def test_docker_logs_of_an_unknown_container_reports_dockers_answer(remote: Rig, sim: Simulator) -> None:
    body = await remote.call(
        "pve_docker_logs_in_container", {"ctid": container(sim, docker=True), "containerName": "db"}
    )
    assert body["exit_status"] == 1 and "No such container: db" in body["stderr"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"containerName": "a b"}, "INVALID_CONTAINER_NAME"),
        ({"containerName": "web;id"}, "INVALID_CONTAINER_NAME"),
        ({"containerName": "-f"}, "TOOL_INPUT_REJECTED"),
        ({"containerName": "x" * 129}, "INVALID_CONTAINER_NAME"),
        ({"containerName": "web", "tail": 2001}, "TOOL_INPUT_REJECTED"),
        ({"containerName": "web", "tail": 0}, "TOOL_INPUT_REJECTED"),
        ({"containerName": "web", "since": "yesterday"}, "TOOL_INPUT_REJECTED"),
    ],
)
async def test_docker_logs_refuses_bad_values_before_any_ssh(
    remote: Rig, sim: Simulator, args: dict[str, object], code: str
) -> None:
    body = await remote.error("pve_docker_logs_in_container", {"ctid": container(sim, docker=True), **args})
    assert body["code"] == code
    assert remote.calls() == [] and remote.channel.connections_opened == 0


# pve_ssh_batch_diagnostics


@pytest.mark.parametrize("name", ["pve_ssh_batch_diagnostics", "sshBatchDiagnostics"])
async def test_batch_diagnostics_check_every_online_node(remote: Rig, sim: Simulator, name: str) -> None:
    body = await remote.call(name, {})
    assert [n["node"] for n in body["nodes"]] == sorted(sim.state.nodes) and body["count"] == 3
    for node in body["nodes"]:
        by_check = {c["check"]: c for c in node["checks"]}
        assert list(by_check) == list(checks.CHECK_NAMES)
        assert by_check["uptime"]["ok"] and len(by_check["uptime"]["data"]["load"]) == 3
        assert by_check["memory"]["data"]["total"] > 0
        assert by_check["disk"]["data"]["filesystems"]
        assert by_check["services"]["data"] == {"failed_units": []}
        assert by_check["pveversion"]["data"] == {"version": "8.3.2", "kernel": "6.8.12-5-pve"}
        assert by_check["quorum"]["available"] is False and by_check["quorum"]["exit_status"] == 127
        assert node["healthy"] is (not node["problems"])
    assert remote.calls() == []


async def test_batch_diagnostics_on_one_node_with_chosen_checks(remote: Rig) -> None:
    body = await remote.call("pve_ssh_batch_diagnostics", {"node": "pve2", "checks": ["pveversion", "uptime"]})
    (node,) = body["nodes"]
    assert node["node"] == "pve2" and [c["check"] for c in node["checks"]] == ["uptime", "pveversion"]
    assert node["route"] == "direct"
    bad = await remote.error("pve_ssh_batch_diagnostics", {"checks": ["uptime", "rm"]})
    assert bad["code"] == "TOOL_INPUT_REJECTED"
    missing = await remote.error("pve_ssh_batch_diagnostics", {"node": "pve9"})
    assert missing["code"] == "PROXMOX_NOT_FOUND"


# Exposure


async def test_ssh_tools_are_hidden_without_ssh(sim: Simulator, pve: ProxmoxClient, era: str) -> None:
    no_ssh = replace(FULL, ssh=False)
    async with mcp_client(pve, sim, era, no_ssh) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        assert not listed & REMOTE_NAMES and "pve_list_nodes" in listed
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("pve_exec_in_container", {"ctid": 200, "argv": ["true"], "confirm": True})


async def test_an_ssh_tool_without_a_channel_says_ssh_is_not_configured(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    async with mcp_client(pve, sim, era, SSH_FULL) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} >= REMOTE_NAMES
        result = await client.call_tool("pve_ssh_batch_diagnostics", {})
        assert result.is_error and payload(result)["code"] == "SSH_NOT_CONFIGURED"


def test_pve_ssh_off_hides_the_ssh_tools_whatever_else_is_set() -> None:
    base = {"PROXMOX_HOST": "pve1.lan", "PROXMOX_USER": "root", "PROXMOX_REALM": "pam", "PROXMOX_TOKEN_NAME": "t"}
    base |= {"PROXMOX_TOKEN_SECRET": "s" * 36, "PROXMOX_SSH_HOST": "pve1.lan", "PROXMOX_SSH_USER": "root"}
    base |= {"PROXMOX_SSH_KEY_PATH": "/root/.ssh/id_ed25519"}
    assert load_config(base).policy.ssh is True
    off = load_config({**base, "PVE_SSH": "off"})
    assert off.ssh is None and off.policy.ssh is False
    assert not {name for name in REMOTE_NAMES if Inventory(off.policy).get(name) is not None}


# Parsers and classifiers


def result(stdout: str = "", stderr: str = "", exit_status: int | None = 0) -> CommandResult:
    return CommandResult(("x",), "pve1", "entry", exit_status, stdout, stderr)


def test_quorum_and_disk_parsers_flag_what_needs_a_look() -> None:
    status = (
        "Name:             prod\nNodes:            3\nExpected votes:   3\nTotal votes:      1\nQuorate:          No\n"
    )
    quorum = checks.report(checks.CHECKS[5], result(status))
    assert quorum["data"] == {"quorate": False, "cluster": "prod", "nodes": 3, "expected_votes": 3, "total_votes": 1}
    assert quorum["problems"] == ["the cluster has no quorum"]
    single = checks.report(
        checks.CHECKS[5], result(stderr="Error: ... is this node part of a cluster?\n", exit_status=2)
    )
    assert single["ok"] and single["data"] == {"clustered": False}
    df = "Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/sda1 100 95 5 95% /\n"
    disk = checks.report(checks.CHECKS[2], result(df))
    assert disk["problems"] == ["/ is 95 % full"]
    garbled = checks.report(checks.CHECKS[1], result("nonsense"))
    assert garbled["ok"] is False and garbled["stdout"] == "nonsense"


@pytest.mark.parametrize(
    ("exit_status", "stderr", "missing"),
    [
        (127, "sh: 1: docker: not found\n", True),
        (255, 'lxc-attach: 200: No such file or directory - Failed to exec "docker"\n', True),
        (1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n", True),
        (1, "Error response from daemon: No such container: db\n", False),
        (0, "", False),
    ],
)
def test_docker_absence_is_recognised(exit_status: int, stderr: str, missing: bool) -> None:
    assert (docker_missing(exit_status, stderr) is not None) is missing


async def test_a_preview_of_an_ssh_tool_shows_the_exact_argv_and_runs_nothing(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    container = pick(sim, "lxc", "running")
    before = repr(sim.state)
    # No SSH channel at all: whatever the preview says, it cannot have run anything on a node.
    async with mcp_client(pve, sim, era, SSH_FULL) as client:
        arguments = {"ctid": container.vmid, "command": "rm -rf / ; echo $(id)", "confirm": True}
        result = await client.call_tool("pve_preview", {"tool": "execInContainer", "arguments": arguments})
        batch = await client.call_tool("pve_preview", {"tool": "pve_ssh_batch_diagnostics", "arguments": {}})
    body = payload(result)
    assert body["ssh_commands"] == [["pct", "exec", str(container.vmid), "--", "sh", "-c", "rm -rf / ; echo $(id)"]]
    assert body["requests"] == [] and body["verdict"]["allowed"] is True
    assert body["target"].startswith(f"container {container.vmid} ")
    assert [argv[0] for argv in payload(batch)["ssh_commands"]] == [c.argv[0] for c in checks.CHECKS]
    assert repr(sim.state) == before and [r for r in sim.requests if r.method != "GET"] == []


async def test_the_confirmation_form_names_the_container_and_the_command(
    sim: Simulator, pve: ProxmoxClient, era: str
) -> None:
    container = pick(sim, "lxc", "running")
    asked: list[str] = []

    async def person(context: object, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="decline")

    async with mcp_client(pve, sim, era, SSH_FULL, person=person) as client:
        result = await client.call_tool("pve_exec_in_container", {"ctid": container.vmid, "argv": ["reboot"]})
    assert result.is_error and payload(result)["code"] == "CONFIRMATION_DECLINED"
    name = container.config["hostname"]
    assert len(asked) == 1 and f"container {container.vmid} '{name}' on {container.node}" in asked[0]
    assert "argv=['reboot']" in asked[0]


@pytest.mark.parametrize("args", [{}, {"command": "ls", "argv": ["ls"]}], ids=["neither", "both"])
async def test_exec_takes_exactly_one_form_of_command_before_anyone_is_asked(
    sim: Simulator, pve: ProxmoxClient, args: dict[str, object]
) -> None:
    container = pick(sim, "lxc", "running")
    async with mcp_client(pve, sim, policy=SSH_FULL) as client:
        result = await client.call_tool("pve_exec_in_container", {"ctid": container.vmid, **args})
    assert result.is_error and payload(result)["code"] == "TOOL_INPUT_REJECTED"
    assert "exactly one of: command, argv" in payload(result)["message"]
