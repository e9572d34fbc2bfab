"""The SSH tools: run argv lists in an LXC container (pct exec) or on nodes, over the SSH channel.

Every command comes from ssh/commands.py or ssh/checks.py, built from validated values. The container is
found in the cluster (it must be an LXC container, in scope, and running) before anything runs, so a wrong
ID never reaches a node. A non-zero exit is part of the result; only a missing docker is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anyio

from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, PveMcpError, ToolCallError, ssh_error
from pvemcp.server import scope as scoping
from pvemcp.server.call import Call, Handler
from pvemcp.server.resolve import GuestRef
from pvemcp.ssh import batch, checks, commands
from pvemcp.ssh.channel import TRUNCATED, CommandResult, NoChannel, RemoteRunner

RESULT_RESERVE = 2048  # room for everything in a result but stdout and stderr


def _runner(call: Call) -> RemoteRunner:
    """The SSH channel; a server without one says so before anything is read or run."""
    if isinstance(call.ssh, NoChannel):
        raise ssh_error(ErrorCode.SSH_NOT_CONFIGURED, f"{call.spec.name} needs SSH, which this server has not set up.")
    return call.ssh


async def _container(call: Call) -> GuestRef:
    """The running LXC container `ctid` names; the guard found it within the scope (writes: not protected)."""
    assert call.target is not None, "the guard hands the container over"
    ref, ctid = call.target, call.target.vmid
    if ref.type != "lxc":
        raise ToolCallError(
            ErrorCode.GUEST_NOT_FOUND,
            f"VMID {ctid} is a QEMU VM, not an LXC container: commands over SSH run in containers.",
            "For a VM, use pve_exec_qemu_guest_command (QEMU guest agent).",
        )
    node = call.args.get("node")
    if node and node != ref.node:
        raise ToolCallError(
            ErrorCode.TOOL_INPUT_REJECTED,
            f"{ref.describe()}, not on {node}.",
            "Leave node out: it is found from the cluster.",
        )
    path = wire.expand_path("/nodes/{node}/lxc/{vmid}/status/current", {"node": ref.node, "vmid": ctid})
    status = await call.client.get(path)
    state = status.get("status") if isinstance(status, dict) else None
    if state != "running":
        raise ToolCallError(
            ErrorCode.CONTAINER_NOT_RUNNING,
            f"{ref.describe()} is {state or 'not running'}; commands run only in a running container.",
            "Start it with pve_start_lxc_container if the user wants that, then call again.",
            details={"ctid": ctid, "node": ref.node, "status": state},
        )
    return ref


def _clip(text: str, limit: int, keep_tail: bool) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    marker = TRUNCATED.format(limit=limit)
    part = data[-limit:] if keep_tail else data[:limit]
    kept = part.decode(errors="ignore")
    return marker.lstrip("\n") + kept if keep_tail else kept + marker


def _outputs(result: CommandResult, budget: int, *, keep_tail: bool = False) -> dict[str, Any]:
    """stdout and stderr within the result budget (the channel caps them already; results are smaller)."""
    per_stream = max(1024, (budget - RESULT_RESERVE) // 4)  # JSON escaping may double a line's size
    out: dict[str, Any] = {}
    for key, text, cut in (
        ("stdout", result.stdout, result.stdout_truncated),
        ("stderr", result.stderr, result.stderr_truncated),
    ):
        clipped = _clip(text, per_stream, keep_tail)
        out[key] = clipped
        if cut or clipped != text:
            out[f"{key}_truncated"] = True
    return out


def _result(call: Call, ref: GuestRef, inner: list[str], result: CommandResult, **extra: Any) -> dict[str, Any]:
    outcome: dict[str, Any] = {"node": result.node, "ctid": ref.vmid, "argv": inner, "exit_status": result.exit_status}
    outcome.update(extra)
    outcome.update(_outputs(result, call.max_result_bytes, keep_tail=bool(extra.get("container"))))
    outcome["route"] = result.route
    return outcome


async def _run_in(call: Call, inner: list[str]) -> tuple[GuestRef, CommandResult]:
    runner = _runner(call)
    argv = commands.pct_exec(int(call.args["ctid"]), inner)  # validates before the cluster is asked
    ref = await _container(call)
    return ref, await runner.run(ref.node, argv)


def container_argv(tool: str, args: Mapping[str, Any]) -> list[str]:
    """What a container tool runs inside the container, validated: the handlers and pve_preview share it."""
    if tool == "pve_exec_in_container":
        command, argv = args.get("command"), args.get("argv")
        if (command is None) == (argv is None):
            raise commands.rejected(
                "Give exactly one of command (a string for the container's sh -c) or argv (a list, no shell).",
                'Pass e.g. argv=["ls", "-l", "/etc"], or command="ls -l /etc | head".',
            )
        return commands.shell_argv(str(command)) if command is not None else commands.checked_argv(list(argv or ()))
    if tool == "pve_run_remote_diagnostic":
        return commands.diagnostic_argv(str(args["command"]))
    if tool == "pve_docker_ps_in_container":
        return commands.docker_ps(all_containers=bool(args.get("all")))
    since = args.get("since")
    return commands.docker_logs(
        commands.container_name(str(args["containerName"])),
        int(args.get("tail", commands.TAIL_DEFAULT)),
        timestamps=bool(args.get("timestamps")),
        since=str(since) if since is not None else None,
    )


def planned_commands(tool: str, args: Mapping[str, Any]) -> list[list[str]]:
    """The argv(s) a remote tool would run on the node, for pve_preview."""
    if tool == "pve_ssh_batch_diagnostics":
        names = args.get("checks")
        return [list(check.argv) for check in checks.selected(list(names) if names else None)]
    return [commands.pct_exec(int(args["ctid"]), container_argv(tool, args))]


async def exec_in_container(call: Call) -> Any:
    inner = container_argv(call.spec.name, call.args)
    ref, result = await _run_in(call, inner)
    return _result(call, ref, inner, result)


async def run_remote_diagnostic(call: Call) -> Any:
    inner = container_argv(call.spec.name, call.args)
    ref, result = await _run_in(call, inner)
    return _result(call, ref, inner, result)


def _docker_answered(ref: GuestRef, result: CommandResult) -> None:
    why = commands.docker_missing(result.exit_status, result.stderr)
    if why is not None:
        raise ToolCallError(
            ErrorCode.DOCKER_NOT_AVAILABLE,
            f"Docker is not available in {ref.describe()}: {why}.",
            "Pick the LXC container that runs Docker (pve_list_lxc_containers), or install Docker in this one.",
            details={"exit_status": result.exit_status, "stderr": result.stderr[-500:]},
        )


DOCKER_FIELDS = ("Names", "Image", "State", "Status", "Ports", "ID", "CreatedAt", "RunningFor", "Command")


def _docker_rows(stdout: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of `docker ps --format '{{json .}}'`, with the fields that matter; lines that are no JSON apart."""
    rows: list[dict[str, Any]] = []
    other: list[str] = []
    for line in stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if isinstance(row, dict):
            rows.append({key.lower(): row[key] for key in DOCKER_FIELDS if key in row})
        elif line.strip():
            other.append(line)
    return rows, other


