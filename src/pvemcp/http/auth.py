"""Who is calling over HTTP, and the 401/403 answers for those who may not.

Two layers around the rate limit:

- `Authenticate` identifies and never refuses: a valid `Authorization: Bearer …` puts the caller's
  `Grant` in the scope (GRANT_KEY), and the SDK's `AuthenticatedUser` in scope["user"] and in its
  `auth_context_var`, so the SDK binds sessions and sealed request state to that principal. An invalid
  credential leaves a note for `RequireAuth`; the rate limit in between counts such attempts per address.
- `RequireAuth` answers 401 (with `WWW-Authenticate: Bearer realm="pvemcp"`, and `resource_metadata` in
  OAuth mode) when a protected route is asked for without a valid credential, and 403 when an OAuth
  token is valid but grants no pve:* scope.

Bearer tokens (MCP_AUTH_TOKENS_FILE, MCP_AUTH_TOKEN) and OAuth access tokens may be configured together:
a token is first looked up by its hash, then checked as a JWT.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pvemcp.catalog.spec import Tier
from pvemcp.http.guards import error_response
from pvemcp.http.settings import HttpSettings
from pvemcp.http.tokens import TIER_SCOPES, Identity, TokenAuthenticator, single_token_entry
from pvemcp.server.access import Grant

log = logging.getLogger("pvemcp.http.auth")

GRANT_KEY = "pvemcp.grant"  # the ASGI scope key Authenticate stores the caller's Grant under
REFUSAL_KEY = "pvemcp.auth_refusal"  # why a presented credential was not accepted (an Identity)
REALM = "pvemcp"
UNAUTHORIZED = -32001  # the JSON-RPC error code of a refusal for want of credentials


class Authenticator(Protocol):
    async def grant_for(self, token: str) -> Grant | None: ...

    def known_grants(self) -> list[Grant]: ...


@runtime_checkable
class Identifier(Protocol):
    """An authenticator that can also say what a credential is beyond its grant (scopes, expiry, why not)."""

    async def identify(self, token: str) -> Identity: ...


async def identify(authenticator: Authenticator, token: str) -> Identity:
    if isinstance(authenticator, Identifier):
        return await authenticator.identify(token)
    grant = await authenticator.grant_for(token)
    return Identity(grant, scopes=(TIER_SCOPES[grant.tier],)) if grant else Identity.refused("unknown bearer token")


@dataclass(slots=True)
class Chain:
    """Bearer tokens first (a hash lookup), then OAuth access tokens."""

    members: tuple[Authenticator, ...]

    async def grant_for(self, token: str) -> Grant | None:
        return (await self.identify(token)).grant

    async def identify(self, token: str) -> Identity:
        refusals: list[Identity] = []
        for member in self.members:
            found = await identify(member, token)
            if found.grant is not None or found.insufficient_scope:
                return found
            refusals.append(found)
        looks_like_jwt = token.count(".") == 2  # explain by the last member (OAuth) only for a JWT
        return refusals[-1] if looks_like_jwt else refusals[0]

    def known_grants(self) -> list[Grant]:
        return [grant for member in self.members for grant in member.known_grants()]


def bearer_token(scope: Scope) -> str | None:
    """The credential of `Authorization: Bearer …`; "" for a Bearer header without one; None without it."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, rest = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer":
                return rest.strip()
            return None
    return None


class Authenticate:
    def __init__(self, app: ASGIApp, authenticator: Authenticator | None) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.authenticator is None:
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        found = await identify(self.authenticator, token) if token else Identity.refused("the bearer token is empty")
        if found.grant is None:
            scope[REFUSAL_KEY] = found
            log.info("refused a credential from %s: %s", _client(scope), found.problem)
            await self.app(scope, receive, send)
            return
        access = AccessToken(
            token=found.fingerprint or found.grant.name,  # the SDK's field: never the credential itself
            client_id=found.grant.name,
            scopes=list(found.scopes),
            expires_at=found.expires_at,
            subject=found.subject,
            claims=found.claims,
        )
        user = AuthenticatedUser(access)
        scope[GRANT_KEY] = found.grant
        scope["user"] = user
        scope["auth"] = AuthCredentials(list(found.scopes))
        bound = auth_context_var.set(user)
        try:
            await self.app(scope, receive, send)
        finally:
            auth_context_var.reset(bound)


