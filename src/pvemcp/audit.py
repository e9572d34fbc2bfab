"""The audit log: one JSON line per mutating attempt, hash-chained, fsynced before the tool answers.

Each line is compact JSON: "time" first, then the entry's keys, then "prev", the hex SHA-256 of the previous
line's exact bytes (without its newline); the first line's prev is GENESIS. Editing, removing or inserting a
line breaks the chain at that point, and `verify` names it.

Writers serialise twice: an anyio lock inside the process and `flock` on the file across processes, so
several pvemcp processes may share one log. A line is written with a single `os.write` on an O_APPEND
descriptor and fsynced before `append` returns; only then is the entry acknowledged. A crash during the
write can leave an unterminated fragment at the end: it was never acknowledged, so the next writer drops
it (and says so) before chaining on, and `verify` reports it as torn without failing the chain.

A `Forwarder` (audit_syslog.SyslogForwarder, with PVE_AUDIT_SYSLOG) is handed each line once it is in the file,
in the file's order; it only queues, so a receiver that is slow or gone never holds up a call.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread

log = logging.getLogger("pvemcp.audit")

GENESIS = "0" * 64
_CHUNK = 64 * 1024


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def timestamp(now: datetime | None = None) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2026-03-01T12:00:00.123Z."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def render_line(entry: dict[str, Any], prev: str, now: datetime | None = None) -> bytes:
    """The exact bytes of one log line, newline included."""
    record: dict[str, Any] = {"time": timestamp(now)}
    record.update((key, value) for key, value in entry.items() if key not in ("time", "prev"))
    record["prev"] = prev
    return json.dumps(record, separators=(",", ":"), default=str).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class _Tail:
    """What this process last saw at the end of the file: valid while the file is still this size."""

    device: int
    inode: int
    size: int
    last_hash: str


class Forwarder(Protocol):
    """Where lines go besides the file: started and closed with the log; `submit` never blocks or raises."""

    def start(self) -> None: ...

    def submit(self, line: bytes, digest: str) -> None: ...

    def close(self) -> None: ...


class AuditLog:
    def __init__(self, path: Path, forward: Forwarder | None = None) -> None:
        self.path = path
        self.forward = forward
        self._lock = anyio.Lock()
        self._fd: int | None = None
        self._tail: _Tail | None = None

    def open(self) -> None:
        """Create the directory (0700) and the file (0600) now, so a bad path fails at start-up, not mid-call."""
        if self._fd is not None:
            return
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._tail = None
        if created:  # make the new file's name durable too
            _fsync_dir(parent)
        if self.forward is not None:
            self.forward.start()

    def close(self) -> None:
        """Close the file, and the forwarder after it has tried to send what is queued (a short while)."""
        self._close_file()
        if self.forward is not None:
            self.forward.close()

    def _close_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._tail = None

    async def append(self, entry: dict[str, Any]) -> None:
        """Add `time` and `prev` (the previous line's hash), write, flush and fsync."""
        async with self._lock:
            await anyio.to_thread.run_sync(self._append, entry)

    def _append(self, entry: dict[str, Any]) -> None:
        self._follow_renames()
        self.open()
        fd = self._fd
        assert fd is not None
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            stat = os.fstat(fd)
            tail = self._tail
            if tail is None or (tail.device, tail.inode, tail.size) != (stat.st_dev, stat.st_ino, stat.st_size):
                tail = self._read_tail(fd, stat)
            line = render_line(entry, tail.last_hash)
            _write_all(fd, line)
            os.fsync(fd)
            digest = line_hash(line[:-1])
            self._tail = _Tail(tail.device, tail.inode, tail.size + len(line), digest)
        except BaseException:
            self._tail = None  # the file's end is unknown now: read it again next time
            raise
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if self.forward is not None:  # still under the lock: forwarded in the file's order
            self.forward.submit(line[:-1], digest)

    def _follow_renames(self) -> None:
        """A log rotated away or deleted under us: write to a fresh file at the configured path."""
        if self._fd is None:
            return
        try:
            here = os.stat(self.path)
        except FileNotFoundError:
            self._close_file()
            return
        mine = os.fstat(self._fd)
        if (here.st_dev, here.st_ino) != (mine.st_dev, mine.st_ino):
            self._close_file()

    def _read_tail(self, fd: int, stat: os.stat_result) -> _Tail:
        """Hash the last complete line; drop an unterminated fragment a crashed writer left behind."""
        size = stat.st_size
        end = _last_newline_end(fd, size)
        if end != size:
            log.warning(
                "audit log %s ended in a torn line (%d bytes, never acknowledged); dropping it", self.path, size - end
            )
            os.ftruncate(fd, end)
            os.fsync(fd)
            size = end
        last = _last_line(fd, size)
        return _Tail(stat.st_dev, stat.st_ino, size, GENESIS if last is None else line_hash(last))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _backwards(fd: int, size: int) -> Iterator[tuple[int, bytes]]:
    """Chunks of the file from its end to its start, each with its offset."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        yield start, os.pread(fd, end - start, start)
        end = start


def _last_newline_end(fd: int, size: int) -> int:
    """The offset just past the last newline (0 when there is none)."""
    for start, chunk in _backwards(fd, size):
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
    return 0


def _last_line(fd: int, size: int) -> bytes | None:
    """The last line (without its newline) of a file that ends with one; None when the file is empty."""
    if size == 0:
        return None
    found = b""
    for _start, chunk in _backwards(fd, size - 1):
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return chunk[cut + 1 :] + found
        found = chunk + found
    return found


def tail_lines(path: Path, count: int) -> list[bytes]:
    """The last `count` complete lines, oldest first, without newlines; a torn fragment is left out."""
    if count <= 0:
        return []
    buffer, whole = b"", True
    with path.open("rb") as file:
        fd = file.fileno()
        for offset, chunk in _backwards(fd, _last_newline_end(fd, os.fstat(fd).st_size)):
            buffer, whole = chunk + buffer, offset == 0
            if buffer.count(b"\n") > count:
                break
    lines = buffer.split(b"\n")[:-1]  # the buffer ends just past a newline
    if not whole:
        lines = lines[1:]  # the first piece is the end of an earlier line
    return lines[-count:]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking a log: `bad_line` is None when the chain holds."""

    entries: int
    bad_line: int | None = None
    reason: str | None = None
    torn_line: int | None = None  # an unterminated last line: an interrupted, unacknowledged write

    @property
    def ok(self) -> bool:
        return self.bad_line is None


def verify(path: Path) -> Verdict:
    """Recompute the chain from the start; stop at the first line that breaks it."""
    expected = GENESIS
    number = 0
    with path.open("rb") as file:
        for raw in file:
            number += 1
            if not raw.endswith(b"\n"):
                return Verdict(number - 1, torn_line=number)
            line = raw[:-1]
            try:
                record = json.loads(line)
            except ValueError:
                return Verdict(number - 1, number, "is not valid JSON")
            if not isinstance(record, dict) or not isinstance(record.get("prev"), str):
                return Verdict(number - 1, number, "is not an audit entry (no prev)")
            if record["prev"] != expected:
                if number == 1:
                    return Verdict(0, 1, "does not start the chain: its prev is not the genesis value")
                return Verdict(
                    number - 2,
                    number - 1,
                    f"does not match the hash recorded by line {number}: it was altered,"
                    f" or lines between them were removed or inserted",
                )
            expected = line_hash(line)
    return Verdict(number)
