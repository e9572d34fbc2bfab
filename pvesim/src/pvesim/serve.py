"""Serve a simulator over HTTPS on loopback, with a self-signed certificate like a fresh PVE node.

uvicorn is imported only here, so in-process users of the simulator never load it.
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import ipaddress
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from .simulator import Simulator

log = logging.getLogger("pvesim")

LOOPBACK_NAMES = ("localhost",)


class ListenError(OSError):
    """The address cannot be listened on (most often: another server holds the port)."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(error.errno, error.strerror or str(error))
        self.host, self.port, self.error = host, port, error

    @property
    def in_use(self) -> bool:
        return self.error.errno == errno.EADDRINUSE

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class SelfSigned:
    """A certificate and key in PEM, and the fingerprint PVE would show for it."""

    cert_pem: bytes
    key_pem: bytes
    fingerprint: str


def fingerprint_of(cert_pem: bytes) -> str:
    """SHA-256 of the DER certificate as uppercase colon-separated hex, as PVE shows it."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def generate_self_signed(hosts: list[str], common_name: str = "pve1.sim") -> SelfSigned:
    """An EC P-256 certificate valid for ``hosts`` (IP addresses or DNS names) for two years."""
    if not hosts:
        raise ValueError("at least one host name or address is needed")
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PVE Cluster Node"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PVE Cluster Node"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=730))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SelfSigned(cert_pem, key_pem, fingerprint_of(cert_pem))


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _write_private(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


async def serve(
    sim: Simulator,
    *,
    host: str = "127.0.0.1",
    port: int = 8006,
    cert: SelfSigned,
    ready: Callable[[int], None] | None = None,
    allow_remote: bool = False,
) -> None:
    """Serve ``sim.app`` over HTTPS until cancelled; ``port=0`` picks a free port given to ``ready``.

    The key and certificate are written to 0600 files only while uvicorn loads them.
    The node's advertised fingerprint becomes the served certificate's. ListenError when the address is taken.
    """
    if not allow_remote and not is_loopback(host):
        raise ValueError(f"refusing to serve the simulator on non-loopback address {host!r}")
    import uvicorn

    workdir = Path(tempfile.mkdtemp(prefix="pvemcp-sim-"))
    try:
        certfile = _write_private(workdir, "pve-ssl.pem", cert.cert_pem)
        keyfile = _write_private(workdir, "pve-ssl.key", cert.key_pem)
        config = uvicorn.Config(
            sim.app,
            host=host,
            port=port,
            ssl_certfile=str(certfile),
            ssl_keyfile=str(keyfile),
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            date_header=False,
        )
        config.load()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ListenError(host, port, exc) from None
    except BaseException:
        sock.close()
        raise
    actual_port = int(sock.getsockname()[1])
    if sim.state.local_node in sim.state.nodes:
        sim.state.nodes[sim.state.local_node].ssl_fingerprint = cert.fingerprint

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and ready is not None:
                ready(actual_port)

    server = _Server(config)
    log.info("simulator listening on https://%s:%d", host, actual_port)
    try:
        await server.serve([sock])
    finally:
        # Cancelled mid-loop, uvicorn skips its own shutdown: close listeners and connections here.
        for listener in getattr(server, "servers", ()):
            listener.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()
        for task in list(server.server_state.tasks):
            task.cancel()
        sock.close()


@asynccontextmanager
async def serving(
    sim: Simulator, *, host: str = "127.0.0.1", cert: SelfSigned | None = None, startup_timeout: float = 20.0
) -> AsyncIterator[tuple[str, SelfSigned]]:
    """Serve `sim` on a free loopback port for the duration of the block; yields (base URL, cert)."""
    import anyio

    cert = cert or generate_self_signed([host])
    listening = anyio.Event()
    ports: list[int] = []

    def ready(port: int) -> None:
        ports.append(port)
        listening.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: serve(sim, host=host, port=0, cert=cert, ready=ready))
        with anyio.fail_after(startup_timeout):
            await listening.wait()
        try:
            yield f"https://{host}:{ports[0]}", cert
        finally:
            tg.cancel_scope.cancel()
