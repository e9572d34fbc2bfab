"""pve_wait_task: wait for any task, as task-starting tools wait for their own; pve_get_task_log: a log page,
or TASK_NOT_FOUND for a task the node does not have (Proxmox answers that log with a line of its own)."""

from __future__ import annotations

from typing import Any

from pvemcp.catalog.spec import WAIT_DEFAULT
from pvemcp.pve import wire
from pvemcp.pve.errors import PveMcpError
from pvemcp.pve.tasks import read_status
from pvemcp.pve.upid import parse_upid
from pvemcp.server import waiting
from pvemcp.server.call import Call, Handler, api_params

# PVE::Tools::dump_logfile's one line for a log file it cannot open: the node has no such task.
UNOPENED = "unable to open file - "


async def task_age(call: Call, status: dict[str, Any]) -> float | None:
    """How long the task has run, in the node's own time (Proxmox's status carries no end time)."""
    node, upid = call.args["node"], call.args["upid"]
    parsed = parse_upid(upid)
    if parsed is None:
        return None
    try:
        if status.get("status") == "running":
            now = await call.client.get(wire.expand_path("/nodes/{node}/time", {"node": node}))
            return max(0.0, float(now["time"]) - parsed.starttime)
        # A finished task's end time is only in the node's task list.
        params: dict[str, Any] = {"since": parsed.starttime, "until": parsed.starttime, "typefilter": parsed.type}
        rows = await call.client.get(wire.expand_path("/nodes/{node}/tasks", {"node": node}), {**params, "limit": 500})
        row = next((r for r in rows if isinstance(r, dict) and r.get("upid") == upid), {})
        return float(row["endtime"]) - parsed.starttime if "endtime" in row else None
    except (PveMcpError, KeyError, TypeError, ValueError):
        return None  # the duration is a courtesy; the status is what was asked for


async def wait_task(call: Call) -> Any:
    """Read the status (an unknown UPID fails here, with Proxmox's error), then wait like any task tool."""
    node, upid = call.args["node"], call.args["upid"]
    status = await read_status(call.client, node, upid)
    budget = call.args.get("timeout")
    waited = await waiting.wait_for(
        call.client,
        call.clock,
        upid,
        WAIT_DEFAULT if budget is None else float(budget),
        call.ctx,
        first=status,
        age=await task_age(call, status),
    )
    return await waiting.conclude(call.client, waited, {})


def unopened(rows: Any) -> bool:
    return (
        isinstance(rows, list)
        and len(rows) == 1
        and isinstance(rows[0], dict)
        and rows[0].get("n") == 1
        and str(rows[0].get("t", "")).startswith(UNOPENED)
    )


async def task_log(call: Call) -> Any:
    """The log page as Proxmox answers it. Its "unable to open file" line for an unknown UPID is no log line:
    the status read then fails with Proxmox's own "no such task" (TASK_NOT_FOUND), as the other task tools do."""
    node, upid = call.args["node"], call.args["upid"]
    rows = await call.client.get(wire.expand_path(call.spec.path, {"node": node, "upid": upid}), api_params(call))
    if unopened(rows):
        await read_status(call.client, node, upid)  # a task whose log really says so answers its status
    return rows


HANDLERS: dict[str, Handler] = {"wait_task": wait_task, "task_log": task_log}
