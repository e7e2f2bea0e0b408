# Everyday targets. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test bench bench-collect bench-import bench-quality bench-serve lint format clean

$(INSTALLED): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(INSTALLED)

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
test: install
	$(BIN)/pytest

## bench: speed and quality benchmarks against PostgreSQL; results in bench/results/*.json.
bench: bench-collect bench-import bench-quality bench-serve

bench-collect: install
	$(BIN)/python tests/bench/bench_collect.py

bench-import: install
	$(BIN)/python tests/bench/bench_import.py

bench-quality: install
	$(BIN)/python tests/bench/bench_quality.py

bench-serve: install
	$(BIN)/python tests/bench/bench_serve.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/ .pytest_cache .ruff_cache
