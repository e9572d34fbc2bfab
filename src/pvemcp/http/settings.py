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
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import SecretStr

from pvemcp.config import Config, Reading, read_config
from pvemcp.config.table import BY_NAME, int_default
from pvemcp.config.values import SettingValues
from pvemcp.http.tokens import TokenEntry, load_tokens_file, single_token_entry
from pvemcp.logs import redact
from pvemcp.secret_input import check_secret

REPLICA_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")  # MCP_REPLICA_ID: it leads session IDs and nginx maps it


def replica_problem(name: str) -> str | None:
    """Why MCP_REPLICA_ID cannot be this name, or None."""
    if REPLICA_ID.match(name):
        return None
    return "must be 1 to 32 lower-case letters, digits or '-', starting with a letter or digit"


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
# IPv4 as inet_aton reads it, and so a bind does: "0", "127.1", "0x7f.1" are addresses, not names.
_INET_ATON = re.compile(r"^(0[xX][0-9A-Fa-f]+|[0-9]+)(\.(0[xX][0-9A-Fa-f]+|[0-9]+)){0,3}$")
MIN_STATE_KEY = 32
SHARED_STATE_SCHEMES = ("redis", "rediss", "unix")


def _seconds(name: str) -> float:
    """A *_MS setting's default, in seconds."""
    return int_default(name) / 1000


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    issuer: str
    audience: str
    jwks_url: str


@dataclass(frozen=True, slots=True)
class SharedStateSettings:
    """MCP_SHARED_STATE_URL: the Redis server replicas share approvals and rate-limit windows in."""

    url: SecretStr  # as given: it may carry a password
    where: str  # host:port and database (or the socket's path), fit for a log line: never the password
    passwords: tuple[str, ...] = ()  # as written and percent-decoded, for redaction


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = str(BY_NAME["MCP_HOST"].default)
    port: int = int_default("MCP_PORT")
    allowed_hosts: tuple[str, ...] = ()  # normalised host names (lower case, no port, no brackets)
    allowed_origins: tuple[str, ...] = ()  # exact origins, e.g. https://claude.example.com
    rate_limit_window: float = _seconds("MCP_RATE_LIMIT_WINDOW_MS")
    rate_limit_max: int = int_default("MCP_RATE_LIMIT_MAX")  # per window per credential (else client address)
    max_body_bytes: int = int_default("MCP_MAX_BODY_SIZE_BYTES")
    headers_timeout: float = _seconds("MCP_HEADERS_TIMEOUT_MS")
    request_timeout: float = _seconds("MCP_REQUEST_TIMEOUT_MS")  # to receive a whole request (headers and body)
    keepalive_timeout: float = _seconds("MCP_KEEPALIVE_TIMEOUT_MS")
    max_headers: int = int_default("MCP_MAX_HEADERS_COUNT")
    # 2025-11-25 sessions (about 38 KiB each when idle, see bench/sessions.py): 1000 of them cost ~40 MB,
    # room for tens of users with a few windows each; one caller may hold 50 (its windows, and sessions its
    # client left open until they idle out). An hour of idleness spans the pauses of a chat.
    max_sessions: int = int_default("MCP_MAX_SESSIONS")
    max_sessions_per_caller: int = int_default("MCP_MAX_SESSIONS_PER_CALLER")
    session_idle_timeout: float = _seconds("MCP_SESSION_IDLE_TIMEOUT_MS")  # idle seconds before the SDK closes it
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
    shared_state: SharedStateSettings | None = None  # MCP_SHARED_STATE_URL; None: state per process
    replica_id: str | None = None  # MCP_REPLICA_ID: leads this replica's session IDs (http/replica.py)

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
        if self.shared_state is not None:
            values.extend(self.shared_state.passwords)
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


