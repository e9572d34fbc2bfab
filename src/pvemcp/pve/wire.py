"""Proxmox's wire quirks, kept in one place.

- Requests: GET/DELETE send parameters in the query, POST/PUT as a form body; booleans travel as
  0/1, lists as repeated keys, and absent values are not sent at all. A query string has a length limit
  (MAX_QUERY), checked before any request.
- Answers: success is `{"data": ...}`; an error's text sits in the HTTP reason phrase and, in recent
  versions, the body's `message`, with per-parameter reasons in `errors`.
- A PVE "does not exist" arrives as HTTP 500; it is a not-found, so it is classified as one here, and so
  are a missing or silent QEMU guest agent and an unusable cloud-init setup, by PVE's own wording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

from pvemcp.pve.errors import ErrorCode, ProxmoxApiError, api_error

WireParams = list[tuple[str, str]]


def encode_value(value: Any) -> str:
    """One parameter value as Proxmox expects it (booleans as 0/1)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def encode_params(params: Mapping[str, Any] | None) -> WireParams:
    """Encode parameters as ordered key/value pairs; lists become repeated keys, None is dropped."""
    pairs: WireParams = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, encode_value(item)) for item in value)
        else:
            pairs.append((key, encode_value(value)))
    return pairs


# The longest query string (percent-encoded, without '?') sent to Proxmox. pveproxy reads the request line
# into a 64 KiB buffer and drops the connection past it, and a reverse proxy in front of it usually stops
# at 8 KiB (nginx's default large_client_header_buffers answers 414 URI Too Long). Real GET and DELETE
# parameters (names, filters, journal cursors, file paths) stay far below.
MAX_QUERY = 8 * 1024


def query_problem(pairs: WireParams) -> str | None:
    """Why these encoded parameters cannot travel as a URL's query string, or None when they can."""
    size = len(urlencode(pairs))
    if size <= MAX_QUERY:
        return None
    longest = max(pairs, key=lambda pair: len(urlencode([pair])))[0]
    return (
        f"the parameters make a query string of {size:,} bytes, more than the {MAX_QUERY:,} a request URL"
        f" may carry (the longest is {longest!r})"
    )


def expand_path(template: str, values: Mapping[str, Any]) -> str:
    """Fill `{placeholders}`, each value percent-encoded as one path segment."""
    path = template
    for key, value in values.items():
        path = path.replace("{" + key + "}", quote(encode_value(value), safe=""))
    return path


def _standard_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _clean(text: str) -> str:
    return " ".join(text.split())


def error_message(status: int, reason: str, body: Any) -> tuple[str, dict[str, str] | None]:
    """Proxmox's own words for a failed request: body message, else the reason phrase, and `errors`."""
    message = ""
    errors: dict[str, str] | None = None
    if isinstance(body, dict):
        raw = body.get("message")
        if isinstance(raw, str):
            message = _clean(raw)
        raw_errors = body.get("errors")
        if isinstance(raw_errors, dict) and raw_errors:
            errors = {str(k): _clean(str(v)) for k, v in raw_errors.items()}
    if not message and reason and reason != _standard_reason(status):
        message = _clean(reason)
    if not message:
        message = f"HTTP {status} {reason}".strip()
    if errors:
        message = f"{message.rstrip('.')}: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
    return message, errors


# PVE::QemuServer::Agent's wording when the agent is not configured or does not answer its ping.
AGENT_UNAVAILABLE = ("qemu guest agent is not running", "no qemu guest agent configured")
CLOUDINIT_WORDS = ("cloud-init", "cloudinit")
ABSENT_WORDS = ("not ", "no ", "missing", "unable")


# On a guest-agent endpoint, a stopped VM means the agent cannot answer either.
AGENT_PATH = re.compile(r"/qemu/\d+/agent(/|$)")
VM_NOT_RUNNING = re.compile(r"\bvm \d+ (is )?not running\b")


def classify_status(status: int, message: str, path: str = "") -> ErrorCode:
    """Map an HTTP status (and PVE's not-found wording on a 500) to a stable code.

    path: the request's path; on a guest-agent endpoint "VM 100 is not running" is the agent's absence too.
    """
    if status == 401:
        return ErrorCode.PROXMOX_AUTH_FAILED
    if status == 403:
        return ErrorCode.PROXMOX_ACL_FORBIDDEN
    if status == 404:
        return ErrorCode.PROXMOX_NOT_FOUND
    if status == 400 and "upid: no such task" in message.lower():  # PVE::API2::Tasks: the task file is missing
        return ErrorCode.TASK_NOT_FOUND
    if 400 <= status < 500 or status == 501:
        return ErrorCode.PROXMOX_REQUEST_REJECTED
    lowered = message.lower()
    if any(words in lowered for words in AGENT_UNAVAILABLE):
        return ErrorCode.QEMU_GUEST_AGENT_UNAVAILABLE
    if AGENT_PATH.search(path) and VM_NOT_RUNNING.search(lowered):
        return ErrorCode.QEMU_GUEST_AGENT_UNAVAILABLE
    if any(w in lowered for w in CLOUDINIT_WORDS) and any(w in lowered for w in ABSENT_WORDS):
        return ErrorCode.CLOUDINIT_UNAVAILABLE
    if "does not exist" in lowered or "no such" in lowered or "hostname lookup" in lowered:
        return ErrorCode.PROXMOX_NOT_FOUND
    return ErrorCode.PROXMOX_SERVER_ERROR


def decode_body(content: bytes) -> Any:
    """Parse a JSON body; raises ValueError for anything that is not JSON."""
    return json.loads(content)


def unwrap(status: int, reason: str, content_type: str, content: bytes, path: str = "") -> Any:
    """Return `data` from a Proxmox answer, or raise the classified error (path: the request's, for context)."""
    body: Any = None
    parse_failed = False
    if content:
        try:
            body = decode_body(content)
        except ValueError:
            parse_failed = True
    if 200 <= status < 300:
        if parse_failed or not isinstance(body, dict) or "data" not in body:
            kind = content_type.split(";")[0] or "an empty body"
            raise api_error(
                ErrorCode.PROXMOX_INVALID_RESPONSE,
                f"Expected Proxmox JSON but got {kind} (HTTP {status}).",
                status=status,
            )
        return body["data"]
    if parse_failed and "html" in content_type:
        message = f"HTTP {status} {reason}: an HTML page answered instead of Proxmox (a proxy in the way?)"
        code = ErrorCode.PROXMOX_SERVER_ERROR if status >= 500 else classify_status(status, "")
        raise api_error(code, message, status=status)
    message, errors = error_message(status, reason, body)
    raise _api(classify_status(status, message, path), message, status, errors)


def _api(code: ErrorCode, message: str, status: int, errors: dict[str, str] | None) -> ProxmoxApiError:
    return api_error(code, message, status=status, details={"errors": errors} if errors else None)