class RequireAuth:
    def __init__(
        self, app: ASGIApp, authenticator: Authenticator | None, settings: HttpSettings, public: frozenset[str]
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.settings = settings
        self.public = public
        self.metadata: str | None = None  # RFC 9728 metadata URL, in OAuth mode
        self.well_known: str | None = None  # the metadata documents' path prefix, public in OAuth mode
        if settings.oauth is not None:
            from pvemcp.http.oauth import WELL_KNOWN, metadata_url

            self.metadata, self.well_known = metadata_url(settings), WELL_KNOWN

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.authenticator is None or GRANT_KEY in scope or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        refusal = scope.get(REFUSAL_KEY)
        if isinstance(refusal, Identity) and refusal.insufficient_scope:
            challenge = self._challenge("insufficient_scope", refusal.problem)
            response = error_response(403, "forbidden: " + (refusal.problem or "insufficient scope"), headers=challenge)
        elif isinstance(refusal, Identity):
            challenge = self._challenge("invalid_token", refusal.problem)
            message = "unauthorized: " + (refusal.problem or "invalid token")
            response = error_response(401, message, code=UNAUTHORIZED, headers=challenge)
        else:
            message = "unauthorized: send Authorization: Bearer <token>"
            response = error_response(401, message, code=UNAUTHORIZED, headers=self._challenge(None, None))
        await response(scope, receive, send)

    def _public(self, path: str) -> bool:
        return path in self.public or (self.well_known is not None and path.startswith(self.well_known))

    def _challenge(self, error: str | None, description: str | None) -> dict[str, str]:
        """RFC 6750 §3: no error code when no credential was sent; RFC 9728 §5.1: where the metadata is."""
        parts = [f'Bearer realm="{REALM}"']
        if error is not None:
            parts.append(f'error="{error}"')
            if description:
                parts.append(f'error_description="{_quoted(description)}"')
        if error == "insufficient_scope":
            parts.append('scope="pve:read pve:execute pve:admin"')
        if self.metadata is not None:
            parts.append(f'resource_metadata="{self.metadata}"')
        return {"WWW-Authenticate": ", ".join(parts)}


def _quoted(text: str) -> str:
    """RFC 6750 error_description: printable ASCII without '"' and '\\'."""
    return "".join(c for c in text if 0x20 <= ord(c) < 0x7F and c not in '"\\')


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "an unknown address"


def protected_resource_routes(settings: HttpSettings) -> list[Route]:
    """RFC 9728 protected-resource metadata, at /.well-known/oauth-protected-resource and its /mcp variant."""
    if settings.oauth is None:
        return []
    from pvemcp.http.oauth import metadata_paths, protected_resource_document

    document = protected_resource_document(settings)

    async def metadata(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=_CORS)
        return JSONResponse(document, headers=_CORS)

    return [Route(path, endpoint=metadata, methods=["GET", "OPTIONS"]) for path in metadata_paths(settings)]


_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, OPTIONS"}


async def load_authenticator(settings: HttpSettings, server_tier: Tier) -> Authenticator | None:
    """The authenticator for the configured credentials; None when no authentication is configured."""
    members: list[Authenticator] = []
    for entry in settings.token_entries:
        if entry.tier > server_tier:
            log.warning(
                "token %r asks for tier %s; PVE_ACCESS_TIER=%s caps it", entry.name, entry.tier.label, server_tier.label
            )
    entries = list(settings.token_entries)
    if settings.token is not None:
        entries.append(single_token_entry(settings.token.get_secret_value().strip()))
    if entries or settings.tokens_file is not None:
        members.append(TokenAuthenticator(entries, server_tier))
    if settings.oauth is not None:
        from pvemcp.http.oauth import OAuthAuthenticator

        oauth = OAuthAuthenticator(settings.oauth, server_tier)
        await oauth.jwks.refresh(force=True)  # keys at hand for the first request; a failure is retried later
        members.append(oauth)
    if not members:
        return None
    return members[0] if len(members) == 1 else Chain(tuple(members))
