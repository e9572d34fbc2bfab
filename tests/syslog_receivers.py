"""Syslog receivers on loopback for tests, and an RFC 5424 reader: what a syslog server sees of pvemcp."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass

# RFC 5424 with one SD element: PRI, version, timestamp, host, app, procid, msgid, [SD-ID params], MSG.
RFC5424 = re.compile(
    rb"<(?P<pri>\d{1,3})>(?P<version>1) (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+)"
    rb' \[(?P<sd_id>[^ =\]"]+)(?P<params>(?: [^ =\]"]+="(?:[^"\\\]]|\\.)*")*)\] (?P<msg>.*)',
    re.DOTALL,
)
PARAM = re.compile(r'([^ =\]"]+)="((?:[^"\\\]]|\\.)*)"')
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,6}(Z|[+-]\d\d:\d\d)$")


@dataclass(frozen=True, slots=True)
class Message:
    pri: int
    fields: dict[str, str]  # version, time, host, app, procid, msgid, sd_id
    params: dict[str, str]  # SD escapes undone
    msg: bytes

    @property
    def severity(self) -> int:
        return self.pri % 8


def parse(raw: bytes) -> Message:
    """An RFC 5424 message read back field by field; fails unless the whole message has the form."""
    found = RFC5424.fullmatch(raw)
    assert found is not None, raw[:300]
    fields = {key: value.decode() for key, value in found.groupdict().items() if key not in ("pri", "params", "msg")}
    params = {name: re.sub(r'\\(["\\\]])', r"\1", value) for name, value in PARAM.findall(found["params"].decode())}
    return Message(int(found["pri"]), fields, params, found["msg"])


class TcpReceiver:
    """A syslog receiver over TCP on loopback: splits octet-counted frames; refuses a stream it cannot split."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.port = int(self.listener.getsockname()[1])
        self.messages: list[bytes] = []
        self.errors: list[str] = []
        self.connections = 0
        self._open: list[socket.socket] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        readers = []
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                break
            self.connections += 1
            self._open.append(conn)
            reader = threading.Thread(target=self._read, args=(conn,), daemon=True)
            reader.start()
            readers.append(reader)
        for reader in readers:
            reader.join(5)

    def _read(self, conn: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                if buffer:
                    self.errors.append(f"stream ended inside a frame: {buffer[:80]!r}")
                return
            buffer += chunk
            while True:
                length, space, rest = buffer.partition(b" ")
                if not space:
                    break
                if not length.isdigit() or length.startswith(b"0"):
                    self.errors.append(f"not octet-counted: {buffer[:80]!r}")
                    return
                if len(rest) < int(length):
                    break
                with self._changed:
                    self.messages.append(rest[: int(length)])
                    self._changed.notify_all()
                buffer = rest[int(length) :]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[bytes]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        for conn in self._open:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._thread.join(5)
