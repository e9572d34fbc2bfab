"""`pvesim`: serve the simulated cluster."""

from __future__ import annotations


def main() -> None:
    raise SystemExit("pvesim: the command line is not built yet")
