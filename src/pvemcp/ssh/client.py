"""The SSH channel on asyncssh: one kept-alive connection per node, commands as argv, output capped.

A connection is opened at first use under a per-node lock, reused by every later command to that node, and
replaced at the next call once it has closed. A command is sent once: a connection lost mid-command is
reported, never retried, because the command may already have acted.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import time
from collections.abc import Sequence
from pathlib import Path

import anyio
import asyncssh
from asyncssh.constants import OPEN_CONNECT_FAILED, OPEN_REQUEST_SESSION_FAILED

from pvemcp.pve.client import ProxmoxClient
from pvemcp.pve.errors import ErrorCode, PveMcpError, SshError, ToolCallError, ssh_error
from pvemcp.ssh.channel import TRUNCATED, CommandResult
from pvemcp.ssh.hostkeys import HostKeyCheck, Where, load_known_hosts, refusal
from pvemcp.ssh.routing import Hop, Router
from pvemcp.ssh.settings import SshSettings

log = logging.getLogger("pvemcp.ssh")

KEEPALIVE_SECONDS = 15.0
KEEPALIVE_MISSES = 3
CHUNK = 64 * 1024
# Sessions a batch opens at once on one connection: below OpenSSH's default MaxSessions (10).
PARALLEL_SESSIONS = 8
# sshd may refuse signal requests (OpenSSH does for root sessions), so a command cut off may go on running.
TIMED_OUT = "\n[pvemcp: no exit status after {seconds:g} s; the session was closed but the command may still run]\n"
SIGNALLED = "\n[pvemcp: the command was ended by signal {signal}]\n"


def remote_command(argv: Sequence[str]) -> str:
    """The one place a command line is made: each element quoted as exactly one argument."""
    if not argv:
        raise ToolCallError(ErrorCode.TOOL_INPUT_REJECTED, "The command is empty.")
    if any("\0" in arg for arg in argv):
        raise ToolCallError(ErrorCode.TOOL_INPUT_REJECTED, "A command argument contains a NUL character.")
    return shlex.join(argv)


class _Capture:
    """One output stream, kept up to the cap and drained to the end beyond it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False
        self.error: Exception | None = None  # the connection broke while reading

    async def drain(self, reader: asyncssh.SSHReader[bytes]) -> None:
        try:
            while chunk := await reader.read(CHUNK):
                room = self.limit - len(self.data)
                if len(chunk) > room:
                    self.truncated = True
                    chunk = chunk[: max(room, 0)]
                self.data += chunk
        except (asyncssh.Error, OSError) as exc:
            self.error = exc

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        return text + TRUNCATED.format(limit=self.limit) if self.truncated else text


