"""`pvemcp sim serve`: pvesim's `serve`, with pvemcp's redacting logs and a hint to run `pvemcp run`."""

from __future__ import annotations

import sys


def serve_simulator(*, host: str, port: int, nodes: int, guests: int, latency_ms: int) -> None:
    from pvemcp.logs import configure_logging
    from pvesim.cli import serve_cluster

    configure_logging(20)
    code = serve_cluster(
        host=host,
        port=port,
        nodes=nodes,
        guests=guests,
        latency_ms=latency_ms,
        next_step="paste the export lines above into another shell, then run `pvemcp doctor` or `pvemcp run` there",
    )
    if code:
        sys.exit(code)
