"""Secrets handed to pvemcp at start: which characters they may hold, and how their files are read.

A secret travels in an HTTP header (the Proxmox token, a bearer token) or seals state: a line break in it
would split the header, and a non-ASCII character cannot be sent at all. Such a value is a configuration
problem named by its setting, never shown. A secret file must be a regular file (a symlink to one is fine,
as Docker and Kubernetes mount secrets) and small; a FIFO or device could block start-up or never end.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("pvemcp.config")

MAX_SECRET_FILE = 4096
UNSAFE = (
    "holds control characters or non-ASCII characters (a secret must be printable ASCII; check for a stray"
    " line break or a pasted character; the value is not shown)"
)


def printable_ascii(value: str) -> bool:
    """Only characters from space to tilde: what a header value may carry without encoding."""
    return all(" " <= ch <= "~" for ch in value)


def check_secret(setting: str, value: str, problems: list[str]) -> bool:
    """Append a problem naming `setting` (never the value) when the secret cannot be sent as it is."""
    if printable_ascii(value):
        return True
    problems.append(f"{setting} {UNSAFE}")
    return False


def read_small_file(setting: str, text: str, problems: list[str], *, max_bytes: int) -> tuple[bytes, int] | None:
    """The bytes and mode of the regular file `text` names (symlinks followed), at most `max_bytes` bytes.

    A FIFO, directory or device is refused before it is opened, and again after (it may be swapped in
    between): opening a FIFO would wait for a writer, reading a device might never end.
    """
    where = f"{setting}={text!r}"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        problems.append(f"{setting} contains control characters")
        return None
    path = Path(text).expanduser()
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            problems.append(f"{where} is not a regular file (a FIFO, directory or device is refused)")
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        problems.append(f"{where} cannot be read: {exc.strerror or type(exc).__name__}")
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            problems.append(f"{where} is not a regular file (a FIFO, directory or device is refused)")
            return None
        data = b""
        while len(data) <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        problems.append(f"{where} cannot be read: {exc.strerror or type(exc).__name__}")
        return None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        problems.append(f"{where} is larger than {max_bytes} bytes; it cannot be the file meant")
        return None
    return data, stat.S_IMODE(info.st_mode)


def read_secret_file(setting: str, text: str, problems: list[str]) -> str:
    """The secret alone on the first line of the file `text` names; "" after appending the problem."""
    found = read_small_file(setting, text, problems, max_bytes=MAX_SECRET_FILE)
    if found is None:
        return ""
    data, mode = found
    where = f"{setting}={text!r}"
    readers = " and ".join(name for bit, name in ((0o040, "its group"), (0o004, "others")) if mode & bit)
    if readers:  # warned, not refused: Docker and Kubernetes mount secrets 0444 or 0644
        log.warning("%s is readable by %s (mode %04o); chmod 600 keeps it to its owner", where, readers, mode)
    try:
        lines = data.decode("utf-8").strip().splitlines()
    except UnicodeDecodeError:
        problems.append(f"{where} {UNSAFE}")
        return ""
    secret = lines[0].strip() if lines else ""
    if not secret:
        problems.append(f"{where} is empty")
        return ""
    return secret if check_secret(where, secret, problems) else ""
