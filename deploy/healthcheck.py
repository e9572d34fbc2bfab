"""The container's HEALTHCHECK: GET /health on the port pvemcp listens on, with Python alone (no curl in the image).

/health answers 200 while the process serves and never calls Proxmox, so a cluster that is down does not get
the container restarted. http.client rather than urllib: a proxy in the environment must not be used here.
Exit 0 when healthy, 1 otherwise (what HEALTHCHECK expects).
"""

from __future__ import annotations

import http.client
import os
import sys

WILDCARDS = frozenset({"", "0", "0.0.0.0", "::", "0:0:0:0:0:0:0:0"})  # noqa: S104 - recognised, never bound


def target(environ: dict[str, str]) -> tuple[str, int]:
    """Where to knock: this container's loopback for a wildcard bind, else the address pvemcp bound."""
    host = environ.get("MCP_HOST", "127.0.0.1").strip().strip("[]")
    port = int(environ.get("MCP_PORT", "3000") or "3000")
    return ("127.0.0.1" if host in WILDCARDS else host), port


def main() -> int:
    host, port = target(dict(os.environ))
    connection = http.client.HTTPConnection(host, port, timeout=4)
    try:
        connection.request("GET", "/health")
        status = connection.getresponse().status
    except OSError as problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"unhealthy: /health answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
