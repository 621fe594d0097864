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

.PHONY: setup assets browser demo demo-data migrate test lint typecheck messages clean bench-match \
	bench-feedback bench-deals

setup: $(STAMP) assets

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# htmx, ECharts and Swagger UI come from the npm registry at pinned versions and are served
# by the app itself (no CDN).
VENDOR := src/techbridge/web/static/vendor
assets: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "needs npm (Node.js) for the browser assets"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/echarts/dist/echarts.min.js \
		node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
		$(VENDOR)/
	@touch $@

# The browser tests drive Debian's chromium (Playwright cannot download browsers here).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
		echo "installing chromium and CJK fonts from Debian for the browser tests"; \
		$$(command -v sudo) apt-get install -y -q chromium fonts-noto-cjk >/dev/null || \
		{ $$(command -v sudo) apt-get update -q >/dev/null && \
		  $$(command -v sudo) apt-get install -y -q chromium fonts-noto-cjk >/dev/null; }; }

migrate: setup
	$(BIN)/techbridge db upgrade

# Bulk loads skip per-listing index updates; one rebuild afterwards embeds in batches.
demo-data: migrate
	$(BIN)/techbridge users add admin@techbridge.example --name Admin --role administrator --verified --if-missing
	TECHBRIDGE_INDEX_SYNC=0 $(BIN)/techbridge import offers data/demo/offers.jsonl.gz
	TECHBRIDGE_INDEX_SYNC=0 $(BIN)/techbridge import demands data/demo/demands.jsonl.gz
	$(BIN)/techbridge index rebuild
	# A simulated history of dockings over the demo listings (模拟数据; adds nothing twice).
	$(BIN)/techbridge deals demo-history --seed 7 --dockings 300

demo: demo-data
	@echo "TechBridge demo: http://$(HOST):$(PORT)"
	$(BIN)/techbridge serve --host $(HOST) --port $(PORT)

test: setup browser
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

# The learned reranker against the unlearned pipeline, from simulated clicks on the dev sets
# (see docs/benchmarks.md, "a ranking that learns").
bench-feedback: setup
	$(BIN)/python bench/feedback.py --shared $(SHARED)

# Funnel KPIs at 100,000 dockings / 1,000,000 events on SQLite and PostgreSQL, and 50
# concurrent moves on PostgreSQL (docs/benchmarks.md); BENCH_ARGS=--small for a quick run.
bench-deals: setup
	$(BIN)/python bench/deals.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var node_modules $(VENDOR)