class SshChannel:
    """`RemoteRunner` over real SSH connections, one per node (or per jump through the entry host)."""

    def __init__(self, settings: SshSettings, client: ProxmoxClient, *, router: Router | None = None) -> None:
        self._settings = settings
        self._router = router or Router(settings, client)
        self._connections: dict[str, asyncssh.SSHClientConnection] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self.connections_opened = 0

    async def run(self, node: str | None, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        command = remote_command(argv)
        hop = await self._router.route(node)
        connection = await self._connection(hop)
        return await self._execute(connection, hop, tuple(argv), command, timeout or self._settings.command_timeout)

    async def run_many(
        self, node: str | None, commands: Sequence[Sequence[str]], *, timeout: float | None = None
    ) -> list[CommandResult]:
        prepared = [(tuple(argv), remote_command(argv)) for argv in commands]  # all checked before any runs
        hop = await self._router.route(node)
        connection = await self._connection(hop)
        seconds = timeout or self._settings.command_timeout
        results: list[CommandResult | None] = [None] * len(prepared)
        failures: list[PveMcpError] = []
        sessions = anyio.Semaphore(PARALLEL_SESSIONS)

        async def one(index: int, argv: tuple[str, ...], command: str) -> None:
            async with sessions:
                try:
                    results[index] = await self._execute(connection, hop, argv, command, seconds)
                except PveMcpError as exc:
                    failures.append(exc)

        async with anyio.create_task_group() as group:
            for index, (argv, command) in enumerate(prepared):
                group.start_soon(one, index, argv, command)
        if failures:
            raise failures[0]
        return [result for result in results if result is not None]

    async def close(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        for connection in reversed(connections):  # jumps were opened after the entry connection they ride on
            connection.close()
        for connection in reversed(connections):
            with anyio.move_on_after(5):
                await connection.wait_closed()

    # -- connections ---------------------------------------------------------------------------------

    async def _connection(self, hop: Hop) -> asyncssh.SSHClientConnection:
        lock = self._locks.setdefault(hop.key, anyio.Lock())
        async with lock:
            current = self._connections.get(hop.key)
            if current is not None and not current.is_closed():
                return current
            if current is not None:
                log.info("ssh connection to %s (%s) was closed; reconnecting", hop.node, hop.address)
                self._forget(hop, current)
            tunnel = await self._connection(self._router.entry) if hop.route == "jump" else None
            connection = await self._open(hop, tunnel)
            self._connections[hop.key] = connection
            self.connections_opened += 1
            return connection

    def _forget(self, hop: Hop, connection: asyncssh.SSHClientConnection) -> None:
        if self._connections.get(hop.key) is connection:
            del self._connections[hop.key]
        connection.close()

    async def _open(self, hop: Hop, tunnel: asyncssh.SSHClientConnection | None) -> asyncssh.SSHClientConnection:
        settings = self._settings
        key = _client_key(settings.key_path)
        check = HostKeyCheck(
            load_known_hosts(settings.known_hosts), settings.known_hosts, trust_on_first_use=settings.trust_on_first_use
        )
        where = Where(
            hop.address, settings.port, settings.known_hosts, f"{settings.user}@{settings.host}" if tunnel else None
        )
        target = f"{hop.address}:{settings.port}" + (f" through {settings.host}" if tunnel else "")
        try:
            with anyio.fail_after(settings.connect_timeout):
                connection = await asyncssh.connect(
                    hop.address.strip("[]"),
                    settings.port,
                    tunnel=tunnel if tunnel is not None else (),
                    config=[],
                    username=settings.user,
                    client_factory=lambda: check,
                    known_hosts=check.trusted,
                    client_keys=[key],
                    agent_path=None,
                    preferred_auth="publickey",
                    password=None,
                    x509_trusted_certs=None,
                    keepalive_interval=KEEPALIVE_SECONDS,
                    keepalive_count_max=KEEPALIVE_MISSES,
                )
        except TimeoutError:
            raise ssh_error(
                ErrorCode.SSH_TIMEOUT,
                f"Could not connect to {target} within {settings.connect_timeout:g} s.",
                details={"node": hop.node},
            ) from None
        except asyncssh.HostKeyNotVerifiable as exc:
            raise refusal(check, where, exc.reason) from None
        except asyncssh.KeyExchangeFailed as exc:
            if check.recorded_keys:  # the host no longer offers the key type recorded for it
                raise refusal(check, where, exc.reason) from None
            raise _connect_failed(hop, target, exc.reason) from None
        except asyncssh.PermissionDenied:
            raise ssh_error(
                ErrorCode.SSH_AUTH_FAILED,
                f"{target} refused the key {settings.key_path} for user {settings.user!r}.",
                details={"node": hop.node},
            ) from None
        except asyncssh.ChannelOpenError as exc:
            reason = f"the entry host could not open the forwarded link: {exc.reason}"
            raise _connect_failed(hop, target, reason) from None
        except (asyncssh.Error, OSError) as exc:
            raise _connect_failed(hop, target, _reason(exc)) from None
        log.info("ssh connected to %s (%s, %s)", hop.node, target, hop.route)
        return connection

    # -- commands ------------------------------------------------------------------------------------

    async def _start(
        self, connection: asyncssh.SSHClientConnection, hop: Hop, argv: tuple[str, ...], command: str, seconds: float
    ) -> tuple[asyncssh.SSHClientConnection, asyncssh.SSHClientProcess[bytes]]:
        """Open a session and send the command; a connection found dead before the session opened is replaced once.

        Replacing it then is safe: the command is sent only on an open session, so nothing ran.
        """
        for attempt in (1, 2):
            try:
                with anyio.fail_after(seconds):
                    process = await connection.create_process(command, stdin=asyncssh.DEVNULL, encoding=None)
                return connection, process
            except TimeoutError:
                raise ssh_error(
                    ErrorCode.SSH_TIMEOUT,
                    f"{hop.node} did not start {argv[0]!r} within {seconds:g} s.",
                    details={"node": hop.node},
                ) from None
            except asyncssh.ChannelOpenError as exc:
                if exc.code == OPEN_REQUEST_SESSION_FAILED:  # the command was sent, the answer was no
                    if connection.is_closed():
                        self._forget(hop, connection)
                        raise _lost(hop, argv, exc) from None
                    raise ssh_error(
                        ErrorCode.SSH_CONNECTION_FAILED,
                        f"{hop.node} refused to run the command ({exc.reason}).",
                        details={"node": hop.node},
                    ) from None
                if attempt == 1 and exc.code == OPEN_CONNECT_FAILED and await _closing(connection):
                    connection = await self._connection(hop)
                    continue
                raise ssh_error(
                    ErrorCode.SSH_CONNECTION_FAILED,
                    f"{hop.node} refused a session for the command ({exc.reason}); nothing ran.",
                    details={"node": hop.node},
                ) from None
            except (asyncssh.Error, OSError) as exc:
                self._forget(hop, connection)
                raise _lost(hop, argv, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _execute(
        self, connection: asyncssh.SSHClientConnection, hop: Hop, argv: tuple[str, ...], command: str, seconds: float
    ) -> CommandResult:
        limit = self._settings.max_output_bytes
        stdout, stderr = _Capture(limit), _Capture(limit)
        started = time.perf_counter()
        connection, process = await self._start(connection, hop, argv, command, seconds)
        finished = False
        try:
            with anyio.move_on_after(seconds):
                async with anyio.create_task_group() as group:
                    group.start_soon(stdout.drain, process.stdout)
                    group.start_soon(stderr.drain, process.stderr)
                await process.wait_closed()
                finished = True
        finally:
            if not finished:
                _stop(process)
        status, signal = process.exit_status, process.exit_signal
        broken = stdout.error or stderr.error
        if broken is not None or (finished and status is None and signal is None and connection.is_closed()):
            self._forget(hop, connection)
            raise _lost(hop, argv, broken)
        err = stderr.text()
        if not finished:
            status, err = None, err + TIMED_OUT.format(seconds=seconds)
        elif signal is not None:
            status, err = None, err + SIGNALLED.format(signal=signal[0])
        return CommandResult(
            argv=argv,
            node=hop.node,
            route=hop.route,
            exit_status=status,
            stdout=stdout.text(),
            stderr=err,
            stdout_truncated=stdout.truncated,
            stderr_truncated=stderr.truncated,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def _client_key(path: Path) -> asyncssh.SSHKey:
    """Read at every connect, so a key put right after the first failure is picked up without a restart."""
    try:
        return asyncssh.read_private_key(str(path))
    except asyncssh.KeyEncryptionError:
        problem = "is encrypted (pvemcp needs a key without a passphrase)"
    except (asyncssh.KeyImportError, ValueError) as exc:
        problem = f"is not a private key it can read ({exc})"
    except FileNotFoundError:
        problem = "does not exist"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or exc})"
    raise ssh_error(ErrorCode.SSH_KEY_UNREADABLE, f"The SSH key {path} (PROXMOX_SSH_KEY_PATH) {problem}.")


async def _closing(connection: asyncssh.SSHClientConnection) -> bool:
    """Whether the connection is going away: asyncssh drops the transport a moment before it reports closed."""
    with anyio.move_on_after(1):
        await connection.wait_closed()
    return connection.is_closed()


def _stop(process: asyncssh.SSHClientProcess[bytes]) -> None:
    """Ask the node to end a command we stopped waiting for, then close its session."""
    with contextlib.suppress(asyncssh.Error, OSError):
        process.send_signal("KILL")
    process.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncssh.DisconnectError):
        return exc.reason or type(exc).__name__
    return str(exc) or type(exc).__name__


def _connect_failed(hop: Hop, target: str, reason: str) -> SshError:
    return ssh_error(
        ErrorCode.SSH_CONNECTION_FAILED,
        f"Could not connect to {hop.node} at {target}: {reason}.",
        details={"node": hop.node, "route": hop.route},
    )


def _lost(hop: Hop, argv: tuple[str, ...], exc: BaseException | None) -> SshError:
    reason = f": {_reason(exc)}" if exc is not None else ""
    return ssh_error(
        ErrorCode.SSH_CONNECTION_LOST,
        f"The SSH connection to {hop.node} was lost while {argv[0]!r} ran{reason}; it was not run again.",
        details={"node": hop.node, "route": hop.route},
    )
