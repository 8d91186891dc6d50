# dermagraph: `make demo` (install, build missing artifacts, serve) and `make test` (install, run the tests).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Nothing here may wait on a network that is not there.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false
export HF_HUB_DISABLE_PROGRESS_BARS := 1
# Spinning OpenMP threads starve everything else when cores are shared (see ui/cli.py).
export OMP_WAIT_POLICY := PASSIVE

.PHONY: install test test-fast demo serve serve-cluster build bench eval lint clean test-llamafactory

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel setuptools
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not browser"

build: install
	$(BIN)/dermagraph build

demo: build
	$(BIN)/dermagraph serve

serve: install
	$(BIN)/dermagraph serve

# Chroma server + Postgres (a throw-away cluster under var/cluster, Debian's postgresql) + 2 app replicas,
# all on 127.0.0.1; see docs/deploy.md.
serve-cluster: build
	$(BIN)/dermagraph cluster --replicas 2

bench: install
	$(BIN)/dermagraph bench --out reports/bench

eval: install
	$(BIN)/dermagraph eval --suite all --out reports/eval

lint: install
	$(BIN)/lint-imports

# LLaMA-Factory smoke (not part of `make test`): builds .venv-llamafactory, runs one real
# llamafactory-cli training step on exported HAM10000 data with a tiny local Qwen2-VL, then loads
# the adapter it wrote with our qwen2vl backend. See docs/qwen2vl.md.
test-llamafactory: install
	bash scripts/llamafactory_venv.sh
	$(BIN)/python -m pytest -m llamafactory tests/training/test_llamafactory.py

clean:
	rm -rf var reports .pytest_cache
