"""What an operator watches: /metrics (Prometheus text format 0.0.4) and /ready (Proxmox reachable, and
the shared state store when MCP_SHARED_STATE_URL is set).

Metrics are a handful of counters, a gauge of open sessions and one histogram kept in plain dicts: the
server runs on one event loop, so no locking, and rendering the page walks a few hundred numbers. No
client library is needed for that, and none is pulled in.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio

from pvemcp import __version__
from pvemcp.logs import redact
from pvemcp.pve.client import ProxmoxClient
from pvemcp.pve.errors import ErrorCode, PveMcpError

log = logging.getLogger("pvemcp.http")

# Tool latency buckets in seconds: a cached read takes milliseconds, a task wait up to a minute.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

E = ErrorCode
# Failures that came from Proxmox or from the way to it (network, TLS, the SSH channel to a node), as
# opposed to pvemcp's own refusals (CONFIRMATION_REQUIRED, OUT_OF_SCOPE ...) and local misconfiguration.
UPSTREAM_CODES = frozenset(
    {
        E.PROXMOX_AUTH_FAILED,
        E.PROXMOX_ACL_FORBIDDEN,
        E.PROXMOX_NOT_FOUND,
        E.PROXMOX_REQUEST_REJECTED,
        E.PROXMOX_SERVER_ERROR,
        E.PROXMOX_INVALID_RESPONSE,
        E.QEMU_GUEST_AGENT_UNAVAILABLE,
        E.CLOUDINIT_UNAVAILABLE,
        E.TASK_FAILED,
        E.TIMEOUT,
        E.TLS_ERROR,
        E.CONNECTION_REFUSED,
        E.CONNECTION_RESET,
        E.DNS_RESOLUTION_FAILED,
        E.HOST_UNREACHABLE,
        E.SSH_HOST_KEY_UNKNOWN,
        E.SSH_HOST_KEY_CHANGED,
        E.SSH_AUTH_FAILED,
        E.SSH_CONNECTION_FAILED,
        E.SSH_CONNECTION_LOST,
        E.SSH_TIMEOUT,
    }
)
_UPSTREAM = frozenset(str(code) for code in UPSTREAM_CODES)


def escape_label(value: str) -> str:
    """A label value as the exposition format wants it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{name}="{escape_label(value)}"' for name, value in labels.items()) + "}"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(slots=True)
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))  # per bucket, not cumulative
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        for index, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[index] += 1
                return


def _process_start_time() -> float:
    """When this process started (Unix time): from /proc on Linux, else when this module was loaded."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime, in clock ticks
        with open("/proc/stat", encoding="ascii") as system:
            boot = next(int(line.split()[1]) for line in system if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


_STARTED = _process_start_time()


class Metrics:
    """Counters for tool calls, upstream errors and rate-limit rejections, rendered for Prometheus."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], int] = {}  # (tool, outcome) -> count
        self.durations: dict[str, _Histogram] = {}
        self.upstream_errors: dict[str, int] = {}
        self.rate_limit_rejections = 0
        self.open_sessions: Callable[[], int] = lambda: 0  # set by the session limits when there are sessions
        self.session_refusals = {"caller": 0, "server": 0}
        self.shared_state = False  # MCP_SHARED_STATE_URL is set: its counters are rendered
        self.shared_state_errors: dict[str, int] = {}  # use (approval, rate_limit, ready) -> failed operations
        self.rate_limit_local = 0  # requests counted by this replica alone while the shared store was away

    def observe_call(self, tool: str, outcome: str, code: str | None, seconds: float) -> None:
        """Runtime.observe: called once after every tool call, whatever its outcome."""
        key = (tool, outcome)
        self.calls[key] = self.calls.get(key, 0) + 1
        histogram = self.durations.get(tool)
        if histogram is None:
            histogram = self.durations[tool] = _Histogram()
        histogram.observe(seconds)
        if code is not None and code in _UPSTREAM:
            self.upstream_errors[code] = self.upstream_errors.get(code, 0) + 1

    def rate_limited(self) -> None:
        self.rate_limit_rejections += 1

    def session_refused(self, limit: str) -> None:
        self.session_refusals[limit] = self.session_refusals.get(limit, 0) + 1

    def shared_state_failed(self, use: str) -> None:
        self.shared_state_errors[use] = self.shared_state_errors.get(use, 0) + 1

    def rate_limited_locally(self) -> None:
        self.rate_limit_local += 1

    def render(self) -> str:
        lines: list[str] = []
        lines += _family("pvemcp_tool_calls_total", "counter", "Tool calls by tool and outcome.")
        for (tool, outcome), count in sorted(self.calls.items()):
            lines.append(f"pvemcp_tool_calls_total{_labels(tool=tool, outcome=outcome)} {count}")
        lines += _family("pvemcp_tool_call_duration_seconds", "histogram", "Tool call duration, task waits included.")
        for tool, histogram in sorted(self.durations.items()):
            lines.extend(_histogram_lines("pvemcp_tool_call_duration_seconds", tool, histogram))
        lines += _family(
            "pvemcp_upstream_errors_total",
            "counter",
            "Tool calls that failed in Proxmox or on the way to it (network, TLS, SSH), by error code.",
        )
        for code, count in sorted(self.upstream_errors.items()):
            lines.append(f"pvemcp_upstream_errors_total{_labels(code=code)} {count}")
        lines += _family("pvemcp_rate_limited_total", "counter", "HTTP requests refused with 429 by the rate limit.")
        lines.append(f"pvemcp_rate_limited_total {self.rate_limit_rejections}")
        lines += _family("pvemcp_sessions_open", "gauge", "Open 2025-11-25 sessions (Mcp-Session-Id).")
        lines.append(f"pvemcp_sessions_open {self.open_sessions()}")
        lines += _family(
            "pvemcp_sessions_refused_total",
            "counter",
            "Session openings refused at MCP_MAX_SESSIONS_PER_CALLER (caller) or MCP_MAX_SESSIONS (server).",
        )
        for limit, count in sorted(self.session_refusals.items()):
            lines.append(f"pvemcp_sessions_refused_total{_labels(limit=limit)} {count}")
        if self.shared_state:
            lines += _family(
                "pvemcp_shared_state_errors_total",
                "counter",
                "Operations on the shared state store (MCP_SHARED_STATE_URL) that failed, by use: approval"
                " (refused, nothing done), rate_limit (counted by this replica instead), ready.",
            )
            for use, count in sorted(self.shared_state_errors.items()):
                lines.append(f"pvemcp_shared_state_errors_total{_labels(use=use)} {count}")
            lines += _family(
                "pvemcp_rate_limit_local_total",
                "counter",
                "HTTP requests counted by this replica's own rate-limit windows while the shared store was away.",
            )
            lines.append(f"pvemcp_rate_limit_local_total {self.rate_limit_local}")
        lines += _family("pvemcp_build_info", "gauge", "The running pvemcp version (always 1).")
        lines.append(f"pvemcp_build_info{_labels(version=__version__)} 1")
        lines += _family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.")
        lines.append(f"process_start_time_seconds {_STARTED:.3f}")
        resident = _resident_bytes()
        if resident is not None:
            lines += _family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
            lines.append(f"process_resident_memory_bytes {resident}")
        return "\n".join(lines) + "\n"


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _histogram_lines(name: str, tool: str, histogram: _Histogram) -> Iterable[str]:
    cumulative = 0
    for bound, count in zip(BUCKETS, histogram.counts, strict=True):
        cumulative += count
        yield f"{name}_bucket{_labels(tool=tool, le=_number(bound))} {cumulative}"
    yield f"{name}_bucket{_labels(tool=tool, le='+Inf')} {histogram.count}"
    yield f"{name}_sum{_labels(tool=tool)} {histogram.total:.6f}"
    yield f"{name}_count{_labels(tool=tool)} {histogram.count}"


