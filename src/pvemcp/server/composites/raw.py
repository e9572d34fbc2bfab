"""The raw API's handler: one request to the path the caller names (checked in server/rawpath.py)."""

from __future__ import annotations

from typing import Any

from pvemcp.server.call import Call, Handler
from pvemcp.server.rawpath import raw_request


async def raw_api(call: Call) -> Any:
    """Send the request as given; an answer that is a task ID is followed like any task-starting tool's."""
    method, path, params = raw_request(call.spec, call.args)
    data = await call.client.request(method, path, params)
    if call.spec.returns_task and isinstance(data, str) and data.startswith("UPID:"):
        return {"upid": data}
    return data


HANDLERS: dict[str, Handler] = {"raw_api": raw_api}
