# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck fmt docs bench clean snapshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	PVE_ACCESS_TIER=$${PVE_ACCESS_TIER:-read-execute} $(BIN)/pvemcp run --sandbox --transport http --print-config

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: check
	$(BIN)/python -m pytest

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info

docs: $(STAMP)
	$(BIN)/pvemcp tools --markdown > docs/TOOLS.md
	$(BIN)/pvemcp tools --errors > docs/errors.md

snapshots: $(STAMP)
	PVEMCP_UPDATE_SNAPSHOTS=1 $(BIN)/python -m pytest -q tests/test_docs.py