Answer = tuple[bool, dict[str, Any]]
SharedProbe = Callable[[], Awaitable[bool]]  # does the shared state store answer?


class Readiness:
    """Is Proxmox reachable with the configured token? One GET /version through our client, cached.

    /ready answers anyone: it names an error code and pvemcp's message for it, never a library's text.

    A load balancer may ask every second from many places: answers are kept for `ttl` seconds and
    concurrent checks share one probe, so /ready never multiplies into load on Proxmox.

    With a shared state store (`shared`, MCP_SHARED_STATE_URL) the answer also says `"shared_state": "ok"`
    or `"unreachable"`, but an unreachable store does not make the replica unready: reads and
    confirmation-free calls still work, approvals are refused anyway (fail closed), and the rate limit
    falls back to this replica's windows. Taking every replica out of the balancer because the one Redis
    they share is down would turn a degraded service into none.
    """

    def __init__(
        self, client: ProxmoxClient, ttl: float = 5.0, timeout: float = 3.0, *, shared: SharedProbe | None = None
    ) -> None:
        self.client = client
        self.shared = shared
        self.ttl = ttl
        self.timeout = timeout
        self._answer: Answer | None = None
        self._expires = 0.0
        self._probing: anyio.Event | None = None
        self._was_ready: bool | None = None

    async def check(self) -> Answer:
        while True:
            if self._answer is not None and time.monotonic() < self._expires:
                return self._answer
            if self._probing is not None:  # another request is asking Proxmox right now: wait for its answer
                await self._probing.wait()
                if self._answer is not None and time.monotonic() < self._expires:
                    return self._answer
                continue  # that probe was cancelled before it answered
            self._probing = probing = anyio.Event()
            try:
                answer = await self._probe()
                if self.shared is not None:
                    answer[1]["shared_state"] = "ok" if await self.shared() else "unreachable"
                self._answer, self._expires = answer, time.monotonic() + self.ttl
                self._report(answer)
                return answer
            finally:
                self._probing = None
                probing.set()

    async def _probe(self) -> Answer:
        try:
            with anyio.fail_after(self.timeout * 2):  # the client's retries included
                data = await self.client.request("GET", "/version", timeout=self.timeout)
        except PveMcpError as exc:  # transport failures come in fixed words; Proxmox's own are scrubbed too
            return False, {"code": str(exc.code), "message": redact(exc.message)}
        except TimeoutError:
            return False, {"code": str(ErrorCode.TIMEOUT), "message": "Proxmox did not answer GET /version in time."}
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, str):
            return False, {
                "code": str(ErrorCode.PROXMOX_INVALID_RESPONSE),
                "message": "GET /version did not name a Proxmox version.",
            }
        return True, {"proxmox_version": version}

    def _report(self, answer: Answer) -> None:
        """Log changes of readiness, not every probe."""
        ok, detail = answer
        if ok != self._was_ready:
            if ok:
                log.info("ready: Proxmox VE %s answers", detail.get("proxmox_version"))
            else:
                log.warning("not ready: %s: %s", detail.get("code"), detail.get("message"))
        self._was_ready = ok
