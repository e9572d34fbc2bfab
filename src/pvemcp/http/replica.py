"""Session IDs that name their replica (MCP_REPLICA_ID), so a load balancer can keep a 2025-11-25 session on
the replica that holds it.

A 2025-11-25 session lives in the memory of the replica that answered its `initialize`. That request carries
no Mcp-Session-Id yet, so a load balancer cannot hash its way to the right replica: it must learn where the
session went, which open-source nginx cannot. With MCP_REPLICA_ID set, this replica answers `initialize` with
the session ID `<replica>.<id>` and takes the prefix off again on the way in; the balancer routes on the
prefix (deploy/nginx/, a `map` of the header to one upstream per replica). A request naming another replica's
session is refused here with the answer an unknown session gets, whatever the SDK holds: a balancer that sent
it here has lost that replica, and the client must start a new session. 2026-07-28 requests carry no session
and pass untouched.
"""

from __future__ import annotations

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pvemcp.http.guards import error_response
from pvemcp.http.sessions import INVALID_REQUEST, SESSION_HEADER, UNKNOWN_SESSION, VERSION_HEADER


class SessionRouting:
    """Prefix this replica's session IDs on the way out, check and strip the prefix on the way in."""

    def __init__(self, app: ASGIApp, replica: str) -> None:
        self.app = app
        self.prefix = f"{replica}.".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        version = next((v.decode("latin-1") for k, v in headers if k.lower() == VERSION_HEADER), None)
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            await self.app(scope, receive, send)  # 2026-07-28: no session
            return
        named = next((v for k, v in headers if k.lower() == SESSION_HEADER), None)
        if named is not None:
            if not named.startswith(self.prefix):
                await error_response(404, UNKNOWN_SESSION, code=INVALID_REQUEST)(scope, receive, send)
                return
            own = named[len(self.prefix) :]
            headers = [(k, own if k.lower() == SESSION_HEADER else v) for k, v in headers]
            scope = {**scope, "headers": headers}

        async def named_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = message.get("headers", [])
                renamed = [(k, self.prefix + v if k.lower() == SESSION_HEADER else v) for k, v in out]
                message = {**message, "headers": renamed}
            await send(message)

        await self.app(scope, receive, named_send)
