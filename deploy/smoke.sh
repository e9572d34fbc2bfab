#!/usr/bin/env bash
# Build deploy/Containerfile with podman and check the image does what docs/deploy.md says: /health and MCP in
# both protocol eras from a read-only root filesystem as UID 10001, the MCP token read from a mounted file,
# the audit log on its volume with an intact chain, and a passing HEALTHCHECK. Everything it builds, pulls or
# starts is removed again. The checks are tests/deploy/test_image.py; `make test` runs them too.
#
#   deploy/smoke.sh                                  # base image: python:3.11-slim-bookworm from the registry,
#                                                    # else Debian bookworm built here with debootstrap (root)
#   PVEMCP_IMAGE_BASE=registry.example.org/python:3.11-slim deploy/smoke.sh
#
# Exit 0: passed; 1: failed; 77: could not run here (the reason is printed: no podman, no base image to be
# had, containers cannot start).
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
if [ ! -x "$python" ]; then
  echo "smoke.sh: the development environment is missing: run 'make test' once, or set PYTHON" >&2
  exit 77
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$python" -m pytest -rs tests/deploy/test_image.py 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" = 0 ] && tail -n 1 "$log" | grep -q skipped; then
  echo "smoke.sh: not every check could run here, for the reason above" >&2
  exit 77
fi
exit "$status"
