"""Audit entries forwarded to a syslog receiver (RFC 5424 over UDP, or TCP with RFC 6587 octet counting).

The hash-chained file stays the record of truth; this copy gets the entries off the host as they are written.
Each message carries the file's line unchanged as MSG (compact ASCII JSON, so UTF-8 without a BOM), its hash
and `prev` in a structured-data element, so a receiver can check order and spot gaps:

    <85>1 2026-03-01T12:00:00.123Z pve-mcp-1 pvemcp 4711 audit [pvemcp@32473 hash="…" prev="…" tool="…"
    outcome="ok"] {"time":"2026-03-01T12:00:00.123Z",…,"prev":"…"}

Forwarding never blocks or fails a call: `submit` only puts the line in a bounded queue, and one thread sends
it. While the receiver is unreachable the entries wait and are retried with a growing pause; when the queue
is full the oldest are dropped, counted, and said once per episode. Over TCP an entry sent just before the
connection breaks may be sent again after reconnecting (the hash tells the copies apart); UDP cannot tell
whether anyone listened. A thread, not a task, so the forwarder works under any transport and event loop,
and is closed by the audit log's own `close`.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("pvemcp.audit")

FACILITIES = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}
AUTHPRIV = FACILITIES["authpriv"]
WARNING, NOTICE = 4, 5
CALM_OUTCOMES = frozenset({"ok", "asked"})  # the rest (refused, declined, failed, cancelled) is a warning
DEFAULT_PORTS = {"udp": 514, "tcp": 601}
# An SD-ID of our own needs a private enterprise number; 32473 is the one RFC 5612 sets aside for examples.
SD_ID = "pvemcp@32473"
UDP_LIMIT = 65_000  # bytes per datagram: below the 65,507 an IPv4 UDP datagram can carry
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class SyslogTarget:
    protocol: str  # "udp" or "tcp"
    host: str  # a name or an address; IPv6 without brackets
    port: int
    facility: int = AUTHPRIV

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.protocol}://{host}:{self.port}"


def parse_target(text: str) -> SyslogTarget:
    """`udp://host[:port]` or `tcp://host[:port]`, optionally `?facility=local0`; ValueError says what is wrong."""
    usage = "must be udp://host[:port] or tcp://host[:port] (optionally ?facility=NAME)"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"{usage}; the port must be a number from 1 to 65535") from None
    protocol, host = parts.scheme.lower(), parts.hostname or ""
    if protocol not in DEFAULT_PORTS:
        raise ValueError(usage)
    if not host or parts.username is not None or parts.password is not None:
        raise ValueError(f"{usage}; it names no host, or a user")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"{usage}; a path has no meaning here")
    if not (_HOST.match(host) or _is_ipv6(host)):
        raise ValueError(f"{usage}; {host!r} is not a host name or IP address")
    if port == 0:
        raise ValueError(f"{usage}; the port must be a number from 1 to 65535")
    facility = AUTHPRIV
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "facility":
            raise ValueError(f"{usage}; {key!r} is not an option (only facility)")
        name = value.strip().lower()
        if name in FACILITIES:
            facility = FACILITIES[name]
        elif name.isdigit() and int(name) <= 23:
            facility = int(name)
        else:
            raise ValueError(f"facility {value!r} is not one of {', '.join(FACILITIES)} or a number from 0 to 23")
    return SyslogTarget(protocol, host, port or DEFAULT_PORTS[protocol], facility)


def _is_ipv6(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6, host)
    except OSError:
        return False
    return True


def sd_escape(value: str) -> str:
    """A PARAM-VALUE as RFC 5424 wants it: `"`, `\\` and `]` escaped with a backslash."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def severity(outcome: object) -> int:
    return NOTICE if outcome in CALM_OUTCOMES else WARNING


def header_hostname() -> str:
    """This host's name as RFC 5424's HOSTNAME allows it: printable ASCII without spaces, at most 255."""
    name = "".join(ch if 33 <= ord(ch) <= 126 else "-" for ch in socket.gethostname())[:255]
    return name or "-"


def render(line: bytes, digest: str, *, facility: int, hostname: str, procid: str, limit: int | None = None) -> bytes:
    """The RFC 5424 message for one audit line (without its newline); cut to `limit` bytes when given.

    A cut MSG ends on a whole UTF-8 character, and `truncated` names its full length.
    """
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        record = {}
    stamp = record.get("time")
    if not isinstance(stamp, str) or not _TIMESTAMP.match(stamp):
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    params = {"hash": digest, **{k: record[k] for k in ("prev", "tool", "outcome") if isinstance(record.get(k), str)}}
    head = f"<{facility * 8 + severity(record.get('outcome'))}>1 {stamp} {hostname} pvemcp {procid} audit "

    def element(extra: dict[str, str]) -> str:
        return "[" + SD_ID + "".join(f' {k}="{sd_escape(v)}"' for k, v in {**params, **extra}.items()) + "]"

    message = f"{head}{element({})} ".encode() + line
    if limit is None or len(message) <= limit:
        return message
    prefix = f"{head}{element({'truncated': str(len(line))})} ".encode()
    kept = line[: max(0, limit - len(prefix))].decode("utf-8", "ignore").encode()
    return prefix + kept


def frame(message: bytes) -> bytes:
    """RFC 6587 octet counting: the message's length in bytes, a space, the message."""
    return b"%d %s" % (len(message), message)


