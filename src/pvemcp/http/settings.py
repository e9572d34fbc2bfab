"""The HTTP transport's settings (MCP_*), validated together with the rest of the configuration.

Names and defaults follow the common MCP server convention (MCP_HOST, MCP_PORT, MCP_RATE_LIMIT_*,
MCP_*_TIMEOUT_MS …) with one deliberate change: MCP_HOST defaults to 127.0.0.1, never 0.0.0.0.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from pvemcp.config_file import SettingsText
from pvemcp.http.tokens import TokenEntry, load_tokens_file, single_token_entry
from pvemcp.secret_input import check_secret

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
# IPv4 as inet_aton reads it, and so a bind does: "0", "127.1", "0x7f.1" are addresses, not names.
_INET_ATON = re.compile(r"^(0[xX][0-9A-Fa-f]+|[0-9]+)(\.(0[xX][0-9A-Fa-f]+|[0-9]+)){0,3}$")
MIN_STATE_KEY = 32


class HttpEnv(SettingsText):
    """Raw MCP_* text from the environment."""

    mcp_host: str | None = None
    mcp_port: str | None = None
    mcp_allowed_hosts: str | None = None
    mcp_allowed_origins: str | None = None
    mcp_rate_limit_window_ms: str | None = None
    mcp_rate_limit_max: str | None = None
    mcp_max_body_size_bytes: str | None = None
    mcp_headers_timeout_ms: str | None = None
    mcp_request_timeout_ms: str | None = None
    mcp_keepalive_timeout_ms: str | None = None
    mcp_max_headers_count: str | None = None
    mcp_max_sessions: str | None = None
    mcp_max_sessions_per_caller: str | None = None
    mcp_session_idle_timeout_ms: str | None = None
    mcp_metrics_public: str | None = None
    mcp_auth_tokens_file: str | None = None
    mcp_auth_token: SecretStr | None = None
    mcp_oauth_issuer: str | None = None
    mcp_oauth_audience: str | None = None
    mcp_oauth_jwks_url: str | None = None
    mcp_public_url: str | None = None
    mcp_allow_unauthenticated: str | None = None
    mcp_state_key: SecretStr | None = None
    mcp_stateless: str | None = None
    mcp_trusted_proxies: str | None = None


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    issuer: str
    audience: str
    jwks_url: str


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 3000
    allowed_hosts: tuple[str, ...] = ()  # normalised host names (lower case, no port, no brackets)
    allowed_origins: tuple[str, ...] = ()  # exact origins, e.g. https://claude.example.com
    rate_limit_window: float = 60.0  # seconds
    rate_limit_max: int = 120  # requests per window per credential (else per client address)
    max_body_bytes: int = 262_144
    headers_timeout: float = 15.0
    request_timeout: float = 120.0  # to receive a whole request (headers and body)
    keepalive_timeout: float = 5.0
    max_headers: int = 100
    # 2025-11-25 sessions (about 38 KiB each when idle, see bench/sessions.py): 1000 of them cost ~40 MB,
    # room for tens of users with a few windows each; one caller may hold 50 (its windows, and sessions its
    # client left open until they idle out). An hour of idleness spans the pauses of a chat.
    max_sessions: int = 1000
    max_sessions_per_caller: int = 50
    session_idle_timeout: float = 3600.0  # seconds without a request before the SDK closes the session
    metrics_public: bool = False
    tokens_file: Path | None = None
    token_entries: tuple[TokenEntry, ...] = ()  # MCP_AUTH_TOKENS_FILE, parsed and checked at start-up
    token: SecretStr | None = None  # MCP_AUTH_TOKEN: one bearer token, the server's own tier
    oauth: OAuthSettings | None = None
    public_url: str | None = None  # how clients reach /mcp (for OAuth metadata); default from host and port
    allow_unauthenticated: bool = False
    state_keys: tuple[bytes, ...] = ()  # MCP_STATE_KEY, comma-separated: the first seals, all unseal
    stateless: bool = False
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-For is believed

    @property
    def authenticated(self) -> bool:
        return self.tokens_file is not None or self.token is not None or self.oauth is not None

    @property
    def wildcard(self) -> bool:
        """Listens on every interface: `*`, or any spelling of 0.0.0.0 and :: (`0`, `[::]`, `0:0:0:0:0:0:0:0` …)."""
        address = bind_address(self.host)
        return self.host == "*" or (address is not None and address.is_unspecified)

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def url(self) -> str:
        """Where this server answers MCP, as a client on this machine would reach it."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.wildcard else self.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/mcp"

    @property
    def secrets(self) -> tuple[str, ...]:
        values = [self.token.get_secret_value()] if self.token else []
        values.extend(key.decode("utf-8", "replace") for key in self.state_keys)
        return tuple(values)