def shared_state_settings(text: str, problems: list[str]) -> SharedStateSettings | None:
    """MCP_SHARED_STATE_URL judged without ever quoting it (it may hold a password); None when unusable."""
    name = "MCP_SHARED_STATE_URL"
    if not check_secret(name, text, problems):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        problems.append(f"{name} is not a valid URL (its port must be a number from 1 to 65535)")
        return None
    scheme = parts.scheme.lower()
    if scheme not in SHARED_STATE_SCHEMES:
        given = f"{scheme}://" if scheme else "no scheme"
        problems.append(
            f"{name} must be a redis://, rediss:// (TLS) or unix:// URL, e.g. redis://127.0.0.1:6379/0; it has {given}"
        )
        return None
    query = parse_qs(parts.query)
    db = (query.get("db") or [""])[0] or (parts.path.strip("/") if scheme != "unix" else "") or "0"
    where = ""
    if not db.isdigit():
        problems.append(f"{name}: the database number must be a whole number (redis://host:6379/0)")
    if scheme == "unix":
        if not parts.path:
            problems.append(f"{name}: a unix:// URL names the socket's path, e.g. unix:///run/redis/redis.sock")
        where = f"unix socket {parts.path} db {db}"
    elif not parts.hostname:
        problems.append(f"{name} names no host, e.g. {scheme}://127.0.0.1:6379/0")
    else:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        where = f"{host}:{port or 6379} db {db}{' (TLS)' if scheme == 'rediss' else ''}"
    written = [parts.password or "", *query.get("password", [])]
    passwords = tuple(dict.fromkeys(p for word in written for p in (word, unquote(word)) if p))
    from redis.connection import parse_url  # only when the setting is set; its options are judged at start-up

    try:
        parse_url(text)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
    except ValueError as exc:
        problems.append(f"{name}: {redact(str(exc), passwords)}")
    return SharedStateSettings(SecretStr(text), where, passwords)


