# The two commands of the README: `make demo` and `make test`.
# Everything runs from a virtual environment of the checkout ($(VENV), made
# by the system python3), never from the system Python or whatever python3
# comes first on PATH.
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
PYTEST_ARGS ?=
export ASTRO_JOBS_VENV := $(VENV)
export ASTRO_JOBS_BIN := $(BIN)

.PHONY: deps test-deps demo test lint floors build bench chaos clean

deps:
	bash scripts/install-deps.sh

test-deps:
	bash scripts/install-deps.sh --test

demo: deps
	bash scripts/demo.sh

# The venv's programs first on PATH: the tests run astro-jobs, huey_consumer
# and honcho as a deployment would. Then ruff; a lint failure fails the run
# without hiding the tests' outcome. pytest exits 5 when it collected no
# test: that must fail, not pass.
test: test-deps
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; rc=1; fi; \
	$(BIN)/ruff check . || { [ $$rc -ne 0 ] || rc=1; }; exit $$rc

lint: test-deps
	$(BIN)/ruff check .

# The oldest dependency versions pyproject.toml allows, on the oldest Python.
floors:
	bash scripts/test-floors.sh

build: test-deps
	rm -rf dist && $(BIN)/python -m build && $(BIN)/twine check --strict dist/*

# One benchmark per file in bench/: `make bench-cli`, `make bench-solve`, ...
bench: bench-cli bench-submit bench-pickup bench-drain bench-solve

bench-%: test-deps
	PATH="$(BIN):$$PATH" $(BIN)/python bench/$*.py

chaos: test-deps
	PATH="$(BIN):$$PATH" $(BIN)/python bench/chaos.py --queue sqlite
	PATH="$(BIN):$$PATH" $(BIN)/python bench/chaos.py --queue redis

clean:
	rm -rf demo-jobs .pytest_cache build dist *.egg-info
