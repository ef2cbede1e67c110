# Everything runs from a project-local virtualenv so a fresh machine needs only Python and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format schema bench bench-sign-in bench-realtime migrate clean screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m serve

migrate: $(STAMP)
	$(BIN)/python -m serve --migrate-only

test: $(STAMP)
	$(BIN)/python -m pytest -q -rs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/python -m schema.export > schema.graphql

# The read path beside PostGraphile v5 (../shared/anchors/postgraphile), in one run, on one
# database; about 5 minutes. BENCH_SECONDS, BENCH_ROUNDS, BENCH_ANCHOR=0 … (bench/read_path.py).
bench: $(STAMP)
	$(BIN)/python -m bench.read_path

bench-sign-in: $(STAMP)
	$(BIN)/python bench/sign_in_timing.py

# 1,000 WebSocket subscribers over two server processes on one database: delivery latency,
# a burst, memory per idle connection (bench/subscriptions.py; BENCH_SUBSCRIBERS, …).
bench-realtime: $(STAMP)
	$(BIN)/python -m bench.subscriptions

# Every portal page at phone and desktop width, into docs/screenshots/ (needs chromium).
screenshots: $(STAMP)
	$(BIN)/python -m portal.screenshots

clean:
	rm -rf $(VENV) .pytest_cache