class SyslogForwarder:
    """Sends the audit log's lines to one receiver from a background thread, in the order they were written."""

    RETRY_FIRST = 0.5  # seconds before the first retry; doubled up to retry_max

    def __init__(
        self,
        target: SyslogTarget,
        *,
        capacity: int = 1000,
        drain_seconds: float = 2.0,
        connect_timeout: float = 3.0,
        send_timeout: float = 5.0,
        retry_max: float = 30.0,
    ) -> None:
        self.target = target
        self.capacity = capacity
        self.drain_seconds = drain_seconds
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.retry_max = retry_max
        self.dropped = 0  # in all, since start-up
        self.delivered = 0
        self._hostname = header_hostname()
        self._procid = str(os.getpid())
        self._queue: deque[tuple[bytes, str]] = deque()
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._deadline = 0.0
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._dropping = 0  # dropped in the current episode (0: none is going on)
        self._down = False  # the receiver's failure was said; its return will be too

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        with self._changed:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="pvemcp-audit-syslog", daemon=True)
            self._thread.start()

    def submit(self, line: bytes, digest: str) -> None:
        """Queue one line (without its newline) and its hash; never blocks, never raises."""
        with self._changed:
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.dropped += 1
                self._dropping += 1
                first = self._dropping == 1
            else:
                first = False
            self._queue.append((line, digest))
            self._changed.notify()
        if first:
            log.warning(
                "audit syslog %s: %d entries wait to be sent; dropping the oldest from now on (the audit file"
                " keeps every entry)",
                self.target,
                self.capacity,
            )

    def close(self) -> None:
        """Send what is queued for at most drain_seconds, then stop; what is left is said and dropped."""
        thread = self._thread
        if thread is None:
            return
        self._deadline = time.monotonic() + self.drain_seconds
        with self._changed:
            self._stopping.set()
            self._changed.notify()
        thread.join(self.drain_seconds + 1.0)
        if thread.is_alive():
            log.warning("audit syslog %s: the sender did not stop in time", self.target)
        self._thread = None

    def _run(self) -> None:
        first_pause = pause = min(self.RETRY_FIRST, self.retry_max)
        batch_size = 1 if self.target.protocol == "udp" else 100
        try:
            while True:
                with self._changed:
                    while not self._queue and not self._stopping.is_set():
                        self._changed.wait()
                    batch = list(itertools.islice(self._queue, batch_size))
                if not batch:
                    return
                if self._stopping.is_set() and time.monotonic() >= self._deadline:
                    log.warning(
                        "audit syslog %s: %d entries were not sent before stopping (the audit file has them)",
                        self.target,
                        len(self._queue),
                    )
                    return
                try:
                    self._send(batch)
                except OSError as exc:
                    self._disconnect()
                    self._failed(exc)
                    if self._stopping.is_set():
                        time.sleep(0.05)
                    else:
                        self._stopping.wait(pause)
                        pause = min(pause * 2, self.retry_max)
                    continue
                except Exception:  # a message that cannot be sent at all must not stop the ones after it
                    log.exception("audit syslog %s: %d entries could not be sent; skipped", self.target, len(batch))
                    self._forget(batch)
                    continue
                pause = first_pause
                self._sent(batch)
        finally:
            self._disconnect()

    def _send(self, batch: list[tuple[bytes, str]]) -> None:
        udp = self.target.protocol == "udp"
        sock = self._connected()
        messages = [
            render(
                line,
                digest,
                facility=self.target.facility,
                hostname=self._hostname,
                procid=self._procid,
                limit=UDP_LIMIT if udp else None,
            )
            for line, digest in batch
        ]
        if udp:
            for message in messages:
                sock.send(message)
        else:
            sock.sendall(b"".join(frame(message) for message in messages))

    def _connected(self) -> socket.socket:
        """The open socket; a new one when there is none or the receiver closed the TCP connection."""
        if self._sock is not None and (self.target.protocol == "udp" or not _peer_gone(self._sock)):
            return self._sock
        self._disconnect()
        host, port = self.target.host, self.target.port
        if self.target.protocol == "tcp":
            sock = socket.create_connection((host, port), timeout=self._timeout(self.connect_timeout))
        else:
            family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.connect(address)
            except OSError:
                sock.close()
                raise
        sock.settimeout(self._timeout(self.send_timeout))
        self._sock = sock
        return sock

    def _timeout(self, normal: float) -> float:
        if not self._stopping.is_set():
            return normal
        return max(0.05, min(normal, self._deadline - time.monotonic()))

    def _disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _forget(self, batch: list[tuple[bytes, str]]) -> None:
        with self._changed:
            for item in batch:
                if self._queue and self._queue[0] is item:  # dropped meanwhile when it is no longer first
                    self._queue.popleft()

    def _sent(self, batch: list[tuple[bytes, str]]) -> None:
        self._forget(batch)
        with self._changed:
            self.delivered += len(batch)
            dropped, self._dropping = self._dropping, 0
        if self._down:
            self._down = False
            log.info("audit syslog %s: reachable again", self.target)
        if dropped:
            log.info(
                "audit syslog %s: sending again; %d entries were dropped while the queue was full", self.target, dropped
            )

    def _failed(self, error: OSError) -> None:
        if not self._down:
            self._down = True
            log.warning(
                "audit syslog %s cannot be reached (%s); entries wait in memory (at most %d) and are retried",
                self.target,
                error.strerror or error,
                self.capacity,
            )


def _peer_gone(sock: socket.socket) -> bool:
    """Whether the receiver closed or reset the connection: it never sends, so anything readable means it."""
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)
