"""The /_sim/ control API: steer a simulator served in another process, over HTTP.

It needs the same API token as /api2/json and answers in the same envelope. Requests to
it are not recorded in ``sim.requests``, which lists only what a Proxmox client sent.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .asgi import Message, Receive, Send, error_body, header, ok_body, read_body, respond
from .errors import ApiError
from .faults import Fault
from .state.records import Guest

if TYPE_CHECKING:
    from .recorded import RecordedRequest
    from .served import Served


def guest_state(guest: Guest) -> dict[str, object]:
    """Everything the simulator holds about a guest, for assertions from another process."""
    return {
        "vmid": guest.vmid,
        "type": guest.type,
        "node": guest.node,
        "name": guest.name,
        "status": guest.status,
        "qmpstatus": guest.qmpstatus if guest.type == "qemu" else None,
        "paused": guest.paused,
        "template": guest.template,
        "pool": guest.pool,
        "lock": guest.lock,
        "started_at": guest.started_at,
        "pid": guest.pid,
        "saved_state": guest.saved_state,
        "hastate": guest.hastate,
        "config": guest.config.as_dict(),
    }


def _request_record(sim: Served, request: RecordedRequest) -> dict[str, object]:
    """A recorded request; with effects recorded, its targets as [kind, id] pairs, sorted."""
    record: dict[str, object] = {"method": request.method, "path": request.path, "params": request.params}
    if sim.record_effects:
        record["reads"] = [list(target) for target in sorted(request.reads)]
        record["changes"] = [list(target) for target in sorted(request.changes)]
    return record


def _json_object(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError(400, f"malformed JSON body: {exc}\n") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "JSON body must be an object\n")
    return data


def _number(data: dict[str, object], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ApiError(400, f"'{key}' must be a number of at least 0\n")
    return float(value)


def _dispatch(sim: Served, method: str, path: str, body: bytes) -> object:
    route = (method, path)
    if route == ("POST", "/_sim/faults"):
        try:
            fault = Fault.from_dict(_json_object(body))
        except ValueError as exc:
            raise ApiError(400, f"{exc}\n") from exc
        sim.arm(fault)
        return [f.as_dict() for f in sim.faults.armed]
    if route == ("GET", "/_sim/faults"):
        return [f.as_dict() for f in sim.faults.armed]
    if route == ("DELETE", "/_sim/faults"):
        sim.reset_faults()
        return None
    if route == ("POST", "/_sim/clock/advance"):
        seconds = _number(_json_object(body), "seconds")
        pending = sim.runner.pending
        try:
            sim.clock.advance(seconds)
        except TypeError as exc:
            raise ApiError(409, f"{exc}\n") from exc
        sim.settle()
        return {"now": sim.clock.now(), "finished": pending - sim.runner.pending}
    if route == ("POST", "/_sim/latency"):
        sim.latency_ms = _number(_json_object(body), "ms")
        return {"ms": sim.latency_ms}
    if route == ("POST", "/_sim/settle"):
        return {"finished": sim.settle()}
    if route == ("GET", "/_sim/requests"):
        return [_request_record(sim, r) for r in sim.requests]
    if method == "GET" and path.startswith("/_sim/guests/"):
        vmid = path.rsplit("/", 1)[1]
        sim.settle()
        guest = sim.state.guests.get(int(vmid)) if vmid.isdigit() else None
        if guest is None:
            raise ApiError(404, f"guest {vmid} does not exist\n")
        return guest_state(guest)
    raise ApiError(404, f"no control endpoint {method} {path}\n")


async def handle_control(sim: Served, scope: Message, receive: Receive, send: Send) -> None:
    method: str = scope["method"]
    path: str = scope["path"].rstrip("/")
    authorization = header(scope, b"authorization")
    try:
        body = await read_body(receive)
        if not sim.check_authorization(authorization):
            raise ApiError(401, "authentication failure\n")
        result = _dispatch(sim, method, path, body)
    except ApiError as error:
        await respond(send, error.status, error_body(error))
        return
    await respond(send, 200, ok_body(result))
