# ibpub: one command surface, the same locally and in CI.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test lint format bench clean

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## create .venv and install ibpub with its dev tools (quick when nothing changed)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python >= 3.11 is required)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: setup ## run the demo: simulated IB Gateway + publisher + live quote view (Ctrl-C stops)
	$(BIN)/ibpub demo --config deploy/examples/demo.toml

test: setup lint ## lint, type-check and run the whole test suite
	$(BIN)/python -m pytest

lint: setup ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check publisher subscribers tests bench
	$(BIN)/ruff format --check publisher subscribers tests bench
	$(BIN)/mypy

format: setup ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix publisher subscribers tests bench
	$(BIN)/ruff format publisher subscribers tests bench

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
