# Two commands for a fresh machine (Python 3.11, pip, make): `make demo` and `make test`.
# Both create .venv on first use and reinstall when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test check lint typecheck imports unit format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## the main job: the federation demo (hub + four alliance members, a roaming story)
demo: $(STAMP)
	$(BIN)/roam demo

## the whole test suite: quality gates, then every test
test: check unit

check: lint typecheck imports

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

## pytest on up to four worker processes (pytest-xdist), one test file per worker at a time
## (files keep their order: the browser tests build on one another). `.venv/bin/pytest` alone
## runs in one process.
unit: $(STAMP)
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache
