"""Answers about one guest: the migration preflight (and the migrate tools that run it first), and
"why is this guest down or slow?".

The diagnosis reads what an administrator would look at in turn (the guest's status and config, its node's
load, its recent tasks and the failed ones' logs, its storages, its guest agent, HA) and turns it into
findings, worst first, each pointing at the call that shows more. A read that fails becomes a finding too:
the answer is about the guest, and a node that does not answer is part of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pvemcp.pve import wire
from pvemcp.pve.errors import ErrorCode, PveMcpError, ToolCallError
from pvemcp.pve.tasks import LogReader, succeeded
from pvemcp.server.call import Call, Handler, api_params
from pvemcp.server.composites.preflight import NOUN, SID_KIND, Intent, described, flag, gib, part, preflight

SEVERITY = {"critical": 0, "warning": 1, "info": 2}
DISK = re.compile(r"^(?:ide|sata|scsi|virtio)\d+$|^efidisk0$|^tpmstate0$|^rootfs$|^mp\d+$")
START_TASKS = frozenset({"qmstart", "vzstart", "qmresume", "vzresume", "hastart"})
BUSY = 90.0  # percent of CPU or memory from which a guest or node counts as saturated
TAIL = 5  # log lines kept per failed task
DEFAULT_TASKS = 5


def power(kind: str, action: str) -> str:
    """The catalog's power tool: pve_start_qemu_vm, pve_resume_lxc_container."""
    return f"pve_{action}_{kind}_{'vm' if kind == 'qemu' else 'container'}"


def _guest(call: Call) -> tuple[int, str, str]:
    return int(call.args["vmid"]), str(call.args["guest_type"]), str(call.args["node"])


async def migration_preflight(call: Call) -> Any:
    """pve_migration_preflight: the verdict, without moving anything."""
    vmid, kind, node = _guest(call)
    target = call.args.get("target")
    return await preflight(call, vmid, kind, node, None if target is None else str(target), Intent())


async def migrate_guest(call: Call) -> Any:
    """pve_qemu_migrate / pve_lxc_migrate: the preflight again (the cluster may have changed while the person
    was asked), then the migration."""
    await check_migration(call)
    path = wire.expand_path(call.spec.path, {"node": str(call.args["node"]), "vmid": int(call.args["vmid"])})
    return {"upid": str(await call.client.post(path, api_params(call)))}


async def check_migration(call: Call) -> None:
    """A blocker refuses the migration before anything is sent, and before anyone is asked to confirm it, in
    Proxmox's words where it has them, with the call that works instead."""
    kind = "qemu" if call.spec.guest_type == "qemu" else "lxc"
    vmid, node, args = int(call.args["vmid"]), str(call.args["node"]), call.args
    intent = Intent(
        online=args.get("online"),
        with_local_disks=args.get("with-local-disks"),
        restart=args.get("restart"),
        targetstorage=args.get("targetstorage"),
    )
    verdict = await preflight(call, vmid, kind, node, str(args["target"]), intent)
    if verdict["blockers"]:
        first = verdict["blockers"][0]
        use = verdict["use"]
        more = len(verdict["blockers"]) - 1
        message = first["message"] + (f" ({more} more blocker{'s' if more > 1 else ''} in details)" if more else "")
        hint = first["hint"] + (f" The call that works: {described(use)}." if use else "")
        raise ToolCallError(
            ErrorCode.TOOL_INPUT_REJECTED, message, hint, details={"blockers": verdict["blockers"], "use": use}
        )


def at(epoch: Any) -> str | None:
    """A Proxmox epoch as ISO-8601 UTC."""
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def percent(amount: Any, whole: Any) -> float | None:
    try:
        return round(float(amount) * 100 / float(whole), 1) if float(whole) else None
    except (TypeError, ValueError):
        return None


def finding(severity: str, message: str, tool: str | None = None, **arguments: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"severity": severity, "message": message}
    if tool is not None:
        found["next"] = {"tool": tool, "arguments": arguments}
    return found


async def _read(call: Call, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, str | None]:
    """The answer, or why there is none: the diagnosis goes on without it."""
    try:
        return await call.client.get(path, params), None
    except PveMcpError as exc:
        return None, exc.message.strip()


def _task_state(row: Mapping[str, Any]) -> str:
    status = row.get("status")
    if row.get("endtime") is None or status in (None, "RUNNING"):
        return "running"
    if succeeded(str(status)):
        return "ok" if status == "OK" else "warning"
    return "failed"


