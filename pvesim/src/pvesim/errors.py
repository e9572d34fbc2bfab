"""The one exception handlers raise; the app renders it in Proxmox's error shape."""

from __future__ import annotations


class ApiError(Exception):
    """An HTTP error with PVE's message text (which usually ends in a newline) and per-parameter errors."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def fail(message: str, status: int = 500) -> ApiError:
    """What a Perl ``die "...\\n"`` inside a handler turns into."""
    return ApiError(status, message if message.endswith("\n") else message + "\n")


def param_error(errors: dict[str, str]) -> ApiError:
    """What PVE's ``raise_param_exc`` and schema validation turn into."""
    return ApiError(400, "Parameter verification failed.\n", errors)
