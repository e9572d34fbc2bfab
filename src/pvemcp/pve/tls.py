"""TLS trust for the Proxmox API: system CAs, a CA file, or a pinned certificate fingerprint.

A pin is checked inside the connection set-up, right after the TLS handshake and before a single
HTTP byte (and so the API token) is written: a mismatched certificate never sees a credential.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass

from pvemcp.pve.errors import ErrorCode, ProxmoxTransportError, transport_error

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def normalize_fingerprint(value: str) -> str:
    """Accept `AA:BB:…` as Proxmox shows it, or plain hex; return lowercase hex. Raises ValueError."""
    cleaned = value.strip().lower().replace(":", "")
    if cleaned.startswith("sha256"):
        cleaned = cleaned.removeprefix("sha256").lstrip("=/ ")
    if not _HEX64.match(cleaned):
        raise ValueError("a sha256 fingerprint is 64 hex digits, e.g. AB:CD:…:EF as Proxmox shows it")
    return cleaned


def format_fingerprint(hex_digest: str) -> str:
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """How to trust the node's certificate. Verification is on unless `insecure` is set by name."""

    ca_file: str | None = None
    fingerprint: str | None = None
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext:
        if self.fingerprint or self.insecure:
            # The pin replaces chain and name checks (Proxmox's default certificate is self-signed).
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        return ssl.create_default_context(cafile=self.ca_file)


def classify_tls_failure(exc: BaseException) -> ProxmoxTransportError | None:
    """Name a TLS failure found anywhere in an exception chain, with the reason."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if isinstance(current, ssl.SSLCertVerificationError):
            reason = current.verify_message or text
            return transport_error(ErrorCode.TLS_ERROR, f"TLS certificate verification failed: {reason}.")
        if "fingerprint mismatch" in text:
            return transport_error(ErrorCode.TLS_ERROR, f"TLS pin check failed: {text}.")
        if isinstance(current, ssl.SSLError):
            return transport_error(ErrorCode.TLS_ERROR, f"TLS handshake failed: {text}.")
        current = current.__cause__ or current.__context__
    return None
