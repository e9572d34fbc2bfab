# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck fmt docs bench clean snapshots screenshots dist

$(STAMP): pyproject.toml pvesim/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./pvesim -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	PVE_ACCESS_TIER=$${PVE_ACCESS_TIER:-read-execute} $(BIN)/pvemcp run --sandbox --transport http --print-config

check: $(STAMP)
	$(BIN)/ruff check src pvesim/src tests pvesim/tests bench
	$(BIN)/ruff format --check src pvesim/src tests pvesim/tests bench
	$(BIN)/mypy

test: check
	$(BIN)/python -m pytest

fmt: $(STAMP)
	$(BIN)/ruff format src pvesim/src pvesim/tests tests bench
	$(BIN)/ruff check --fix src pvesim/src pvesim/tests tests bench

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info

docs: $(STAMP)
	$(BIN)/pvemcp tools --markdown > docs/TOOLS.md
	$(BIN)/pvemcp tools --errors > docs/errors.md
	$(BIN)/pvesim endpoints --markdown > pvesim/ENDPOINTS.md
	$(BIN)/python -m pvemcp.cli.docs README.md docs/*.md

snapshots: $(STAMP)
	PVEMCP_UPDATE_SNAPSHOTS=1 $(BIN)/python -m pytest -q tests/test_docs.py

# The README's pictures: the cluster app in headless Chromium (Debian's chromium package) and a metrics chart.
screenshots: $(STAMP)
	$(BIN)/python -m tests.browser.screenshots docs/screens

# The packages users install, pvemcp and the simulator it depends on (pvesim): sdists and wheels in dist/,
# twine's check, their contents (tests/test_packaging.py), then both wheels alone in a throwaway venv, whose
# `pvemcp` must answer exactly as this checkout's does and whose `pvesim` must run.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --quiet --outdir dist .
	$(BIN)/python -m build --quiet --outdir dist pvesim
	$(BIN)/twine check --strict dist/*
	PVEMCP_DIST_DIR=$(CURDIR)/dist $(BIN)/python -m pytest tests/test_packaging.py
	@set -eu; unset PYTHONPATH; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "installing dist/$$(cd dist && echo *.whl | sed 's/ / and dist\//') into a fresh venv"; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$(CURDIR)"/dist/*.whl; \
	cd "$$tmp"; \
	venv/bin/pvesim serve --help > /dev/null; \
	echo "fresh venv: $$(venv/bin/pvesim --version): serve --help works"; \
	for args in --version "tools --json" "tools --all --json"; do \
	  "$(CURDIR)/$(BIN)/pvemcp" $$args > expected; \
	  venv/bin/pvemcp $$args > got; \
	  cmp got expected; \
	  echo "fresh venv: pvemcp $$args: same output as this checkout"; \
	done; \
	echo "fresh venv: $$(venv/bin/pvemcp --version) with all $$(grep -c '^  {' got) tools of the catalog"
