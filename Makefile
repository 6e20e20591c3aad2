# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: deps demo test bench bench-solve bench-edges bench-scale chaos clean

deps:
	bash scripts/install-deps.sh

demo:
	bash scripts/demo.sh

# pytest exits 5 when it collected no test: that must fail, not pass.
test: deps
	$(PYTHON) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: bench-edges bench-solve

bench-solve: deps
	$(PYTHON) bench/solve.py

bench-edges: deps
	$(PYTHON) bench/edges.py

bench-scale: deps
	$(PYTHON) bench/scale.py

chaos: deps
	$(PYTHON) bench/chaos.py --queue sqlite
	$(PYTHON) bench/chaos.py --queue redis

clean:
	rm -rf demo-jobs .pytest_cache build *.egg-info
