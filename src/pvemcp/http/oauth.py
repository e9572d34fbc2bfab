"""OAuth 2.1 resource-server mode: JWT access tokens from one issuer, checked locally.

A token is accepted when it is signed by a key of the issuer's JWKS (asymmetric algorithms only:
RS*, PS*, ES*, EdDSA; never `none` or HS*, which a public key set cannot meaningfully verify), names
MCP_OAUTH_ISSUER as `iss` and MCP_OAUTH_AUDIENCE among `aud`, and is within `nbf`..`exp` (with a small
leeway for clock skew). Its scopes pick the tier: pve:admin → full, pve:execute → read-execute,
pve:read → read-only, the highest present; a valid token with none of them is refused with 403.

The JWKS is fetched with TLS verification, cached, and fetched again when a token names an unknown
`kid` (key rotation), at most once a minute so that forged `kid`s cannot make us hammer the issuer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

import anyio
import httpx2
import jwt

from pvemcp.catalog.spec import Tier
from pvemcp.http.settings import HttpSettings, OAuthSettings
from pvemcp.http.tokens import Identity
from pvemcp.server.access import Grant

log = logging.getLogger("pvemcp.http.oauth")

ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
SCOPE_TIERS = (("pve:admin", Tier.FULL), ("pve:execute", Tier.READ_EXECUTE), ("pve:read", Tier.READ_ONLY))
SCOPES_SUPPORTED = ["pve:read", "pve:execute", "pve:admin"]
WELL_KNOWN = "/.well-known/oauth-protected-resource"
LEEWAY_SECONDS = 30
MAX_TOKEN_CHARS = 16_384
MAX_JWKS_BYTES = 1 << 20
JWKS_TIMEOUT = 5.0
JWKS_MAX_AGE = 3600.0  # keys are fetched again after an hour even if every kid is known


class JwksCache:
    """The issuer's signing keys by `kid`, fetched on demand and at most once per `min_interval`."""

    def __init__(self, url: str, *, min_interval: float = 60.0, max_age: float = JWKS_MAX_AGE) -> None:
        self.url = url
        self.min_interval = min_interval
        self.max_age = max_age
        self._keys: dict[str | None, dict[str, Any]] = {}
        self._built: dict[tuple[str | None, str], jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._tried_at: float | None = None  # last attempt
        self._lock = anyio.Lock()

    @property
    def keys(self) -> dict[str | None, dict[str, Any]]:
        return self._keys

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the key set unless one was tried within `min_interval`; True when the keys changed."""
        async with self._lock:
            now = time.monotonic()
            if not force and self._tried_at is not None and now - self._tried_at < self.min_interval:
                return False
            self._tried_at = now
            try:
                keys = await self._fetch()
            except (httpx2.HTTPError, ValueError) as exc:
                log.warning("OAuth: the JWKS at %s could not be fetched: %s", self.url, _reason(exc))
                return False
            changed = keys != self._keys
            self._keys, self._fetched_at = keys, now
            if changed:
                self._built = {}
            return changed

    async def key_for(self, kid: str | None, alg: str) -> jwt.PyJWK | None:
        """The key to verify a token with header `kid` and `alg`, fetching the set again if the kid is new."""
        stale = self._fetched_at is None or time.monotonic() - self._fetched_at > self.max_age
        if stale or self._lookup(kid) is None:
            await self.refresh()
        data = self._lookup(kid)
        if data is None or data.get("alg", alg) != alg:
            return None
        built = self._built.get((kid, alg))
        if built is None:
            try:
                built = jwt.PyJWK(data, algorithm=alg)
            except jwt.PyJWTError:
                return None  # the key does not fit the algorithm (an EC key for RS256, say)
            self._built[(kid, alg)] = built
        return built

    def _lookup(self, kid: str | None) -> dict[str, Any] | None:
        if kid is not None:
            return self._keys.get(kid)
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    async def _fetch(self) -> dict[str | None, dict[str, Any]]:
        async with (
            httpx2.AsyncClient(timeout=JWKS_TIMEOUT, follow_redirects=False) as http,
            http.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
        ):
            response.raise_for_status()
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError("the key set is larger than 1 MiB")
        document = json.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("the document has no 'keys' list")
        keys: dict[str | None, dict[str, Any]] = {}
        for item in document["keys"]:
            usable = isinstance(item, dict) and item.get("kty") in KEY_TYPES and item.get("use", "sig") == "sig"
            if usable and (item.get("alg") is None or item.get("alg") in ALGORITHMS):
                kid = item.get("kid")
                keys[kid if isinstance(kid, str) else None] = item
        if not keys:
            raise ValueError("the document holds no usable signing key")
        return keys


class OAuthAuthenticator:
    """Turns a JWT access token into a caller's grant, or says why not."""

    def __init__(self, oauth: OAuthSettings, server_tier: Tier, *, jwks: JwksCache | None = None) -> None:
        self.oauth = oauth
        self.server_tier = server_tier
        self.jwks = jwks or JwksCache(oauth.jwks_url)

    async def grant_for(self, token: str) -> Grant | None:
        return (await self.identify(token)).grant

    def known_grants(self) -> list[Grant]:
        return [Grant(f"oauth:{tier.label}", tier) for tier in Tier if tier <= self.server_tier]

    async def identify(self, token: str) -> Identity:
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            return Identity.refused("the access token is not a JWT")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return Identity.refused("the access token is malformed")
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            return Identity.refused("the access token's signing algorithm is not accepted")
        key = await self.jwks.key_for(kid if isinstance(kid, str) else None, str(alg))
        if key is None:
            return Identity.refused("the access token's signing key is unknown")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[str(alg)],
                audience=self.oauth.audience,
                issuer=self.oauth.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            return Identity.refused("the access token has expired")
        except jwt.ImmatureSignatureError:
            return Identity.refused("the access token is not valid yet")
        except jwt.InvalidAudienceError:
            return Identity.refused("the access token is for another audience")
        except jwt.InvalidIssuerError:
            return Identity.refused("the access token is from another issuer")
        except jwt.InvalidSignatureError:
            return Identity.refused("the access token's signature is invalid")
        except jwt.MissingRequiredClaimError as exc:
            return Identity.refused(f"the access token has no {exc.claim} claim")
        except jwt.PyJWTError:
            return Identity.refused("the access token is invalid")
        return self._identity(token, claims)

    def _identity(self, token: str, claims: dict[str, Any]) -> Identity:
        scopes = token_scopes(claims)
        tier = next((tier for scope, tier in SCOPE_TIERS if scope in scopes), None)
        if tier is None:
            return Identity.refused(
                f"the access token grants none of {', '.join(SCOPES_SUPPORTED)}", insufficient_scope=True
            )
        subject = _text(claims.get("sub"))
        who = subject or _text(claims.get("client_id")) or _text(claims.get("azp"))
        if who is None:
            return Identity.refused("the access token names no subject or client")
        expires = claims.get("exp")
        return Identity(
            Grant(f"oauth:{who}", min(tier, self.server_tier)),
            scopes=tuple(scopes),
            expires_at=int(expires) if isinstance(expires, int | float) else None,
            subject=subject,
            claims={"iss": claims.get("iss")},
            fingerprint="jwt:" + hashlib.sha256(token.encode()).hexdigest()[:16],
        )


def token_scopes(claims: dict[str, Any]) -> list[str]:
    """`scope` (space-separated, RFC 9068) or `scp` (a list, or a string, as some issuers send)."""
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, str)]
    return []


