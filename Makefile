# The front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pytest-xdist: whole modules (and named groups) to each worker, in the order collected, so the long poles
# that tests/conftest.py puts first start side by side (see LONG_POLES there)
DIST := --dist loadgroup --no-loadscope-reorder
STAMP := $(VENV)/.installed
PORT ?= 4566
CDK := node_modules/.bin/cdk
# jsii (under aws-cdk-lib) prints an end-of-life banner on Node 20, which works: quiet for synth and tests.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Synth talks to no AWS endpoint: no credential lookup on EC2 metadata, no version check, notices, telemetry.
CDK_ENV := AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=1

.DEFAULT_GOAL := help
.PHONY: help install test test-all demo serve bench lint typecheck synth clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install the product, the local AWS and the test tools

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

test: lint ## Lint (with the import contracts), then run the whole test suite (without the slow marker)
	$(PY) -m pytest -n 2 $(DIST) -q -m "not slow"

test-all: lint ## Lint, then run every test, the slow ones (heavy fault and load cases) too
	$(PY) -m pytest -n 2 $(DIST) -q

demo: install ## Run the product locally: the lockout-and-recovery story against the local AWS
	$(PY) -m local demo

serve: install ## Serve the local AWS on 127.0.0.1:PORT (default 4566) until interrupted
	$(PY) -m local serve --port $(PORT)

bench: install ## The performance report: figures against targets, bench/results.json, plots, monthly cost
	rm -f bench/results.json bench/plots/series.json
	$(PY) -m bench
	$(PY) -m bench.pipeline --scale-clusters 2
	$(PY) -m bench.load
	PYTHONPATH=functions:. $(PY) -m bench.import_time
	$(PY) -m bench.report

lint: install ## ruff check and format check, and the import contracts (the runtime's layers)
	$(VENV)/bin/ruff check functions local tests bench infra app.py
	$(VENV)/bin/ruff format --check functions local tests bench infra app.py
	PYTHONPATH=functions:. $(VENV)/bin/lint-imports --no-cache

synth: install $(CDK) ## Synthesize every stack into cdk.out with the pinned CDK CLI (no AWS account or network)
	$(CDK_ENV) $(CDK) synth --quiet --no-notices
	@$(PY) -m infra.summary cdk.out

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(CDK)

typecheck: install ## mypy on the runtime package
	$(VENV)/bin/mypy

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache cdk.out node_modules