def bind_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `host` names as the socket layer reads it (brackets off, IPv4-mapped unwrapped); None for names."""
    bare = host.strip()
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        if not _INET_ATON.match(bare):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    address = bind_address(host)
    return address is not None and address.is_loopback


def normalize_host(value: str) -> str:
    """A Host header or allow-list entry as compared: lower case, port and IPv6 brackets removed."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _number(name: str, text: str | None, default: float, problems: list[str], *, low: float, high: float) -> float:
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{name}={text!r} is not a number")
        return default
    if not (low <= value <= high) or not value.is_integer():
        problems.append(f"{name}={text!r} must be a whole number from {low:g} to {high:g}")
        return default
    return value


def _flag(name: str, text: str | None, problems: list[str]) -> bool:
    value = (text or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    problems.append(f"{name}={text!r} is not a boolean; use true or false")
    return False


def _csv(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def _url(name: str, text: str, problems: list[str], *, https_only: bool = False) -> str:
    """An absolute URL; https_only admits plain http for loopback hosts alone (a local identity provider)."""
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        problems.append(f"{name}={text!r} must be an absolute https URL")
    elif https_only and parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        problems.append(f"{name}={text!r} must use https (plain http only for a loopback address)")
    return text


def _env(environ: Mapping[str, str] | None) -> HttpEnv:
    if environ is None:
        environ = os.environ
    return HttpEnv.model_validate({k.lower(): v for k, v in environ.items()})


def load_http_settings(environ: Mapping[str, str] | None, problems: list[str]) -> HttpSettings:
    """Parse every MCP_* setting, appending each problem; the refuse-to-start rules are checked here too."""
    env = _env(environ)
    host = (env.mcp_host or "127.0.0.1").strip()
    address = bind_address(host)
    if address is not None:
        host = str(address)  # one spelling for the bind, the checks below and the logs
    elif host != "*" and not _HOSTNAME.match(host):
        problems.append(f"MCP_HOST={host!r} is not an IP address or host name")
    port = int(_number("MCP_PORT", env.mcp_port, 3000, problems, low=0, high=65535))
    allowed_hosts = tuple(normalize_host(h) for h in _csv(env.mcp_allowed_hosts))
    origins: list[str] = []
    for origin in _csv(env.mcp_allowed_origins):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            problems.append(f"MCP_ALLOWED_ORIGINS: {origin!r} is not an origin like https://app.example.com")
        else:
            origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    window = _number("MCP_RATE_LIMIT_WINDOW_MS", env.mcp_rate_limit_window_ms, 60_000, problems, low=1000, high=86.4e6)
    rate_max = _number("MCP_RATE_LIMIT_MAX", env.mcp_rate_limit_max, 120, problems, low=1, high=1e9)
    body = _number("MCP_MAX_BODY_SIZE_BYTES", env.mcp_max_body_size_bytes, 262_144, problems, low=1024, high=64 << 20)
    headers_t = _number("MCP_HEADERS_TIMEOUT_MS", env.mcp_headers_timeout_ms, 15_000, problems, low=100, high=600_000)
    request_t = _number("MCP_REQUEST_TIMEOUT_MS", env.mcp_request_timeout_ms, 120_000, problems, low=100, high=3.6e6)
    alive_t = _number("MCP_KEEPALIVE_TIMEOUT_MS", env.mcp_keepalive_timeout_ms, 5_000, problems, low=100, high=600_000)
    max_headers = _number("MCP_MAX_HEADERS_COUNT", env.mcp_max_headers_count, 100, problems, low=8, high=10_000)
    sessions = _number("MCP_MAX_SESSIONS", env.mcp_max_sessions, 1000, problems, low=1, high=100_000)
    per_caller = _number("MCP_MAX_SESSIONS_PER_CALLER", env.mcp_max_sessions_per_caller, 50, problems, low=1, high=1e5)
    if (env.mcp_max_sessions_per_caller or "").strip() and per_caller > sessions:
        problems.append(
            f"MCP_MAX_SESSIONS_PER_CALLER={int(per_caller)} is above MCP_MAX_SESSIONS={int(sessions)}:"
            " one caller could then hold every session"
        )
    idle_t = _number(
        "MCP_SESSION_IDLE_TIMEOUT_MS", env.mcp_session_idle_timeout_ms, 3.6e6, problems, low=1000, high=86.4e6
    )
    tokens_file: Path | None = None
    token_entries: tuple[TokenEntry, ...] = ()
    if (env.mcp_auth_tokens_file or "").strip():
        tokens_file = Path(str(env.mcp_auth_tokens_file).strip()).expanduser()
        if not tokens_file.is_file():
            problems.append(f"MCP_AUTH_TOKENS_FILE={str(tokens_file)!r} is not a readable file")
        else:
            token_entries, token_problems = load_tokens_file(tokens_file)
            problems.extend(token_problems)
    token = env.mcp_auth_token if env.mcp_auth_token and env.mcp_auth_token.get_secret_value().strip() else None
    if token is not None and not check_secret("MCP_AUTH_TOKEN", token.get_secret_value().strip(), problems):
        token = None
    if token is not None and len(token.get_secret_value().strip()) < 32:
        problems.append("MCP_AUTH_TOKEN is shorter than 32 characters; generate one with `pvemcp token new`")
    elif token is not None:
        single = single_token_entry(token.get_secret_value().strip())
        if any(entry.digest == single.digest for entry in token_entries):
            problems.append("MCP_AUTH_TOKEN is also an entry of MCP_AUTH_TOKENS_FILE; use one or the other")
        if any(entry.name == single.name for entry in token_entries):
            problems.append(f"MCP_AUTH_TOKENS_FILE names a token {single.name!r}, the caller name of MCP_AUTH_TOKEN")
    oauth = None
    issuer, audience, jwks = (
        (v or "").strip() for v in (env.mcp_oauth_issuer, env.mcp_oauth_audience, env.mcp_oauth_jwks_url)
    )
    if issuer or audience or jwks:
        for name, value in (
            ("MCP_OAUTH_ISSUER", issuer),
            ("MCP_OAUTH_AUDIENCE", audience),
            ("MCP_OAUTH_JWKS_URL", jwks),
        ):
            if not value:
                problems.append(f"{name} is not set (OAuth needs issuer, audience and JWKS URL together)")
        if issuer and audience and jwks:
            oauth = OAuthSettings(
                issuer=_url("MCP_OAUTH_ISSUER", issuer, problems, https_only=True),
                audience=audience,
                jwks_url=_url("MCP_OAUTH_JWKS_URL", jwks, problems, https_only=True),
            )
    public_url = (env.mcp_public_url or "").strip() or None
    if public_url:
        _url("MCP_PUBLIC_URL", public_url, problems)
    keys: list[bytes] = []
    state_text = ",".join(_csv(env.mcp_state_key.get_secret_value() if env.mcp_state_key else ""))
    if state_text and check_secret("MCP_STATE_KEY", state_text, problems):
        for key in state_text.split(","):
            if len(key.encode()) < MIN_STATE_KEY:
                problems.append(
                    f"MCP_STATE_KEY: each key needs at least {MIN_STATE_KEY} characters of randomness"
                    " (generate one with `pvemcp token new --state-key`)"
                )
            keys.append(key.encode())
    proxies: list[str] = []
    for proxy in _csv(env.mcp_trusted_proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
            proxies.append(proxy)
        except ValueError:
            problems.append(f"MCP_TRUSTED_PROXIES: {proxy!r} is not an IP address or network")
    settings = HttpSettings(
        host=host,
        port=port,
        allowed_hosts=allowed_hosts,
        allowed_origins=tuple(origins),
        rate_limit_window=window / 1000,
        rate_limit_max=int(rate_max),
        max_body_bytes=int(body),
        headers_timeout=headers_t / 1000,
        request_timeout=request_t / 1000,
        keepalive_timeout=alive_t / 1000,
        max_headers=int(max_headers),
        max_sessions=int(sessions),
        max_sessions_per_caller=int(min(per_caller, sessions)),
        session_idle_timeout=idle_t / 1000,
        metrics_public=_flag("MCP_METRICS_PUBLIC", env.mcp_metrics_public, problems),
        tokens_file=tokens_file,
        token_entries=token_entries,
        token=token,
        oauth=oauth,
        public_url=public_url,
        allow_unauthenticated=_flag("MCP_ALLOW_UNAUTHENTICATED", env.mcp_allow_unauthenticated, problems),
        state_keys=tuple(keys),
        stateless=_flag("MCP_STATELESS", env.mcp_stateless, problems),
        trusted_proxies=tuple(proxies),
    )
    if settings.wildcard and not settings.allowed_hosts:
        problems.append(
            f"MCP_HOST={host} listens on every interface: set MCP_ALLOWED_HOSTS to the host names clients use"
            " (the Host header is checked against it)"
        )
    if oauth is not None and not public_url and not settings.loopback:
        problems.append(
            "MCP_PUBLIC_URL is not set: in OAuth mode the protected-resource metadata and WWW-Authenticate name"
            " the URL clients use for /mcp (e.g. https://pvemcp.example.com/mcp)"
        )
    if not settings.loopback and not settings.authenticated and not settings.allow_unauthenticated:
        problems.append(
            f"MCP_HOST={host} is not a loopback address and no authentication is configured: set"
            " MCP_AUTH_TOKENS_FILE, MCP_AUTH_TOKEN or MCP_OAUTH_*, or MCP_ALLOW_UNAUTHENTICATED=true to accept"
            " that anyone who reaches the port controls the cluster"
        )
    return settings
