# coderops: `make demo` runs the demo, `make test` runs the tests. Both bootstrap everything they need.
SHELL := /bin/bash
VENV := .venv
UV := $(VENV)/bin/uv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

# coder-jupyter's JupyterLab sidebar (TypeScript): built from source when uv installs the package
# (hatch-jupyter-builder runs jlpm; Node.js comes from scripts/system-deps.sh), linted and unit-tested here.
LAB := packages/coder-jupyter/lab
LAB_SOURCES := $(LAB)/package.json $(LAB)/yarn.lock $(LAB)/tsconfig.json $(wildcard $(LAB)/src/*.ts) \
	$(wildcard $(LAB)/style/*.css) $(wildcard $(LAB)/style/icons/*.svg)
JLPM := cd $(LAB) && PATH="$(abspath $(VENV))/bin:$$PATH" jlpm

.PHONY: all install demo test lint bench clean system-deps node lab-deps lab-lint lab-test

all: test

$(UV):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv

# uv keeps itself: it is a dev dependency, so `uv sync` never removes it from .venv.
$(VENV)/.synced: $(UV) pyproject.toml uv.lock packages/*/pyproject.toml $(LAB_SOURCES) | node
	$(UV) sync --all-packages --quiet
	@touch $@

install: $(VENV)/.synced

node:
	@bash scripts/system-deps.sh node

system-deps:
	@bash scripts/system-deps.sh
	@bash scripts/deploy-tools.sh

demo: install
	$(PY) scripts/demo.py $(DEMO_ARGS)

# The lab's node_modules (the install's build already made them; this is quick then).
lab-deps: install
	@$(JLPM) install --immutable > $(abspath $(VENV))/jlpm-install.log 2>&1 \
		|| { cat $(VENV)/jlpm-install.log; exit 1; }

lab-lint: lab-deps
	$(JLPM) lint:check

lab-test: lab-deps
	$(JLPM) test --ci

test: install system-deps lab-test
	$(UV) run --no-sync pytest

lint: install lab-lint
	$(UV) run --no-sync ruff check packages tests scripts
	$(UV) run --no-sync ruff format --check packages tests scripts
	$(UV) run --no-sync mypy
	$(UV) run --no-sync mypy scripts/demo.py

bench: install
	$(UV) run --no-sync pytest tests/perf -s -p no:cacheprovider -o addopts="" --timeout=1800
	@bash scripts/perf-results.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(LAB)/node_modules $(LAB)/lib $(LAB)/labextension
