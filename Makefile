# Everyday targets. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

JS := widgets_js
JS_SOURCES := $(wildcard $(JS)/src/*.js) $(JS)/build.mjs $(JS)/package-lock.json

.PHONY: install js browser wrk run test bench bench-collect bench-import bench-quality bench-serve bench-dashboard lint format clean

$(INSTALLED): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The snippet: esbuild bundles widgets_js/src into widgets_js/dist (served at /p.js), with a size check.
$(JS)/node_modules/.installed: $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(JS)/dist/p.js: $(JS)/node_modules/.installed $(JS_SOURCES)
	cd $(JS) && npm run --silent build

# The dashboard's charts (Chart.js from npm), outside the snippet's size budget.
CHARTS := personalize/analytics/static/analytics/charts.js
$(CHARTS): $(JS)/node_modules/.installed $(JS)/build-dashboard.mjs $(wildcard $(JS)/dashboard/*.js)
	cd $(JS) && node build-dashboard.mjs

js: $(JS)/dist/p.js $(CHARTS)

install: $(INSTALLED) js

# A Debian package the tests or benchmarks need, installed with apt when run as root, else named.
define need_package
	@command -v $(1) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && export DEBIAN_FRONTEND=noninteractive && \
	  { apt-get install -y -q $(1) || { apt-get update -q && apt-get install -y -q $(1); }; } >/dev/null; } || \
	  { echo "This needs $(1): sudo apt-get install $(1)"; exit 1; }
endef

## browser: Debian's Chromium for the end-to-end tests (Playwright drives it; no browser download).
browser:
	$(call need_package,chromium)

## run: the product on embedded defaults (SQLite, filesystem Celery broker) with the demo shop.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	@echo
	@echo "  Personalize is starting at http://127.0.0.1:8000"
	@echo "  demo store  http://127.0.0.1:8000/demo/"
	@echo "  dashboard   http://127.0.0.1:8000/dashboard/   login: demo@example.com / demo-password-123"
	@echo "  API docs    http://127.0.0.1:8000/api/docs/"
	@echo
	$(BIN)/celery -A personalize worker --beat --concurrency=2 --loglevel=warning & \
	worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/uvicorn personalize.asgi:application --host 127.0.0.1 --port 8000 --lifespan off

## test: the whole suite; on PostgreSQL/Redis/a real broker when DATABASE_URL/REDIS_URL/CELERY_BROKER_URL are set.
test: install browser
	cd $(JS) && npm test --silent
	$(BIN)/pytest

## bench: speed and quality benchmarks against PostgreSQL; results in bench/results/*.json.
bench: bench-collect bench-import bench-quality bench-serve bench-dashboard

# wrk drives the HTTP benchmarks.
wrk:
	$(call need_package,wrk)

bench-collect: install wrk
	$(BIN)/python tests/bench/bench_collect.py

bench-import: install
	$(BIN)/python tests/bench/bench_import.py

bench-quality: install
	$(BIN)/python tests/bench/bench_quality.py

bench-serve: install wrk
	$(BIN)/python tests/bench/bench_serve.py

# The ROI overview's server time on a 1M-event shop, and the rollup build times.
bench-dashboard: install
	$(BIN)/python tests/bench/bench_dashboard.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/ .pytest_cache .ruff_cache
