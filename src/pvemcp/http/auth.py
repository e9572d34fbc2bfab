"""Who is calling over HTTP. (Skeleton: no authentication until filled in.)"""

from __future__ import annotations

from typing import Protocol

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pvemcp.http.settings import HttpSettings
from pvemcp.server.access import Grant

GRANT_KEY = "pvemcp.grant"  # the ASGI scope key Authenticate stores the caller's Grant under


class Authenticator(Protocol):
    async def grant_for(self, token: str) -> Grant | None: ...

    def known_grants(self) -> list[Grant]: ...


class Authenticate:
    def __init__(self, app: ASGIApp, authenticator: Authenticator | None) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class RequireAuth:
    def __init__(
        self, app: ASGIApp, authenticator: Authenticator | None, settings: HttpSettings, public: frozenset[str]
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.settings = settings
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def protected_resource_routes(settings: HttpSettings) -> list[Route]:
    return []


async def load_authenticator(settings: HttpSettings, server_tier: object) -> Authenticator | None:
    return None
