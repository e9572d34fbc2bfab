"""MCP_* settings: safe defaults, every problem reported together, the refuse-to-start rules."""

from __future__ import annotations

import pytest

from pvemcp.config import ConfigError, load_config
from pvemcp.http.guards import HostOriginGuard
from pvemcp.http.settings import LOOPBACK_NAMES, HttpConfig, HttpSettings, is_loopback, load_http_config, normalize_host
from tests.httpserver import run_refused

TOKEN = "t" * 40


def http(env: dict[str, str]) -> HttpSettings:
    return load_http_config(env, sandbox=True).http


def test_defaults_bind_loopback_with_the_usual_limits() -> None:
    settings = http({})
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert settings.loopback and not settings.wildcard and not settings.authenticated
    assert (settings.rate_limit_window, settings.rate_limit_max) == (60.0, 120)
    assert settings.max_body_bytes == 262_144
    assert (settings.headers_timeout, settings.request_timeout, settings.keepalive_timeout) == (15.0, 120.0, 5.0)
    assert settings.max_headers == 100
    assert not settings.metrics_public and not settings.stateless
    assert settings.url == "http://127.0.0.1:3000/mcp"


def test_stdio_is_the_default_transport_and_mcp_transport_selects_http() -> None:
    assert load_config({}, sandbox=True).transport == "stdio"
    assert load_config({"MCP_TRANSPORT": "HTTP"}, sandbox=True).transport == "http"
    assert load_config({"MCP_TRANSPORT": "http"}, sandbox=True, transport="stdio").transport == "stdio"


def test_the_http_configuration_adds_the_mcp_settings_and_their_secrets() -> None:
    config = load_http_config({"MCP_AUTH_TOKEN": TOKEN, "PVE_ACCESS_TIER": "full"}, sandbox=True)
    assert isinstance(config, HttpConfig) and config.transport == "http" and config.policy.tier.label == "full"
    assert TOKEN in config.secrets


def test_http_problems_are_reported_with_the_others() -> None:
    with pytest.raises(ConfigError) as caught:
        load_http_config({"PVE_LOG_LEVEL": "loud", "MCP_PORT": "3000.5"}, sandbox=True)
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize("value", ["3000.5", "3000.0", "1e3", "٣٠٠٠", "65536", "-1"])
def test_a_port_is_a_whole_number_in_range(value: str) -> None:
    with pytest.raises(ConfigError, match=f"MCP_PORT={value!r} must be a whole number from 0 to 65535"):
        http({"MCP_PORT": value})


@pytest.mark.parametrize(
    ("text", "expected"), [("TRUE", True), ("yes", True), ("On", True), ("0", False), ("no", False)]
)
def test_booleans_take_one_set_of_words(text: str, expected: bool) -> None:
    assert http({"MCP_STATELESS": text}).stateless is expected


def test_an_unknown_transport_is_an_error_not_a_silent_stdio() -> None:
    with pytest.raises(ConfigError, match="MCP_TRANSPORT='websocket'"):
        load_config({"MCP_TRANSPORT": "websocket"}, sandbox=True)


def test_every_problem_is_listed_together() -> None:
    with pytest.raises(ConfigError) as caught:
        load_http_config(
            {
                "MCP_PORT": "http",
                "MCP_RATE_LIMIT_MAX": "0",
                "MCP_MAX_BODY_SIZE_BYTES": "1.5",
                "MCP_ALLOWED_ORIGINS": "https://ok.example,not-an-origin",
                "MCP_METRICS_PUBLIC": "perhaps",
                "MCP_STATE_KEY": "short",
                "MCP_TRUSTED_PROXIES": "10.0.0.0/8,proxy",
            },
            sandbox=True,
        )
    text = "\n".join(caught.value.problems)
    for name in (
        "MCP_PORT='http'",
        "MCP_RATE_LIMIT_MAX='0'",
        "MCP_MAX_BODY_SIZE_BYTES='1.5'",
        "'not-an-origin'",
        "MCP_METRICS_PUBLIC='perhaps'",
        "MCP_STATE_KEY",
        "'proxy'",
    ):
        assert name in text
    assert "short" not in text  # a key is a secret, even a bad one


def test_a_non_loopback_bind_without_authentication_is_refused() -> None:
    with pytest.raises(ConfigError, match="MCP_ALLOW_UNAUTHENTICATED"):
        http({"MCP_HOST": "192.0.2.10"})
    assert http({"MCP_HOST": "192.0.2.10", "MCP_ALLOW_UNAUTHENTICATED": "true"}).allow_unauthenticated
    assert http({"MCP_HOST": "192.0.2.10", "MCP_AUTH_TOKEN": TOKEN}).authenticated