async def docker_ps_in_container(call: Call) -> Any:
    inner = container_argv(call.spec.name, call.args)
    ref, result = await _run_in(call, inner)
    _docker_answered(ref, result)
    rows, other = _docker_rows(result.stdout)
    outcome: dict[str, Any] = {"node": result.node, "ctid": ref.vmid, "argv": inner, "exit_status": result.exit_status}
    outcome.update(containers=rows, count=len(rows))
    if other:
        outcome["unparsed"] = other[:50]
    if result.stderr:
        outcome["stderr"] = result.stderr[-4000:]
    if result.stdout_truncated:
        outcome["stdout_truncated"] = True
    outcome["route"] = result.route
    return outcome


async def docker_logs_in_container(call: Call) -> Any:
    inner = container_argv(call.spec.name, call.args)
    ref, result = await _run_in(call, inner)
    _docker_answered(ref, result)
    return _result(call, ref, inner, result, container=str(call.args["containerName"]))


async def _node_checks(runner: RemoteRunner, node: str, wanted: tuple[checks.Check, ...]) -> dict[str, Any]:
    """One node's checks over its one connection; a node that cannot be reached is reported, not raised."""
    argvs = [list(check.argv) for check in wanted]
    marker = batch.new_marker()
    try:  # one session for every check: see ssh/batch.py
        results = batch.split(await runner.run(node, batch.batch_argv(argvs, marker)), argvs, marker)
    except PveMcpError as exc:
        return {"node": node, "healthy": False, "error": exc.to_payload()}
    reports = [checks.report(check, result) for check, result in zip(wanted, results, strict=True)]
    problems = [p for r in reports for p in r["problems"]]
    healthy = not problems and all(r["ok"] or r.get("available") is False for r in reports)
    route = results[0].route if results else None
    return {"node": node, "healthy": healthy, "problems": problems, "checks": reports, "route": route}


async def _nodes(call: Call, node: str | None) -> list[str]:
    """The node asked for (it must exist), or every online node within the scope."""
    rows = await call.client.get("/nodes")
    status = {str(r["node"]): r.get("status") for r in rows if isinstance(r, dict) and r.get("node")}
    if node is not None:  # the guard answered a node outside the scope as unknown already
        if node not in status:
            raise scoping.unknown_node(node)
        return [node]
    return sorted(n for n, state in status.items() if state == "online" and call.scope.allows_node(n))


async def ssh_batch_diagnostics(call: Call) -> Any:
    runner = _runner(call)
    names = call.args.get("checks")
    unknown = sorted(set(names or ()) - set(checks.CHECK_NAMES))
    if unknown:
        raise commands.rejected(
            f"Unknown checks: {', '.join(unknown)}.", f"Pick from: {', '.join(checks.CHECK_NAMES)}."
        )
    wanted = checks.selected(names)
    node = call.args.get("node")
    nodes = await _nodes(call, str(node) if node else None)
    found: dict[str, dict[str, Any]] = {}

    async def one(name: str) -> None:
        found[name] = await _node_checks(runner, name, wanted)

    async with anyio.create_task_group() as group:
        for name in nodes:
            group.start_soon(one, name)
    reports = [found[name] for name in nodes]
    return {"healthy": all(r["healthy"] for r in reports), "nodes": reports, "count": len(reports)}


HANDLERS: dict[str, Handler] = {
    "exec_in_container": exec_in_container,
    "run_remote_diagnostic": run_remote_diagnostic,
    "ssh_batch_diagnostics": ssh_batch_diagnostics,
    "docker_ps_in_container": docker_ps_in_container,
    "docker_logs_in_container": docker_logs_in_container,
}
