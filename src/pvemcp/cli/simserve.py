"""`pvemcp sim serve`: the simulator over HTTPS, printing what `pvemcp run` needs to reach it."""

from __future__ import annotations

import contextlib
import ipaddress
import sys

import click


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_simulator(*, host: str, port: int, nodes: int, guests: int, latency_ms: int) -> None:
    import anyio

    from pvemcp.logs import configure_logging
    from pvesim import RealClock, Simulator
    from pvesim.serve import generate_self_signed, serve

    if not _is_loopback(host):
        click.echo(f"refusing to serve the simulator on {host}: it is for loopback only", err=True)
        sys.exit(2)
    configure_logging(20)
    sim = Simulator(nodes=nodes, guests=guests, clock=RealClock())
    sim.latency_ms = latency_ms
    cert = generate_self_signed([host, "localhost"] if host != "localhost" else ["localhost", "127.0.0.1"])
    user_realm, token_name = sim.token_id.split("!", 1)
    user, realm = user_realm.rsplit("@", 1)

    def ready(actual_port: int) -> None:
        lines = [
            f"PROXMOX_HOST={host}",
            f"PROXMOX_PORT={actual_port}",
            f"PROXMOX_USER={user}",
            f"PROXMOX_REALM={realm}",
            f"PROXMOX_TOKEN_NAME={token_name}",
            f"PROXMOX_TOKEN_SECRET={sim.token_secret}",
            f"PROXMOX_TLS_FINGERPRINT={cert.fingerprint}",
        ]
        click.echo("\n".join(lines))
        sys.stdout.flush()
        click.echo(
            f"simulated cluster ({nodes} nodes, {guests} guests) listening on https://{host}:{actual_port};"
            " export the lines above and run `pvemcp run`. Ctrl-C stops it.",
            err=True,
        )

    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(lambda: serve(sim, host=host, port=port, cert=cert, ready=ready))
