# ibpub: one command surface, the same locally and in CI.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The compiled hot path (docs/performance.md): mypyc compiles these modules in place when a C
# compiler is present (publisher/_build.py; it never fails the setup: without one the .py run).
# The list is publisher/compiled.py's MODULES (tests/compiled/test_in_use.py checks they agree).
COMPILED_SOURCES := $(addprefix publisher/,gateway/framing.py gateway/fastsize.py \
	gateway/fastpath_kinds.py gateway/fastpath.py core/normalise.py core/instruments.py \
	core/kindpath.py core/tickpath.py bus/publish.py observability/histogram.py)
COMPILED_STAMP := $(VENV)/.compiled

.DEFAULT_GOAL := help
.PHONY: help setup run test test-unit lint format bench system-deps clean

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) $(COMPILED_STAMP) ## create .venv, install ibpub with its dev tools, compile the hot path (quick when nothing changed)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python >= 3.11 is required)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(COMPILED_STAMP): $(STAMP) $(COMPILED_SOURCES) publisher/compiled.py publisher/_build.py
	@$(BIN)/python -m publisher._build
	@touch $@

run: setup ## run the demo: simulated IB Gateway + publisher + live quote view (Ctrl-C stops)
	$(BIN)/ibpub demo --config deploy/examples/demo.toml

test: setup lint system-deps ## lint, type-check and run the whole test suite
	$(BIN)/python -m pytest

test-unit: setup ## only the fast tests of pure code (no subprocess, no simulator): under a minute
	$(BIN)/python -m pytest -m unit

# Real servers and checkers the tests use, from Debian's packages: prometheus + promtool
# (observability tests), systemd-analyze (deploy unit checks) and node + npm (the Node.js
# subscriber example) and nats-server (the JetStream bridge tests). As root (CI) this installs
# whichever is missing; otherwise it says what to install.
SYSTEM_TOOLS := prometheus:prometheus promtool:prometheus systemd-analyze:systemd node:nodejs npm:npm nats-server:nats-server
system-deps: ## make sure prometheus, promtool, systemd-analyze, node and nats-server are installed (apt, as root)
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
		command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages for the tests: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "error: the tests need these Debian packages: sudo apt-get install $$missing"; exit 1; \
	fi

bench: setup ## run the benchmarks (a few minutes) and print the results table
	$(BIN)/python -m bench

lint: setup ## ruff (lint + format check), mypy --strict and the import layers (lint-imports)
	$(BIN)/ruff check publisher subscribers tests bench
	$(BIN)/ruff format --check publisher subscribers tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: setup ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix publisher subscribers tests bench
	$(BIN)/ruff format publisher subscribers tests bench

clean: ## remove the virtual environment, caches and the compiled hot path
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	rm -f publisher/_compiled__mypyc.*.so $(patsubst %.py,%.*.so,$(COMPILED_SOURCES))

# Trust (docs/reliability.md): fuzzing, seeded chaos and a soak, each settable.
.PHONY: fuzz chaos soak
FUZZ_SECONDS ?= 30
CHAOS_SEEDS ?= 50
SOAK_MINUTES ?= 30
fuzz: setup ## fuzz each network-facing parser with atheris for FUZZ_SECONDS (30; 3.5 min in all)
	nice -n 10 $(BIN)/python -m tests.fuzz.run --seconds $(FUZZ_SECONDS)

chaos: setup ## seeded chaos, CHAOS_SEEDS seeds (50) against a real publisher; prints replays
	nice -n 10 $(BIN)/python -m tests.chaos.run --seeds $(CHAOS_SEEDS)

soak: setup ## SOAK_MINUTES (30) at 5k ticks/s, a fault a minute; fails past resource bounds
	nice -n 10 $(BIN)/python -m tests.chaos.soak --minutes $(SOAK_MINUTES)