def test_a_wildcard_bind_needs_the_host_names_clients_use() -> None:
    with pytest.raises(ConfigError, match="MCP_ALLOWED_HOSTS"):
        http({"MCP_HOST": "0.0.0.0", "MCP_AUTH_TOKEN": TOKEN})
    settings = http({"MCP_HOST": "0.0.0.0", "MCP_AUTH_TOKEN": TOKEN, "MCP_ALLOWED_HOSTS": "MCP.example.com:443"})
    assert settings.wildcard and settings.allowed_hosts == ("mcp.example.com",)
    assert settings.url == "http://127.0.0.1:3000/mcp"


def test_a_short_bearer_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        http({"MCP_AUTH_TOKEN": "hunter2"})
    assert "hunter2" not in str(caught.value)


def test_oauth_needs_all_three_settings_and_https() -> None:
    with pytest.raises(ConfigError) as caught:
        http({"MCP_OAUTH_ISSUER": "https://id.example.com"})
    assert any("MCP_OAUTH_AUDIENCE" in p for p in caught.value.problems)
    assert any("MCP_OAUTH_JWKS_URL" in p for p in caught.value.problems)
    with pytest.raises(ConfigError, match="must use https"):
        http(
            {
                "MCP_OAUTH_ISSUER": "http://id.example.com",
                "MCP_OAUTH_AUDIENCE": "pvemcp",
                "MCP_OAUTH_JWKS_URL": "https://id.example.com/jwks",
            }
        )


def test_state_keys_rotate_first_seals() -> None:
    first, second = "a" * 40, "b" * 40
    settings = http({"MCP_STATE_KEY": f"{first},{second}"})
    assert settings.state_keys == (first.encode(), second.encode())
    assert first in settings.secrets  # the log redactor is told about them


@pytest.mark.parametrize(
    ("header", "host"),
    [("Example.COM:3000", "example.com"), ("[::1]:3000", "::1"), ("[::1]", "::1"), ("127.0.0.1", "127.0.0.1")],
)
def test_host_headers_are_compared_without_port_case_or_brackets(header: str, host: str) -> None:
    assert normalize_host(header) == host


def test_loopback_names() -> None:
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.0.2.1", "example.com"))


WILDCARD_SPELLINGS = ["0", "00", "0.0", "0.0.0.0", "::", "[::]", "::0", "0000::", "0:0:0:0:0:0:0:0", "[0:0::0]"]


@pytest.mark.parametrize("host", [*WILDCARD_SPELLINGS, "::ffff:0.0.0.0", "*"])
def test_every_spelling_of_a_wildcard_bind_counts_as_one(host: str) -> None:
    with pytest.raises(ConfigError, match="MCP_ALLOWED_HOSTS"):
        http({"MCP_HOST": host, "MCP_AUTH_TOKEN": TOKEN})
    with pytest.raises(ConfigError, match="MCP_ALLOW_UNAUTHENTICATED"):
        http({"MCP_HOST": host, "MCP_ALLOWED_HOSTS": "mcp.example.com"})
    settings = http({"MCP_HOST": host, "MCP_AUTH_TOKEN": TOKEN, "MCP_ALLOWED_HOSTS": "mcp.example.com"})
    assert settings.wildcard and not settings.loopback
    assert settings.host in ("0.0.0.0", "::", "*")  # one spelling for the bind and the logs
    assert settings.url == "http://127.0.0.1:3000/mcp"
    guard = HostOriginGuard(lambda scope, receive, send: None, settings)  # type: ignore[arg-type, return-value]
    assert guard.hosts == {"mcp.example.com"} | LOOPBACK_NAMES  # the bind address itself names no host


@pytest.mark.parametrize("host", ["127.1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "0x7f.1"])
def test_every_spelling_of_loopback_needs_no_token(host: str) -> None:
    settings = http({"MCP_HOST": host})
    assert settings.loopback and not settings.wildcard and not settings.authenticated


def test_mcp_host_0_is_refused_like_0_0_0_0() -> None:
    refused = run_refused({"MCP_HOST": "0", "MCP_ALLOW_UNAUTHENTICATED": "true"})
    assert refused.returncode == 2
    assert "MCP_HOST=0.0.0.0 listens on every interface" in refused.stderr and "Traceback" not in refused.stderr