def _text(value: object) -> str | None:
    """A claim fit to name a caller in logs: printable, bounded."""
    if not isinstance(value, str) or not value.strip():
        return None
    return "".join(c if c.isprintable() else "?" for c in value.strip())[:128]


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return f"{exc.__class__.__name__}: {exc}"[:200]


def metadata_url(settings: HttpSettings) -> str:
    """RFC 9728 §3.1: the well-known path inserted between the host and the resource's path."""
    base, path = _split(settings.url)
    return f"{base}{WELL_KNOWN}{path}"


def protected_resource_document(settings: HttpSettings) -> dict[str, Any]:
    assert settings.oauth is not None
    return {
        "resource": settings.url,
        "authorization_servers": [settings.oauth.issuer],
        "scopes_supported": SCOPES_SUPPORTED,
        "bearer_methods_supported": ["header"],
        "resource_name": "pvemcp",
    }


def metadata_paths(settings: HttpSettings) -> list[str]:
    """Both where RFC 9728 puts the document for this resource, and the bare well-known path."""
    _, path = _split(settings.url)
    return [WELL_KNOWN] + ([f"{WELL_KNOWN}{path}"] if path else [])


def _split(url: str) -> tuple[str, str]:
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    path = (slash + path).split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return f"{scheme}://{netloc}", path
