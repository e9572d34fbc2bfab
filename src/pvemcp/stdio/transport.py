"""MCP's stdio transport on asyncio pipes: one JSON-RPC message per line, read and written on the event loop.

The SDK's `stdio_server` moves every line through a worker thread (`anyio.wrap_file`), and a burst of
calls pays for that hop twice per call. Here stdin and stdout are asyncio pipes: `LineReader` parses a
line in the task that asks for the next message, `LineWriter` writes the answer in the task that sends
it, with no thread and no extra task between the server and the pipe.

The contract is the SDK's: the read side yields a `SessionMessage` per line, or the exception its
parsing raised, and ends at end of input; the write side takes `SessionMessage`s. Given `unreadable`,
the read side answers an unreadable line itself (the answer goes out at once) instead of yielding it.
While serving, fd 0 reads from the null device and fd 1 goes to stderr, as with the SDK's transport,
so stray output from a library cannot corrupt the wire; both are restored on exit.

Only pipes, sockets and terminals can be watched by the event loop: `usable()` says whether this
transport can serve the process's stdin and stdout, otherwise the caller uses the SDK's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Self

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage

# A longer line is refused as unreadable (the SDK reads any length; 64 MiB is far above any request).
MAX_LINE = 64 * 1024 * 1024
STDIN, STDOUT, STDERR = 0, 1, 2

Unreadable = Callable[[Exception], SessionMessage | None]


class LineWriter:
    """The write side: each message is serialised and written by the task that sends it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._closed = False

    async def send(self, item: SessionMessage, /) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        line = item.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        try:
            self._writer.write(line)
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as exc:  # the client closed its end of the pipe
            raise anyio.BrokenResourceError from exc

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None


class LineReader:
    """The read side: a line is read and parsed in the task that asks for the next message."""

    def __init__(self, reader: asyncio.StreamReader, writer: LineWriter, unreadable: Unreadable | None) -> None:
        self._reader = reader
        self._writer = writer
        self._unreadable = unreadable
        self._closed = False

    async def receive(self) -> SessionMessage | Exception:
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                line = await self._reader.readline()
            except ValueError as exc:  # longer than MAX_LINE: asyncio drops it
                item: SessionMessage | Exception = exc
            else:
                if not line:
                    raise anyio.EndOfStream
                try:
                    # Decoded as the SDK decodes it: bytes that are not UTF-8 become U+FFFD.
                    text = line.decode("utf-8", errors="replace")
                    item = SessionMessage(types.jsonrpc_message_adapter.validate_json(text, by_name=False))
                except Exception as exc:
                    item = exc
            if isinstance(item, SessionMessage) or self._unreadable is None:
                return item
            answer = self._unreadable(item)
            if answer is not None:
                with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                    await self._writer.send(answer)

    async def aclose(self) -> None:
        self._closed = True

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None


def usable() -> bool:
    """Whether this runs on an asyncio loop and stdin and stdout are pipes, sockets or terminals.

    A regular file (`pvemcp run < requests`) cannot be watched by the loop; Windows pipes are not served.
    """
    if sys.platform == "win32":
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # another event loop (trio)
        return False
    try:
        modes = [os.fstat(fd).st_mode for fd in (STDIN, STDOUT)]
    except OSError:
        return False
    return all(stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) for mode in modes)


@contextlib.contextmanager
def claimed(fd: int, diversion: Callable[[], int]) -> Iterator[int]:
    """A private duplicate of `fd` that carries the wire, while `fd` itself points at `diversion()`."""
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    try:
        substitute = diversion()
        try:
            os.dup2(substitute, fd)
        finally:
            os.close(substitute)
        try:
            yield private
        finally:
            os.dup2(private, fd)
            with contextlib.suppress(OSError):
                os.set_blocking(private, True)  # the event loop made it non-blocking; a terminal is shared
    finally:
        os.close(private)


@contextlib.asynccontextmanager
async def stdio_streams(unreadable: Unreadable | None = None) -> AsyncIterator[tuple[LineReader, LineWriter]]:
    """Serve the process's stdin and stdout (check `usable()` first) on the running asyncio loop."""
    loop = asyncio.get_running_loop()
    with (
        claimed(STDIN, lambda: os.open(os.devnull, os.O_RDONLY)) as wire_in,
        claimed(STDOUT, lambda: os.dup(STDERR)) as wire_out,
    ):
        reader = asyncio.StreamReader(limit=MAX_LINE)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(wire_in, "rb", buffering=0, closefd=False)
        )
        try:
            # StreamReaderProtocol brings the flow control (pause/resume on a full pipe) that drain() waits on.
            write_transport, protocol = await loop.connect_write_pipe(
                lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()),
                os.fdopen(wire_out, "wb", buffering=0, closefd=False),
            )
            # drain() returns once the pipe took every byte, as the SDK's blocking write and flush do: an
            # answer is never left in a buffer when the server stops.
            write_transport.set_write_buffer_limits(high=0)
            writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
            try:
                line_writer = LineWriter(writer)
                yield LineReader(reader, line_writer, unreadable), line_writer
            finally:
                write_transport.close()
        finally:
            read_transport.close()
