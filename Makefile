# The README's commands. `make run` sets up and runs the demo job; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test test-fast lint bench clean browser

$(BIN)/walkforward: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/walkforward

run: setup
	$(BIN)/walkforward demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

test: setup lint browser
	$(BIN)/pytest -n 2 -q

# The inner loop: everything but the slow, process and browser tests (CI runs them all with `make test`).
test-fast: setup
	$(BIN)/pytest -n 2 -q -m "not slow and not e2e and not ui"

bench: setup
	$(BIN)/python bench/bench_loader.py
	$(BIN)/python bench/bench_training.py
	$(BIN)/python bench/bench_search.py

clean:
	rm -rf $(VENV) data bench/out
