"""Injected failures, so client code can be tested against what real deployments do.

A fault matches requests whose path (after /api2/json) starts with ``path_prefix`` and,
if ``method`` is set, whose method is that one. It fires for the next ``count`` matches
(0: until reset), before authentication and routing, after the request is recorded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import Literal, cast

FaultKind = Literal["status", "html", "bad-json", "hang"]
KINDS: tuple[FaultKind, ...] = ("status", "html", "bad-json", "hang")

# Status texts pveproxy uses for its own proxying failures.
PVE_STATUS_TEXT = {595: "No route to host", 596: "Connection timed out"}

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv="Content-Type" '
    'content="text/html; charset=utf-8" />\n    <title>pve1 - Proxmox Virtual Environment</title>\n'
    '    <link rel="stylesheet" type="text/css" href="/pve2/ext6/theme-crisp/resources/theme-crisp-all.css" />\n'
    '  </head>\n  <body>\n    <div id="loginview">Please log in.</div>\n  </body>\n</html>\n'
)


@dataclass(frozen=True)
class Fault:
    """What to break and for how many requests."""

    kind: FaultKind
    status: int | None = None
    message: str | None = None
    count: int = 1
    path_prefix: str = ""
    method: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.count < 0:
            raise ValueError("count must be 0 (until reset) or more")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")

    @property
    def status_code(self) -> int:
        if self.status is not None:
            return self.status
        return {"status": 500, "html": 502, "bad-json": 200, "hang": 500}[self.kind]

    @property
    def text(self) -> str:
        """The error text; by default the status line's reason, as pveproxy would send it."""
        if self.message is not None:
            return self.message
        code = self.status_code
        if code in PVE_STATUS_TEXT:
            return PVE_STATUS_TEXT[code]
        try:
            return HTTPStatus(code).phrase
        except ValueError:
            return "Error"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Fault:
        """Build from JSON (the control API), refusing unknown fields and wrong types."""
        allowed = {"kind": str, "status": int, "message": str, "count": int, "path_prefix": str, "method": str}
        unknown = set(data) - set(allowed)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        for name, value in data.items():
            kind = allowed[name]
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise ValueError(f"fault field {name!r} must be {kind.__name__}")
        if "kind" not in data:
            raise ValueError("fault field 'kind' is required")
        return cls(
            kind=cast(FaultKind, data["kind"]),
            status=cast("int | None", data.get("status")),
            message=cast("str | None", data.get("message")),
            count=cast(int, data.get("count", 1)),
            path_prefix=cast(str, data.get("path_prefix", "")),
            method=cast(str, data.get("method", "")),
        )


@dataclass
class _Armed:
    fault: Fault
    left: int


class FaultBook:
    """The armed faults, each with the number of requests it still applies to."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []

    def arm(self, fault: Fault) -> None:
        self._armed.append(_Armed(fault, fault.count))

    def reset(self) -> None:
        self._armed.clear()

    @property
    def armed(self) -> list[Fault]:
        return [entry.fault for entry in self._armed]

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request, using up one of its count."""
        for entry in self._armed:
            fault = entry.fault
            if not path.startswith(fault.path_prefix):
                continue
            if fault.method and fault.method.upper() != method:
                continue
            if fault.count:
                entry.left -= 1
                if entry.left <= 0:
                    self._armed.remove(entry)
            return fault
        return None
