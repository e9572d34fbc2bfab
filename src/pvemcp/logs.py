"""Logging to stderr only (on stdio, stdout is the MCP wire), with secrets redacted on the way out."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

_PATTERNS = (
    re.compile(r"(PVEAPIToken=[^=\s]+=)[^\s'\",}]+"),
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\s'\",}]+(\s+[^\s'\",}]+)?"),
    re.compile(r"(?i)((?:password|passwd|secret|token_secret|api_key)[\"']?\s*[:=]\s*[\"']?)[^\s'\",}&]+"),
)
REDACTED = "***"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove token secrets, authorization headers and password-like values from text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def configure_logging(level: int, secrets: Iterable[str] = ()) -> None:
    """Send pvemcp's (and libraries') logs to stderr, one line each, redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.WARNING))
    logging.getLogger("pvemcp").setLevel(level)
