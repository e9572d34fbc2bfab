"""Serving MCP on stdio, against a real cluster or the embedded sandbox.

Lines travel through pvemcp/stdio/transport.py (asyncio pipes, no thread per line) when stdin and stdout
are pipes, sockets or terminals, else through the SDK's `stdio_server`. Either way a line that is no
JSON-RPC message gets its JSON-RPC answer (-32700 parse error, -32600 invalid request), so a client waiting
for it is told, and the server goes on serving; the SDK alone would drop it in silence.

SIGTERM and SIGINT (Ctrl-C in a terminal) stop serving like the end of input: the audit log and connections
are closed, the exit status is 0. Both are caught explicitly, since a process started with SIGINT ignored (a
job a non-interactive shell put in the background, and whatever it starts) would otherwise keep serving.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pvemcp.compose import log_safety, make_client, make_runtime, settle_heap
from pvemcp.config import Config

if TYPE_CHECKING:
    from anyio import CancelScope
    from mcp.server import Server
    from mcp.shared._stream_protocols import ReadStream, WriteStream
    from mcp.shared.message import SessionMessage
    from mcp_types import JSONRPCError

    from pvemcp.server.dispatch import Runtime

log = logging.getLogger("pvemcp")

PARSE_ERROR, INVALID_REQUEST = -32700, -32600


def unreadable_answer(error: Exception) -> JSONRPCError | None:
    """The JSON-RPC error for a line the transport could not read, or None for a blank line (nothing to answer)."""
    import mcp_types as types
    from pydantic import ValidationError

    details = error.errors() if isinstance(error, ValidationError) else []
    request_id: str | int | None = None
    if details and details[0]["type"] == "json_invalid":
        if not str(details[0].get("input", "x")).strip():
            return None
        code, message = PARSE_ERROR, "Parse error: the line is not JSON"
    else:
        code, message = INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message"
        # A field missing from the message itself carries the whole message: answer its id when it has one.
        whole = next((d["input"] for d in details if d["type"] == "missing" and len(d["loc"]) == 2), None)
        found: Any = whole.get("id") if isinstance(whole, Mapping) else None
        if isinstance(found, int | str) and not isinstance(found, bool):
            request_id = found
    return types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message))


async def answer_unreadable(
    source: ReadStream[SessionMessage | Exception],
    sink: WriteStream[SessionMessage | Exception],
    replies: WriteStream[SessionMessage],
    open_requests: OpenRequests | None = None,
) -> None:
    """Pass every message from `source` to `sink`; answer the lines the transport could not read on `replies`.

    open_requests: when the input ends, the requests still being answered are waited for before the server is
    told, since it cancels what is in flight once its input closes.
    """
    import anyio

    try:
        async with sink:
            async for item in source:
                if not isinstance(item, Exception):
                    if open_requests is not None:
                        open_requests.sent(item)
                    await sink.send(item)
                elif (answer := answer_message(item)) is not None:
                    await replies.send(answer)
            if open_requests is not None:
                with anyio.move_on_after(DRAIN_SECONDS):
                    await open_requests.answered()
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        return  # the server stopped reading or writing: the connection is over


class OpenRequests:
    """The requests read but not yet answered, for an input that ends before its answers are written."""

    def __init__(self) -> None:
        import anyio

        self._ids: set[str | int] = set()
        self._changed = anyio.Event()

    def sent(self, item: SessionMessage) -> None:
        import mcp_types as types

        if isinstance(item.message, types.JSONRPCRequest):
            self._ids.add(item.message.id)

    def written(self, item: SessionMessage) -> None:
        import anyio
        import mcp_types as types

        message = item.message
        if isinstance(message, types.JSONRPCResponse | types.JSONRPCError) and message.id is not None:
            self._ids.discard(message.id)
            self._changed.set()
            self._changed = anyio.Event()

    async def answered(self) -> None:
        while self._ids:
            await self._changed.wait()


async def write_through(
    answers: ReadStream[SessionMessage], out: WriteStream[SessionMessage], open_requests: OpenRequests
) -> None:
    """Write the server's messages out, noting each request answered."""
    async with out:
        async for item in answers:
            await out.send(item)
            open_requests.written(item)


def answer_message(error: Exception) -> SessionMessage | None:
    """The message that answers an unreadable line (None: nothing to answer), logged."""
    from mcp.shared.message import SessionMessage

    answer = unreadable_answer(error)
    if answer is None:
        return None
    log.warning("stdio: a line that is no JSON-RPC message got error %d", answer.error.code)
    return SessionMessage(answer)


async def serve_lines(server: Server[Any]) -> None:
    """Serve `server` on stdin and stdout until the input ends."""
    from pvemcp.stdio import transport

    if transport.usable():
        async with transport.stdio_streams(answer_message) as (lines_in, lines_out):
            await server.run(lines_in, lines_out, server.create_initialization_options())
        return
    import anyio
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    async with stdio_server() as (read_stream, write_stream):
        sink, messages = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        answers, answered = anyio.create_memory_object_stream[SessionMessage](0)
        open_requests = OpenRequests()
        async with anyio.create_task_group() as tg:
            tg.start_soon(write_through, answered, write_stream, open_requests)
            tg.start_soon(answer_unreadable, read_stream, sink, write_stream, open_requests)
            await server.run(messages, answers, server.create_initialization_options())
            await answers.aclose()  # the server is done: so is the writer


# How long answers to requests already read may take once a file on stdin has ended: a tool's longest task wait.
DRAIN_SECONDS = 660


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def stop_on_signal(scope: CancelScope) -> None:
    """Cancel `scope` on SIGTERM or SIGINT, so serving ends through its cleanup instead of dying mid-write.

    A second SIGINT during that cleanup interrupts it, as Ctrl-C twice does elsewhere.
    """
    import anyio

    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async for received in signals:
            log.info("%s: stopping", signal.Signals(received).name)
            scope.cancel()
            return


async def serve_stdio(config: Config, listing: Callable[[Runtime], str]) -> None:
    """Serve on stdio until the input ends or a stop signal arrives; `listing` says what tools/list shows."""
    import anyio

    from pvemcp.server.app import build_server

    client = make_client(config)
    runtime: Runtime | None = None
    try:
        runtime = make_runtime(config, client)
        server = build_server(runtime)
        settle_heap()
        where = "the sandbox cluster" if config.sandbox else config.target.base_url if config.target else "?"
        log.info(
            "serving %s on stdio (tier %s, module %s) against %s",
            listing(runtime),
            config.policy.tier.label,
            config.policy.module.value,
            where,
        )
        log_safety(config)
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_on_signal, tg.cancel_scope)
            await serve_lines(server)
            tg.cancel_scope.cancel()
    finally:
        if runtime is not None and runtime.audit is not None:
            runtime.audit.close()
        if runtime is not None and runtime.ssh is not None:
            await runtime.ssh.close()
        await client.aclose()
        log.info("stopped serving on stdio")