def http_settings(values: SettingValues, problems: list[str]) -> HttpSettings:
    """Judge every MCP_* setting, appending each problem; the refuse-to-start rules are checked here too."""
    host = values.text("MCP_HOST")
    address = bind_address(host)
    if address is not None:
        host = str(address)  # one spelling for the bind, the checks below and the logs
    elif host != "*" and not _HOSTNAME.match(host):
        problems.append(f"MCP_HOST={host!r} is not an IP address or host name")
    allowed_hosts = tuple(normalize_host(h) for h in _csv(values.raw("MCP_ALLOWED_HOSTS")))
    origins: list[str] = []
    for origin in _csv(values.raw("MCP_ALLOWED_ORIGINS")):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            problems.append(f"MCP_ALLOWED_ORIGINS: {origin!r} is not an origin like https://app.example.com")
        else:
            origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    sessions = values.integer("MCP_MAX_SESSIONS")
    per_caller = values.integer("MCP_MAX_SESSIONS_PER_CALLER")
    if values.given("MCP_MAX_SESSIONS_PER_CALLER") and per_caller > sessions:
        problems.append(
            f"MCP_MAX_SESSIONS_PER_CALLER={per_caller} is above MCP_MAX_SESSIONS={sessions}:"
            " one caller could then hold every session"
        )
    tokens_file: Path | None = None
    token_entries: tuple[TokenEntry, ...] = ()
    if values.text("MCP_AUTH_TOKENS_FILE"):
        tokens_file = Path(values.text("MCP_AUTH_TOKENS_FILE")).expanduser()
        if not tokens_file.is_file():
            problems.append(f"MCP_AUTH_TOKENS_FILE={str(tokens_file)!r} is not a readable file")
        else:
            token_entries, token_problems = load_tokens_file(tokens_file)
            problems.extend(token_problems)
    token_text = values.text("MCP_AUTH_TOKEN")
    token = SecretStr(token_text) if token_text and check_secret("MCP_AUTH_TOKEN", token_text, problems) else None
    if token is not None and len(token_text) < 32:
        problems.append("MCP_AUTH_TOKEN is shorter than 32 characters; generate one with `pvemcp token new`")
    elif token is not None:
        single = single_token_entry(token_text)
        if any(entry.digest == single.digest for entry in token_entries):
            problems.append("MCP_AUTH_TOKEN is also an entry of MCP_AUTH_TOKENS_FILE; use one or the other")
        if any(entry.name == single.name for entry in token_entries):
            problems.append(f"MCP_AUTH_TOKENS_FILE names a token {single.name!r}, the caller name of MCP_AUTH_TOKEN")
    oauth = None
    issuer, audience = values.text("MCP_OAUTH_ISSUER"), values.text("MCP_OAUTH_AUDIENCE")
    jwks = values.text("MCP_OAUTH_JWKS_URL")
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
    public_url = values.text("MCP_PUBLIC_URL") or None
    if public_url:
        _url("MCP_PUBLIC_URL", public_url, problems)
    keys: list[bytes] = []
    state_text = ",".join(_csv(values.raw("MCP_STATE_KEY")))
    if state_text and check_secret("MCP_STATE_KEY", state_text, problems):
        for key in state_text.split(","):
            if len(key.encode()) < MIN_STATE_KEY:
                problems.append(
                    f"MCP_STATE_KEY: each key needs at least {MIN_STATE_KEY} characters of randomness"
                    " (generate one with `pvemcp token new --state-key`)"
                )
            keys.append(key.encode())
    proxies: list[str] = []
    for proxy in _csv(values.raw("MCP_TRUSTED_PROXIES")):
        try:
            ipaddress.ip_network(proxy, strict=False)
            proxies.append(proxy)
        except ValueError:
            problems.append(f"MCP_TRUSTED_PROXIES: {proxy!r} is not an IP address or network")
    replica_id = (values.text("MCP_REPLICA_ID") or "").strip()
    shared_text = values.text("MCP_SHARED_STATE_URL")
    shared_state = shared_state_settings(shared_text, problems) if shared_text else None
    settings = HttpSettings(
        host=host,
        port=values.integer("MCP_PORT"),
        allowed_hosts=allowed_hosts,
        allowed_origins=tuple(origins),
        rate_limit_window=values.integer("MCP_RATE_LIMIT_WINDOW_MS") / 1000,
        rate_limit_max=values.integer("MCP_RATE_LIMIT_MAX"),
        max_body_bytes=values.integer("MCP_MAX_BODY_SIZE_BYTES"),
        headers_timeout=values.integer("MCP_HEADERS_TIMEOUT_MS") / 1000,
        request_timeout=values.integer("MCP_REQUEST_TIMEOUT_MS") / 1000,
        keepalive_timeout=values.integer("MCP_KEEPALIVE_TIMEOUT_MS") / 1000,
        max_headers=values.integer("MCP_MAX_HEADERS_COUNT"),
        max_sessions=sessions,
        max_sessions_per_caller=min(per_caller, sessions),
        session_idle_timeout=values.integer("MCP_SESSION_IDLE_TIMEOUT_MS") / 1000,
        metrics_public=values.flag("MCP_METRICS_PUBLIC"),
        tokens_file=tokens_file,
        token_entries=token_entries,
        token=token,
        oauth=oauth,
        public_url=public_url,
        allow_unauthenticated=values.flag("MCP_ALLOW_UNAUTHENTICATED"),
        state_keys=tuple(keys),
        stateless=values.flag("MCP_STATELESS"),
        trusted_proxies=tuple(proxies),
        shared_state=shared_state,
        replica_id=replica_id or None,
    )
    if replica_id and replica_problem(replica_id) is not None:
        problems.append(f"MCP_REPLICA_ID={replica_id[:40]!r} {replica_problem(replica_id)}")
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


def load_http_settings(environ: Mapping[str, str] | None, problems: list[str]) -> HttpSettings:
    """The MCP_* settings of `environ` alone (None: the process environment), without a whole configuration."""
    return http_settings(SettingValues(os.environ if environ is None else environ, problems), problems)


@dataclass(frozen=True, slots=True)
class HttpConfig(Config):
    """The configuration of a server over Streamable HTTP: the common settings and the MCP_* ones."""

    http: HttpSettings = field(default_factory=HttpSettings)

    @property
    def secrets(self) -> tuple[str, ...]:
        own = (self.target.token.secret,) if self.target else ()
        return own + self.http.secrets


def http_config(reading: Reading) -> HttpConfig:
    """Add the MCP_* settings to a reading; raise ConfigError listing every problem, theirs and the rest."""
    settings = http_settings(reading.values, reading.problems)
    config = reading.result()
    return HttpConfig(**{f.name: getattr(config, f.name) for f in fields(Config)}, http=settings)


def load_http_config(
    environ: Mapping[str, str] | None = None,
    *,
    sandbox: bool = False,
    profile: str | None = None,
    cwd: Path | None = None,
) -> HttpConfig:
    """load_config for serving over HTTP, whatever MCP_TRANSPORT says."""
    return http_config(read_config(environ, sandbox=sandbox, transport="http", profile=profile, cwd=cwd))
