"""The ASGI app: /api2/json with PVE's envelope, token auth and faults, plus the /_sim/ control API.

Plain ASGI (no framework) keeps the per-request overhead small. Order per request:
record it (with what it addresses, when effects are recorded), add latency, fire a matching
fault, check the token, finish due tasks, route (501), check permissions (403), resolve the node
(500), check parameters (400), run the handler (its rows filtered as far as the caller may see
them). Finishing due tasks and the handler run inside the effect record's scope for this request
(effects.py), with no await in between.
"""

from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

import anyio

from .addressing import addressed
from .asgi import Message, Receive, Send, error_body, header, ok_body, read_body, respond
from .authorize import authorize, visible
from .control import handle_control
from .errors import ApiError, fail, param_error
from .faults import LOGIN_PAGE, NGINX_502, Fault
from .params import validate
from .recorded import RecordedRequest
from .routes import Call, Download, Route

if TYPE_CHECKING:
    from .served import Served

log = logging.getLogger("pvesim")

API_PREFIX = "/api2/json"
# A long-running sandbox forgets its oldest half of recorded requests past this many.
MAX_RECORDED = 100_000


def _merge(into: dict[str, object], pairs: list[tuple[str, str]]) -> None:
    """Repeated keys are joined with NUL, as PVE's URL decoder does for list formats."""
    for key, value in pairs:
        previous = into.get(key)
        into[key] = value if previous is None else f"{previous}\0{value}"


def parse_params(scope: Message, method: str, body: bytes) -> dict[str, object]:
    """Body parameters (form or JSON) for POST/PUT, then the query string on top, as PVE merges them."""
    params: dict[str, object] = {}
    if method in ("POST", "PUT") and body:
        ctype = header(scope, b"content-type").split(";", 1)[0].strip().lower()
        if ctype == "application/json":
            try:
                decoded = json.loads(body)
            except ValueError as exc:
                raise fail(f"malformed JSON string: {exc}", 400) from exc
            if not isinstance(decoded, dict):
                raise fail("JSON body must be an object", 400)
            params.update({str(k): v for k, v in decoded.items()})
        else:
            _merge(params, parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    query: dict[str, object] = {}
    _merge(query, parse_qsl(bytes(scope.get("query_string", b"")).decode("utf-8", "replace"), keep_blank_values=True))
    params.update(query)
    return params


class SimApp:
    """ASGI entry point bound to one simulator."""

    def __init__(self, sim: Served) -> None:
        self._sim = sim

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            await self._api(scope, receive, send)
        elif path.startswith("/_sim/"):
            await handle_control(self._sim, scope, receive, send)
        else:
            await respond(send, 404, b"File not found", b"text/plain;charset=UTF-8")

    async def _api(self, scope: Message, receive: Receive, send: Send) -> None:
        sim = self._sim
        method: str = scope["method"]
        raw = bytes(scope.get("raw_path") or scope["path"].encode())[len(API_PREFIX) :]
        segments = [unquote(seg) for seg in raw.decode("utf-8", "replace").split("/") if seg]
        rel = "/" + "/".join(segments)
        # A malformed body is reported only after faults and authentication, as PVE would.
        problem: ApiError | None = None
        params: dict[str, object] = {}
        try:
            params = parse_params(scope, method, await read_body(receive))
        except ApiError as error:
            problem = error
        record = RecordedRequest(method, rel, dict(params))
        sim.requests.append(record)
        if len(sim.requests) > MAX_RECORDED:
            del sim.requests[: MAX_RECORDED // 2]
        found = sim.router.match(method, segments)
        effects = sim.effects
        if effects is not None:
            record.reads.update(addressed(sim.state, segments, found, params))
        if sim.latency_ms > 0:
            await anyio.sleep(sim.latency_ms / 1000)
        fault = sim.faults.take(method, rel)
        if fault is not None:
            await _fire(fault, send)
            return
        caller = sim.authenticate(header(scope, b"authorization"))
        if caller is None:
            await respond(send, 401, error_body(ApiError(401, "authentication failure\n")))
            return
        effects = sim.effects  # looked up again: recording may have been switched during the awaits
        acting: AbstractContextManager[object] = nullcontext() if effects is None else effects.acting_for(record)
        with acting:
            sim.runner.settle()
            try:
                if problem is not None:
                    raise problem
                result = self._dispatch(method, rel, found, params, caller)
            except ApiError as error:
                result = error
        if isinstance(result, ApiError):
            await respond(send, result.status, error_body(result))
            return
        if isinstance(result, Download):
            disposition = f'attachment; filename="{result.filename}"'.encode()
            extra = ((b"content-disposition", disposition),)
            await respond(send, 200, result.body, result.content_type.encode(), extra)
            return
        await respond(send, 200, ok_body(result))

    def _dispatch(
        self, method: str, rel: str, found: tuple[Route, dict[str, str]] | None, params: dict[str, object], caller: str
    ) -> object:
        sim = self._sim
        if found is None:
            raise ApiError(501, f"Method '{method} {rel}' not implemented")
        route, path_values = found
        for name, value in params.items():
            if name in path_values and path_values[name] != value:
                raise param_error({name: "duplicate parameter (already defined in URI) with conflicting values!"})
        # As pveproxy does: the permission check, on the raw parameters, before proxying and validation.
        authorize(sim.state, caller, method, route.path, {**params, **path_values})
        node = path_values.get("node")
        if node is not None:
            path_values["node"] = _resolve_node(sim, node)
        values = validate(route.declared, {**params, **path_values})
        try:
            # Requests act as the token that sent them (tasks, permissions), as on a real cluster.
            ctx = sim.context if caller == sim.context.user else replace(sim.context, user=caller)
            return visible(sim.state, caller, method, route.path, values, route.handler(Call(ctx, values)))
        except ApiError:
            raise
        except Exception as exc:
            log.exception("simulator handler failed for %s %s", method, rel)
            raise fail(f"internal error: {exc}") from exc


def _resolve_node(sim: Served, node: str) -> str:
    """pveproxy forwards a request to the node named in the path before any parameter check.

    A name that is not a cluster member fails the address lookup, which PVE reports as a
    500 with the resolver's words; an offline member answers 595 from the proxy.
    """
    state = sim.state
    if node == "localhost":
        return state.local_node
    member = state.nodes.get(node)
    if member is None:
        raise fail(
            f"hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"
        )
    if not member.online:
        raise ApiError(595, "No route to host\n")
    return node


async def _fire(fault: Fault, send: Send) -> None:
    if fault.kind == "hang":
        await anyio.sleep_forever()
    if fault.kind == "html":
        await respond(send, fault.status_code, NGINX_502.encode(), b"text/html")
    elif fault.kind == "bad-json":
        await respond(send, fault.status_code, LOGIN_PAGE.encode(), b"text/html;charset=UTF-8")
    else:
        text = fault.text if fault.text.endswith("\n") else fault.text + "\n"
        await respond(send, fault.status_code, error_body(ApiError(fault.status_code, text)))


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
