# coderops: `make demo` runs the demo, `make test` runs the tests. Both bootstrap everything they need.
SHELL := /bin/bash
VENV := .venv
UV := $(VENV)/bin/uv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: all install demo test lint bench clean system-deps

all: test

$(UV):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv

# uv keeps itself: it is a dev dependency, so `uv sync` never removes it from .venv.
$(VENV)/.synced: $(UV) pyproject.toml uv.lock packages/*/pyproject.toml
	$(UV) sync --all-packages --quiet
	@touch $@

install: $(VENV)/.synced

system-deps:
	@bash scripts/system-deps.sh
	@bash scripts/deploy-tools.sh

demo: install
	$(PY) scripts/demo.py $(DEMO_ARGS)

test: install system-deps
	$(UV) run --no-sync pytest

lint: install
	$(UV) run --no-sync ruff check packages tests scripts
	$(UV) run --no-sync ruff format --check packages tests scripts
	$(UV) run --no-sync mypy
	$(UV) run --no-sync mypy scripts/demo.py

bench: install
	$(UV) run --no-sync pytest tests/perf -s -p no:cacheprovider -o addopts="" --timeout=1800
	@bash scripts/perf-results.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
