"""OAuth resource-server mode: JWTs signed by test keys whose JWKS a loopback HTTP server publishes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from pvemcp.catalog.spec import Tier
from pvemcp.config import ConfigError
from pvemcp.http.oauth import JwksCache, OAuthAuthenticator
from pvemcp.http.settings import OAuthSettings, load_http_config
from pvesim import Simulator
from tests.helpers import actions
from tests.http.test_auth import INITIALIZE, MCP_HEADERS, STOPPED_QEMU, assert_not_logged, log_text, mcp_over_http
from tests.httpserver import http_service

pytestmark = pytest.mark.anyio

ISSUER = "https://id.example.com"
AUDIENCE = "https://pvemcp.example.com/mcp"
PUBLIC_URL = "https://pvemcp.example.com/mcp"
METADATA = "https://pvemcp.example.com/.well-known/oauth-protected-resource/mcp"

__all__ = ["log_text"]  # the fixture, used here too


@dataclass
class Jwks:
    """The issuer's published keys (editable while served) and how often they were fetched."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    fetches: int = 0
    url: str = ""


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        data = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        data = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**data, "kid": kid, "use": "sig"}


@pytest.fixture
def jwks(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Iterator[Jwks]:
    published = Jwks(keys=[public_jwk(rsa_key, "rsa-1"), public_jwk(ec_key, "ec-1")])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            published.fetches += 1
            body = json.dumps({"keys": published.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    published.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield published
    finally:
        server.shutdown()
        server.server_close()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300, "scope": "pve:read"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, kid: str = "rsa-1", alg: str = "RS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers={"kid": kid})


def oauth_env(jwks: Jwks, **extra: str) -> dict[str, str]:
    return {
        "PVE_ACCESS_TIER": "full",
        "MCP_OAUTH_ISSUER": ISSUER,
        "MCP_OAUTH_AUDIENCE": AUDIENCE,
        "MCP_OAUTH_JWKS_URL": jwks.url,
        "MCP_PUBLIC_URL": PUBLIC_URL,
        **extra,
    }


async def test_scopes_pick_the_tier(sim: Simulator, jwks: Jwks, rsa_key: Any, ec_key: Any, log_text: Any) -> None:
    reader = sign(rsa_key, scope="openid pve:read")
    operator = sign(ec_key, kid="ec-1", alg="ES256", sub="bob", scope=None, scp=["pve:read", "pve:execute"])
    admin = sign(rsa_key, alg="PS256", sub=None, client_id="ci-bot", scope="pve:admin")
    guest = sim.state.guests[STOPPED_QEMU]
    with http_service(oauth_env(jwks), sim, clock=sim.wait_clock()) as served:
        async with mcp_over_http(served.url, reader) as client:
            tools = (await client.list_tools()).tools
            assert tools and all(t.annotations is not None and t.annotations.read_only_hint for t in tools)
        async with mcp_over_http(served.url, admin) as client:
            assert "delete" in actions((await client.list_tools()).tools, "pve_guest_lifecycle")
        async with mcp_over_http(served.url, operator, "2026-07-28") as client:
            tools = (await client.list_tools()).tools
            assert "start" in actions(tools, "pve_guest_power")
            assert "delete" not in actions(tools, "pve_guest_lifecycle")
            started = await client.call_tool("pve_start_qemu_vm", {"vmid": STOPPED_QEMU})
            assert not started.is_error
    assert guest.status == "running"
    assert jwks.fetches == 1  # fetched once at start-up, then cached
    assert_not_logged(log_text, reader, operator, admin)


async def test_invalid_tokens_are_refused_with_401(sim: Simulator, jwks: Jwks, rsa_key: Any, log_text: Any) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    unsigned = handmade(claims(), alg="none")
    confused = handmade(
        claims(), alg="HS256", secret=public_pem
    )  # keyed with the public key: the classic algorithm confusion
    cases = {  # what is wrong → the token, and how the refusal explains it
        "expired": (sign(rsa_key, exp=now - 120, iat=now - 600), "has expired"),
        "audience": (sign(rsa_key, aud="https://elsewhere.example.com"), "for another audience"),
        "issuer": (sign(rsa_key, iss="https://evil.example.com"), "from another issuer"),
        "unknown key": (sign(stranger, kid="rsa-2"), "signing key is unknown"),
        "forged with a known kid": (sign(stranger, kid="rsa-1"), "signature is invalid"),
        "not yet valid": (sign(rsa_key, nbf=now + 600), "not valid yet"),
        "alg none": (unsigned, "algorithm is not accepted"),
        "alg HS256": (confused, "algorithm is not accepted"),
        "no exp": (sign(rsa_key, exp=None), "no exp claim"),
        "garbage": ("not.a.jwt", "malformed"),
    }
    with http_service(oauth_env(jwks), sim) as served:
        async with httpx2.AsyncClient(base_url=served.base, timeout=10) as http:
            for case, (token, why) in cases.items():
                answer = await http.post(
                    "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}
                )
                assert answer.status_code == 401, case
                challenge = answer.headers["www-authenticate"]
                assert challenge.startswith('Bearer realm="pvemcp", error="invalid_token"'), case
                assert why in challenge and why in answer.json()["error"]["message"], case
                assert f'resource_metadata="{METADATA}"' in challenge, case
            missing = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert missing.status_code == 401
            assert missing.headers["www-authenticate"] == f'Bearer realm="pvemcp", resource_metadata="{METADATA}"'
    assert jwks.fetches == 1  # an unknown kid right after start-up does not make us fetch again
    assert_not_logged(log_text, *(token for token, _ in cases.values()))


def handmade(payload: dict[str, Any], *, alg: str, secret: bytes = b"") -> str:
    """A JWT built by hand: unsigned (alg none), or HMAC-signed with a PEM public key, which PyJWT rightly
    refuses to produce."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "rsa-1"}).encode())
    signing_input = header + "." + b64(json.dumps(payload).encode())
    if alg == "none":
        return signing_input + "."
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


async def test_a_token_without_any_pve_scope_gets_403(sim: Simulator, jwks: Jwks, rsa_key: Any) -> None:
    token = sign(rsa_key, scope="openid profile")
    with http_service(oauth_env(jwks), sim) as served:
        answer = httpx2.post(served.url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert answer.json()["error"]["message"].startswith("forbidden")


async def test_protected_resource_metadata(sim: Simulator, jwks: Jwks) -> None:
    with http_service(oauth_env(jwks), sim) as served:
        async with httpx2.AsyncClient(base_url=served.base, timeout=10) as http:
            for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
                answer = await http.get(path)
                assert answer.status_code == 200, path
                assert answer.json() == {
                    "resource": PUBLIC_URL,
                    "authorization_servers": [ISSUER],
                    "scopes_supported": ["pve:read", "pve:execute", "pve:admin"],
                    "bearer_methods_supported": ["header"],
                    "resource_name": "pvemcp",
                }
                assert answer.headers["cache-control"] == "no-store"


async def test_bearer_tokens_and_oauth_together(sim: Simulator, jwks: Jwks, rsa_key: Any) -> None:
    from pvemcp.http.tokens import new_token

    static = new_token()
    with http_service(oauth_env(jwks, MCP_AUTH_TOKEN=static), sim) as served:
        async with mcp_over_http(served.url, static) as client:
            assert (await client.list_tools()).tools
        async with mcp_over_http(served.url, sign(rsa_key)) as client:
            assert (await client.list_tools()).tools
        wrong = {**MCP_HEADERS, "Authorization": f"Bearer {new_token()}"}
        refused = httpx2.post(served.url, json=INITIALIZE, headers=wrong)
        assert refused.status_code == 401 and "unknown bearer token" in refused.headers["www-authenticate"]


def test_oauth_off_loopback_needs_the_public_url(jwks: Jwks) -> None:
    env = {**oauth_env(jwks), "MCP_HOST": "192.0.2.1"}
    del env["MCP_PUBLIC_URL"]
    with pytest.raises(ConfigError, match="MCP_PUBLIC_URL is not set"):
        load_http_config(env, sandbox=True)
    assert load_http_config({**env, "MCP_PUBLIC_URL": PUBLIC_URL}, sandbox=True).http is not None


async def test_a_rotated_key_is_fetched_at_most_once_per_interval(jwks: Jwks, rsa_key: Any) -> None:
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = OAuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks.url)
    patient = OAuthAuthenticator(settings, Tier.FULL, jwks=JwksCache(jwks.url, min_interval=60))
    eager = OAuthAuthenticator(settings, Tier.FULL, jwks=JwksCache(jwks.url, min_interval=0))
    for authenticator in (patient, eager):
        assert (await authenticator.identify(sign(rsa_key))).grant is not None
    assert jwks.fetches == 2
    jwks.keys.append(public_jwk(new_key, "rsa-2"))
    rotated = sign(new_key, kid="rsa-2", sub="carol", scope="pve:execute")
    assert (await patient.identify(rotated)).grant is None  # fetched less than a minute ago: not again
    identity = await eager.identify(rotated)
    assert identity.grant is not None and identity.grant.name == "oauth:carol"
    assert identity.grant.tier is Tier.READ_EXECUTE and identity.subject == "carol"
    assert jwks.fetches == 3
    capped = OAuthAuthenticator(settings, Tier.READ_ONLY, jwks=JwksCache(jwks.url))
    admin = await capped.identify(sign(rsa_key, scope="pve:admin"))
    assert admin.grant is not None and admin.grant.tier is Tier.READ_ONLY


async def test_an_unreachable_jwks_refuses_tokens_without_crashing(sim: Simulator, rsa_key: Any) -> None:
    dead = Jwks(url="http://127.0.0.1:9/jwks.json")  # the discard port: nothing listens
    with http_service(oauth_env(dead), sim) as served:
        answer = httpx2.post(
            served.url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {sign(rsa_key)}"}
        )
        assert answer.status_code == 401
        assert httpx2.get(served.base + "/health").status_code == 200
