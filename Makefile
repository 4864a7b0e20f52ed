# Developer entry points. `make demo` runs the example project, `make test`
# runs every nox session (tests on each Python x Django pair, PostgreSQL,
# lint, typecheck, package build); `make test NOX_ARGS="-s lint"` runs one.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOX_ARGS ?=
UV ?= $(shell command -v uv 2>/dev/null)

# With pyenv, make the newest installed 3.11/3.12/3.13 visible as python3.11,
# python3.12, python3.13 (e.g. PYENV_VERSION=3.11.7:3.12.1:3.13.0), unless
# PYENV_VERSION is set already. Machines without pyenv are left alone.
ifeq ($(origin PYENV_VERSION),undefined)
PYENV_PICKED := $(shell command -v pyenv >/dev/null 2>&1 && \
	for minor in 3.11 3.12 3.13; do \
		pyenv versions --bare 2>/dev/null | grep -E "^$$minor\.[0-9]+$$" | sort -t. -k3,3n | tail -n1; \
	done | paste -sd: -)
ifneq ($(PYENV_PICKED),)
export PYENV_VERSION := $(PYENV_PICKED)
endif
endif

.PHONY: venv test demo lint typecheck clean

venv: $(STAMP)

# Rebuilt when the venv is missing or pyproject.toml changed since the last install.
# With uv (seconds) when it is on PATH, pointed at the indexes pip is configured
# with (.ci/pip_indexes.py); otherwise with venv and pip (about a minute).
$(STAMP): pyproject.toml
ifneq ($(UV),)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(PYTHON) .ci/pip_indexes.py $(UV) pip install --python $(BIN)/python -e ".[dev]"
else
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip
	$(BIN)/python -m pip install -e ".[dev]"
endif
	touch $@

# The whole run first checks that every system tool it needs is installed, and
# stops naming the missing ones (`nox -s preflight`); one session checks its own.
test: venv
	@echo "PYENV_VERSION=$${PYENV_VERSION:-<unset>} CI=$${CI:-<unset>}"
	$(if $(NOX_ARGS),,$(BIN)/nox --report /dev/null -s preflight)
	$(BIN)/nox $(NOX_ARGS)

# The demo's own virtualenv: the package and the example project's extra, no
# development tools. uv when installed (fast), else venv and pip.
DEMO_VENV := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed

$(DEMO_STAMP): pyproject.toml
	if uv --version >/dev/null 2>&1; then \
		uv venv -q --seed --allow-existing -p "$$($(PYTHON) -c 'import sys; print(sys.executable)')" $(DEMO_VENV) && \
		uv pip install -q -p $(DEMO_VENV)/bin/python -e ".[example]"; \
	else \
		{ test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV); } && \
		$(DEMO_VENV)/bin/python -m pip install -e ".[example]"; \
	fi
	touch $@

demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/python example/manage.py demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy support support_client tests example/telegram_bot.py

clean:
	rm -rf .nox build dist .pytest_cache .mypy_cache .ruff_cache *.egg-info
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} +