async def _tasks(call: Call, node: str, vmid: int, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    rows, error = await _read(call, f"/nodes/{node}/tasks", {"vmid": vmid, "limit": limit, "source": "all"})
    tasks = []
    for row in rows or []:
        if not isinstance(row, Mapping):
            continue
        start, end = row.get("starttime"), row.get("endtime")
        task: dict[str, Any] = {"upid": row.get("upid"), "type": row.get("type"), "status": _task_state(row)}
        if task["status"] not in ("running", "ok"):
            task["exitstatus"] = row.get("status")
        task.update(user=row.get("user"), started_at=at(start), ended_at=at(end))
        if isinstance(start, int) and isinstance(end, int):
            task["duration_s"] = end - start
        if task["status"] == "failed" and isinstance(task["upid"], str):
            try:
                lines = await LogReader(call.client, node, task["upid"]).last_lines()
            except PveMcpError:
                lines = []
            task["log_tail"] = [line for line in lines if not line.startswith("TASK ERROR:")][-TAIL:]
        tasks.append(task)
    return tasks, error


def _task_findings(tasks: list[dict[str, Any]], running: bool) -> list[dict[str, Any]]:
    """Failures not made good by a later success of the same kind; the newest finished task's failure, or a failed
    start of a guest that is down, is the answer."""
    found = []
    newest = next((i for i, t in enumerate(tasks) if t["status"] != "running"), None)
    for index, task in enumerate(tasks):
        if task["status"] != "failed":
            continue
        later = tasks[:index]
        if any(t["type"] == task["type"] and t["status"] in ("ok", "warning") for t in later):
            continue
        critical = index == newest or (task["type"] in START_TASKS and not running)
        when = f" at {task['started_at']}" if task.get("started_at") else ""
        message = f"Its last {task['type']} task{when} failed: {task.get('exitstatus')}"
        found.append(finding("critical" if critical else "warning", message, "pve_get_task_log", upid=task["upid"]))
    return found


def _boot_disk(config: Mapping[str, Any]) -> str | None:
    boot = str(config.get("boot") or "")
    if "order=" in boot:
        order = boot.split("order=", 1)[1].split(",")[0].split(";")
        return next((d for d in order if DISK.match(d) and "media=cdrom" not in str(config.get(d, ""))), None)
    return str(config["bootdisk"]) if config.get("bootdisk") else None


def _config_findings(
    kind: str, vmid: int, node: str, config: Mapping[str, Any], storages: Any, running: bool
) -> list[dict[str, Any]]:
    found = []
    get_config = f"pve_get_{kind}_config"
    boot = "rootfs" if kind == "lxc" else _boot_disk(config)
    if boot is not None and boot not in config:
        found.append(finding("critical", f"Its boot disk {boot} is not in its config.", get_config, vmid=vmid))
    elif kind == "qemu" and not any(DISK.match(k) for k in config):
        found.append(finding("warning", "It has no disk.", get_config, vmid=vmid))
    if isinstance(storages, list):
        active = {str(s.get("storage")): flag(s.get("active")) for s in storages if isinstance(s, Mapping)}
        for key in sorted(k for k in config if DISK.match(k)):
            volid = str(config[key]).split(",")[0]
            storage = volid.split(":", 1)[0] if ":" in volid else None
            if storage is None or active.get(storage, False):
                continue
            why = "is not active" if storage in active else "is not available"
            message = f"Storage '{storage}' of {key} ({volid}) {why} on node '{node}'."
            found.append(finding("critical", message, "pve_list_node_storage", node=node))
    if not flag(config.get("onboot")):
        found.append(
            finding(
                "info" if running else "warning",
                "onboot is off: it does not start when its node boots.",
                f"pve_{kind}_update_config",
                vmid=vmid,
                onboot=True,
            )
        )
    return found


async def _since_boot(call: Call, findings: list[dict[str, Any]], node: str, data: Any, running: bool) -> None:
    """A stopped guest with onboot off stayed down when its node last booted: say when that was, by the node's
    own clock."""
    uptime = data.get("uptime") if isinstance(data, Mapping) else None
    onboot = [f for f in findings if str(f.get("message", "")).startswith("onboot is off")]
    if running or not onboot or not isinstance(uptime, int) or isinstance(uptime, bool):
        return
    clock, error = await _read(call, f"/nodes/{node}/time")
    now = clock.get("time") if isinstance(clock, Mapping) and error is None else None
    if isinstance(now, int | float) and not isinstance(now, bool):
        onboot[0]["message"] += f" Node {node} last booted at {at(now - uptime)}; nothing started it then."


def _pressure(node: str, data: Any) -> dict[str, Any]:
    data = data if isinstance(data, Mapping) else {}
    memory, swap, cpuinfo = part(data, "memory"), part(data, "swap"), part(data, "cpuinfo")
    load = [float(v) for v in data.get("loadavg") or [] if str(v).replace(".", "", 1).isdigit()]
    pressure: dict[str, Any] = {"node": node, "online": True, "cpus": cpuinfo.get("cpus")}
    pressure["cpu_percent"] = percent(data.get("cpu"), 1)
    pressure["iowait_percent"] = percent(data.get("wait"), 1)
    pressure.update(zip(("load_1", "load_5", "load_15"), load, strict=False))
    total = memory.get("total")
    available = memory.get("available", memory.get("free"))
    pressure.update(memory_total_bytes=total, memory_used_bytes=memory.get("used"), memory_available_bytes=available)
    pressure["memory_percent"] = percent(memory.get("used"), total)
    pressure.update(swap_total_bytes=swap.get("total"), swap_used_bytes=swap.get("used"))
    pressure["swap_percent"] = percent(swap.get("used"), swap.get("total"))
    return pressure


def _pressure_findings(node: str, p: Mapping[str, Any]) -> list[dict[str, Any]]:
    found, status = [], {"node": node}
    if (p.get("cpu_percent") or 0) >= BUSY:
        found.append(finding("warning", f"Node {node} CPU is at {p['cpu_percent']}%.", "pve_get_node_status", **status))
    cores = p.get("cpus")
    if isinstance(cores, int) and cores and (p.get("load_1") or 0) > cores:
        message = f"Node {node} load {p['load_1']} is above its {cores} cores: work waits for a CPU."
        found.append(finding("warning", message, "pve_get_node_status", **status))
    if (p.get("iowait_percent") or 0) >= 10:
        message = f"Node {node} spends {p['iowait_percent']}% of its time waiting for I/O."
        found.append(finding("warning", message, "pve_get_node_metrics_hour", **status))
    if (p.get("memory_percent") or 0) >= BUSY:
        found.append(
            finding("warning", f"Node {node} memory is {p['memory_percent']}% used.", "pve_get_node_status", **status)
        )
    if (p.get("swap_percent") or 0) >= 50:
        message = f"Node {node} swap is {p['swap_percent']}% used: guests may be swapped out."
        found.append(finding("warning", message, "pve_get_node_status", **status))
    return found


async def diagnose_guest(call: Call) -> Any:
    """pve_diagnose_guest: why a guest is down or slow, in one answer."""
    vmid, kind, node = _guest(call)
    noun = NOUN[kind]
    base = wire.expand_path("/nodes/{node}/{kind}/{vmid}", {"node": node, "kind": kind, "vmid": vmid})
    members = await call.client.get("/nodes") or []
    if not any(isinstance(m, Mapping) and m.get("node") == node and m.get("status") == "online" for m in members):
        message = f"Node {node}, where {noun} {vmid} lives, is offline: nothing on it answers."
        return {
            "vmid": vmid,
            "name": call.target.name if call.target is not None else None,
            "type": kind,
            "node": node,
            "state": "unknown",
            "findings": [finding("critical", message, "pve_list_nodes")],
            "status": {},
            "node_pressure": {"node": node, "online": False},
            "recent_tasks": [],
        }
    status = await call.client.get(f"{base}/status/current") or {}
    config, config_error = await _read(call, f"{base}/config")
    config = config if isinstance(config, Mapping) else {}
    running = status.get("status") == "running"
    state = "paused" if status.get("qmpstatus") in ("paused", "suspended") else str(status.get("status"))
    lock = status.get("lock") or config.get("lock")
    tasks, tasks_error = await _tasks(call, node, vmid, int(call.args.get("tasks") or DEFAULT_TASKS))
    findings = _task_findings(tasks, running)
    if lock == "suspended":
        findings.append(finding("info", "It is hibernated: resume it to continue.", power(kind, "resume"), vmid=vmid))
    elif lock:
        holder = next((t for t in tasks if t["status"] == "running"), None)
        if holder is not None:
            message = f"It is locked ({lock}) by its running {holder['type']} task."
            findings.append(finding("warning", message, "pve_wait_task", upid=holder["upid"]))
        else:
            message = f"{noun} is locked ({lock}) and no task of it runs: start, migrate and config changes fail."
            findings.append(finding("critical", message, "pve_list_tasks", node=node, vmid=vmid, errors=True))
    node_data, node_error = await _read(call, f"/nodes/{node}/status")
    pressure = _pressure(node, node_data) if node_error is None else {"node": node, "online": True, "error": node_error}
    if node_error is not None:
        findings.append(finding("warning", f"Node {node}'s status could not be read: {node_error}"))
    storages, _ = await _read(call, f"/nodes/{node}/storage")
    if config_error is not None:
        findings.append(finding("warning", f"Its config could not be read: {config_error}"))
    elif status.get("template") or flag(config.get("template")):
        findings.append(finding("info", "It is a template: templates never run; clone it instead."))
    else:
        findings += _config_findings(kind, vmid, node, config, storages, running)
        await _since_boot(call, findings, node, node_data, running)
    maxmem, mem, cpus = status.get("maxmem"), status.get("mem"), status.get("cpus")
    available = pressure.get("memory_available_bytes")
    if not running and isinstance(maxmem, int) and isinstance(available, int) and maxmem > available:
        message = f"It needs {gib(maxmem)} of memory to start; node {node} has {gib(available)} available."
        findings.append(finding("critical", message, "pve_get_node_status", node=node))
    findings += await _agent_findings(call, kind, vmid, base, status, running)
    findings += _ha_findings(kind, vmid, status, running)
    usage: dict[str, Any] = {"state": state, "uptime_s": status.get("uptime"), "cores": cpus}
    usage["cpu_percent"] = percent(status.get("cpu"), 1) if running else None
    usage.update(memory_used_bytes=mem if running else None, memory_bytes=maxmem)
    usage["memory_percent"] = percent(mem, maxmem) if running else None
    usage.update(lock=lock, onboot=flag(config.get("onboot")))
    ha = part(status, "ha")
    managed = flag(ha.get("managed"))
    usage["ha"] = {"managed": managed, "sid": f"{SID_KIND[kind]}:{vmid}" if managed else None, "state": ha.get("state")}
    if running:
        metrics = f"pve_get_{kind}_metrics_hour"
        if state == "paused":
            findings.append(finding("warning", "It is paused: its CPUs do not run.", power(kind, "resume"), vmid=vmid))
        if (usage["cpu_percent"] or 0) >= BUSY:
            message = f"It uses {usage['cpu_percent']}% of its {cpus} cores."
            findings.append(finding("warning", message, metrics, vmid=vmid))
        if (usage["memory_percent"] or 0) >= BUSY:
            message = f"It uses {usage['memory_percent']}% of its {gib(int(maxmem or 0))} of memory."
            findings.append(finding("warning", message, metrics, vmid=vmid))
        findings += _pressure_findings(node, pressure)
    elif not findings or all(f["severity"] == "info" for f in findings):
        message = f"It is {state}; nothing found that keeps it from starting."
        findings.append(finding("info", message, power(kind, "start"), vmid=vmid))
    if tasks_error is not None:
        findings.append(finding("info", f"Its tasks could not be read: {tasks_error}"))
    if running and not any(f["severity"] != "info" for f in findings):
        findings.append(finding("info", "It runs and nothing found points to a problem."))
    findings.sort(key=lambda f: SEVERITY[f["severity"]])
    return {
        "vmid": vmid,
        "name": status.get("name"),
        "type": kind,
        "node": node,
        "state": state,
        "findings": findings,
        "status": usage,
        "node_pressure": pressure,
        "recent_tasks": tasks,
    }


async def _agent_findings(
    call: Call, kind: str, vmid: int, base: str, status: Mapping[str, Any], running: bool
) -> list[dict[str, Any]]:
    """A VM whose agent is enabled but does not answer: shutdowns, backups' freeze and IP reporting fail."""
    if kind != "qemu" or not running or not flag(status.get("agent")):
        return []
    _, error = await _read(call, f"{base}/agent/info")
    if error is None:
        return []
    booting = isinstance(status.get("uptime"), int) and status["uptime"] < 120
    message = f"The guest agent is enabled but does not answer: {error}"
    message += " (it may still be booting)" if booting else ""
    return [finding("info" if booting else "warning", message, "pve_get_qemu_agent_info", vmid=vmid)]


def _ha_findings(kind: str, vmid: int, status: Mapping[str, Any], running: bool) -> list[dict[str, Any]]:
    ha = part(status, "ha")
    if not flag(ha.get("managed")):
        return []
    sid, state = f"{SID_KIND[kind]}:{vmid}", ha.get("state")
    if state in ("error", "fence", "recovery"):
        return [finding("critical", f"HA reports {sid} in state {state}.", "pve_get_cluster_ha_status")]
    if state in ("stopped", "disabled") and not running:
        message = f"HA keeps {sid} {state}: a start goes through HA (set its state to started)."
        return [finding("warning", message, "pve_update_ha_resource", sid=sid, state="started")]
    if state == "started" and not running:
        return [finding("warning", f"HA should run {sid} but it is not running.", "pve_get_cluster_ha_status")]
    return []


# Checks a call must pass before the person is asked to confirm it (server/dispatch.py runs them after planning).
PRECHECKS: dict[str, Handler] = {"migrate_guest": check_migration}

HANDLERS: dict[str, Handler] = {
    "migration_preflight": migration_preflight,
    "migrate_guest": migrate_guest,
    "diagnose_guest": diagnose_guest,
}
