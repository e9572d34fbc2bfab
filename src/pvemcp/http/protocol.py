"""uvicorn's HTTP/1.1 protocol with the limit it lacks: a deadline for the request headers (slowloris).

uvicorn closes an idle keep-alive connection (timeout_keep_alive) but lets a client that sends a byte now
and then hold a connection open forever. Here a connection must deliver complete request headers within
MCP_HEADERS_TIMEOUT_MS of being opened, and again of the end of each response it was sent; otherwise it is
answered 408 (when part of a request arrived) or simply closed (when nothing did). Errors uvicorn writes
itself (a malformed request) get the same sanitized JSON body as every other refusal.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from pvemcp.http.guards import SECURITY_HEADERS, error_body
from pvemcp.http.settings import HttpSettings


def guarded_protocol(settings: HttpSettings) -> type[H11Protocol]:
    """The protocol class to pass as uvicorn.Config(http=...)."""
    headers_timeout = settings.headers_timeout

    class GuardedH11Protocol(H11Protocol):
        """H11Protocol plus a headers deadline, armed while no request is being served."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.headers_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.arm_headers_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self.disarm_headers_deadline()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request's headers arrived: it is being served now
                self.disarm_headers_deadline()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self.arm_headers_deadline()  # before super(): it may start a pipelined request at once
            super().on_response_complete()

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            self.disarm_headers_deadline()
            super().handle_websocket_upgrade(event)

        def arm_headers_deadline(self) -> None:
            self.disarm_headers_deadline()
            self.headers_deadline = self.loop.call_later(headers_timeout, self.headers_timed_out)

        def disarm_headers_deadline(self) -> None:
            if self.headers_deadline is not None:
                self.headers_deadline.cancel()
                self.headers_deadline = None

        def headers_timed_out(self) -> None:
            self.headers_deadline = None
            if self.transport.is_closing():
                return
            partial, _closed = self.conn.trailing_data
            if partial:
                self.transport.write(_raw_error(408, "Request Timeout", "Request headers were not received in time"))
            self._unset_keepalive_if_required()
            self.transport.close()

        def send_400_response(self, msg: str) -> None:
            """A malformed request: the sanitized JSON body instead of uvicorn's plain text."""
            self.disarm_headers_deadline()
            body = error_body("Invalid HTTP request")
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *SECURITY_HEADERS,
            ]
            try:
                self.transport.write(
                    self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request"))
                )
                self.transport.write(self.conn.send(h11.Data(data=body)))
                self.transport.write(self.conn.send(h11.EndOfMessage()))
            except h11.LocalProtocolError:
                pass  # a response was already under way; just close
            self.transport.close()

    return GuardedH11Protocol


def _raw_error(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 error response, written outside h11's state machine (no request was parsed)."""
    body = error_body(message)
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json", f"content-length: {len(body)}"]
    head += ["connection: close", *(f"{name.decode()}: {value.decode()}" for name, value in SECURITY_HEADERS)]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body
