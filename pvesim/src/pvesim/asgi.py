"""ASGI plumbing shared by the API and the control endpoints: reading bodies, PVE envelopes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import ApiError
from .render import encode
from .routes import RawJSON, Reply

# ASGI messages are untyped dictionaries by specification.
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 1024 * 1024
JSON_TYPE = b"application/json;charset=UTF-8"
BASE_HEADERS = (
    (b"server", b"pve-api-daemon/3.0"),
    (b"cache-control", b"max-age=0"),
    (b"pragma", b"no-cache"),
    (b"expires", b"Thu, 01 Jan 1970 00:00:00 GMT"),
)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON_TYPE,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *BASE_HEADERS, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_body(error: ApiError) -> bytes:
    payload: dict[str, object] = {"data": None}
    if error.errors:
        payload["errors"] = error.errors
    payload["message"] = error.message
    return encode(payload).encode()


def ok_body(result: object) -> bytes:
    total = changes = None
    data = result
    if isinstance(result, Reply):
        data, total, changes = result.data, result.total, result.changes
    tail = f',"total":{total}' if total else ""
    if changes:
        tail += ',"changes":' + encode(changes)
    if isinstance(data, RawJSON):
        return f'{{"data":{data.text}{tail}}}'.encode()
    return (encode({"data": data})[:-1] + tail + "}").encode()


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "request too large\n")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def header(scope: Message, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""
