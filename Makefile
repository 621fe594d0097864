# TechBridge — the two commands are `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# One OpenMP thread per process: on 2 cores, more threads only contend with other work
# (measured in docs/benchmarks.md); build big indexes with one process per core instead.
export OMP_NUM_THREADS ?= 1

.PHONY: setup demo demo-data migrate test lint typecheck messages clean bench-match

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

migrate: setup
	$(BIN)/techbridge db upgrade

# Bulk loads skip per-listing index updates; one rebuild afterwards embeds in batches.
demo-data: migrate
	TECHBRIDGE_INDEX_SYNC=0 $(BIN)/techbridge import offers data/demo/offers.jsonl.gz
	TECHBRIDGE_INDEX_SYNC=0 $(BIN)/techbridge import demands data/demo/demands.jsonl.gz
	$(BIN)/techbridge index rebuild

demo: demo-data
	@echo "TechBridge demo: http://$(HOST):$(PORT)"
	$(BIN)/techbridge serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/mypy

# Re-extract translatable strings and merge them into the .po catalogs.
messages: setup
	$(BIN)/pybabel extract -F babel.cfg -k N_ -o var/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i var/messages.pot -d src/techbridge/web/locales --width 100

# Matching quality and speed on the dev sets in ../shared/data (see docs/benchmarks.md).
SHARED ?= ../shared
bench-match: setup
	$(BIN)/python bench/match.py --shared $(SHARED)

clean:
	rm -rf $(VENV) var
