"""What the SSH tools need from the SSH layer: run an argv on a node, several at once, and close.

Commands are argv lists from end to end. The layer joins them with `shlex.join` for the node's shell,
so every value reaches the remote program as exactly one argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Route = Literal["entry", "direct", "jump"]
TRUNCATED = "\n[… output truncated by pvemcp at {limit} bytes …]\n"


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    node: str
    route: Route
    exit_status: int | None  # None: the command was killed by a signal or cut off by the timeout
    stdout: str
    stderr: str
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_ms: float = 0.0


class RemoteRunner(Protocol):
    async def run(self, node: str | None, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        """Run argv on `node` (None: the entry host) and return its outputs and exit status."""
        ...

    async def run_many(
        self, node: str | None, commands: Sequence[Sequence[str]], *, timeout: float | None = None
    ) -> list[CommandResult]:
        """Run several commands concurrently over the node's one connection."""
        ...

    async def close(self) -> None: ...


class NoChannel:
    """The runner of a server without SSH: its tools are hidden, and a call that gets here anyway is told why."""

    async def run(self, node: str | None, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        raise _not_configured()

    async def run_many(
        self, node: str | None, commands: Sequence[Sequence[str]], *, timeout: float | None = None
    ) -> list[CommandResult]:
        raise _not_configured()

    async def close(self) -> None:
        return None


def _not_configured() -> Exception:
    from pvemcp.pve.errors import ErrorCode, ssh_error

    return ssh_error(ErrorCode.SSH_NOT_CONFIGURED, "This server has not set up SSH (PROXMOX_SSH_HOST and PVE_SSH).")
