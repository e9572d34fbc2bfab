"""`python -m pvesim`: the same command line as `pvesim`."""

from __future__ import annotations

from .cli import main

main()
