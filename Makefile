# The README's two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := contracts policies connectors hub

.PHONY: demo test test-fast lint install clean

$(BIN)/hub: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/hub

demo: install
	$(BIN)/hub demo

lint: install
	$(BIN)/ruff check $(PACKAGES) tests benchmarks
	$(BIN)/ruff format --check $(PACKAGES) tests benchmarks
	$(BIN)/mypy

# pytest exits 5 when it collects no test; that is not a failure of the suite. The tests run
# in one process per core (pytest-xdist), each test file whole in one of them, so a module's
# fixtures are built once; every test owns its folders, ports and PostgreSQL databases.
test: lint
	$(BIN)/python -m pytest -n auto --dist loadfile $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The inner loop: no lint, no slow or PostgreSQL tests (CI runs them all through `make test`).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not postgres" -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) hub-data .pytest_cache .mypy_cache .ruff_cache
