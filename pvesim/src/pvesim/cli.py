"""`pvesim`: serve the simulated cluster over HTTPS, or list the endpoints it answers.

argparse rather than a CLI framework keeps the distribution's dependencies to anyio, cryptography
and uvicorn. ``serve_cluster`` is the one implementation of serving from a shell; other command
lines (``pvemcp sim serve``) call it with their own hint for what to do next.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shlex
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version

NEXT_STEP = "paste the export lines above into the shell your Proxmox client runs in"


def export_lines(settings: dict[str, str]) -> list[str]:
    """`export NAME=value` lines, each value shell-quoted, so pasting them into a shell sets them as printed."""
    return [f"export {name}={shlex.quote(value)}" for name, value in settings.items()]


def serve_cluster(
    *, host: str, port: int, nodes: int, guests: int, latency_ms: int, seed: int = 0, next_step: str = NEXT_STEP
) -> int:
    """Serve a fresh cluster on loopback until interrupted, after printing `export PROXMOX_*=…` lines that
    reach it; 2 (and nothing served) when ``host`` is not a loopback address, 1 when the port is taken."""
    import anyio

    from .clock import RealClock
    from .serve import ListenError, generate_self_signed, is_loopback, serve
    from .simulator import Simulator

    if not is_loopback(host):
        print(f"refusing to serve the simulator on {host}: it is for loopback only", file=sys.stderr, flush=True)
        return 2
    sim = Simulator(nodes=nodes, guests=guests, seed=seed, clock=RealClock())
    sim.latency_ms = latency_ms
    cert = generate_self_signed([host, "localhost"] if host != "localhost" else ["localhost", "127.0.0.1"])
    user_realm, token_name = sim.token_id.split("!", 1)
    user, realm = user_realm.rsplit("@", 1)

    def ready(actual_port: int) -> None:
        settings = {
            "PROXMOX_HOST": host,
            "PROXMOX_PORT": str(actual_port),
            "PROXMOX_USER": user,
            "PROXMOX_REALM": realm,
            "PROXMOX_TOKEN_NAME": token_name,
            "PROXMOX_TOKEN_SECRET": sim.token_secret,
            "PROXMOX_TLS_FINGERPRINT": cert.fingerprint,
        }
        print("\n".join(export_lines(settings)), flush=True)
        print(
            f"simulated cluster ({nodes} nodes, {guests} guests) listening on https://{host}:{actual_port};"
            f" {next_step}. Ctrl-C stops it.",
            file=sys.stderr,
            flush=True,
        )

    try:
        with contextlib.suppress(KeyboardInterrupt):
            anyio.run(lambda: serve(sim, host=host, port=port, cert=cert, ready=ready))
    except ListenError as exc:
        reason = "the address is already in use (is a simulator already running?)" if exc.in_use else exc.strerror
        print(
            f"cannot serve the simulator on {exc.address}: {reason}; choose another port with --port"
            f" (e.g. --port {port + 1 if 0 < port < 65535 else 8007}, or --port 0 for a free one)",
            file=sys.stderr,
            flush=True,
        )
        return 1
    return 0


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in the range {low} to {high}")
        return value

    parse.__name__ = "number"
    return parse


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pvesim", description="A stateful simulated Proxmox VE cluster.")
    top.add_argument("--version", action="version", version=f"pvesim {version('pvesim')}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the cluster over HTTPS on loopback",
        description="Serve a fresh simulated cluster over HTTPS with a new self-signed certificate, until Ctrl-C. "
        "It first prints `export PROXMOX_...=...` lines (host, port, token, certificate fingerprint): paste them "
        "into the shell your Proxmox client runs in.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    serve.add_argument("--port", default=8006, type=_bounded(0, 65535), help="0 picks a free port")
    serve.add_argument("--nodes", default=3, type=_bounded(1, 500), help="cluster members")
    serve.add_argument("--guests", default=16, type=_bounded(0, 100_000), help="VMs and containers")
    serve.add_argument("--latency-ms", default=0, type=_bounded(0, 60_000), help="delay before every answer")
    serve.add_argument("--seed", default=0, type=_bounded(0, 2**31), help="the same seed builds the same cluster")
    endpoints = commands.add_parser(
        "endpoints",
        help="list the API endpoints the simulator answers",
        description="List every method and path of /api2/json the simulator answers, with what each does.",
    )
    endpoints.add_argument("--markdown", action="store_true", help="the Markdown document (ENDPOINTS.md)")
    return top


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "endpoints":
        from .endpoints import render_markdown, render_text

        sys.stdout.write(render_markdown() if args.markdown else render_text())
        return
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    code = serve_cluster(
        host=args.host,
        port=args.port,
        nodes=args.nodes,
        guests=args.guests,
        latency_ms=args.latency_ms,
        seed=args.seed,
    )
    if code:
        raise SystemExit(code)
