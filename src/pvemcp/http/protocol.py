"""uvicorn's HTTP/1.1 protocol with the limits it lacks. (Skeleton until filled in.)"""

from __future__ import annotations

from pvemcp.http.settings import HttpSettings


def guarded_protocol(settings: HttpSettings) -> str:
    return "h11"
