# The front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 4566

.DEFAULT_GOAL := help
.PHONY: help install test demo serve bench lint typecheck clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install the product, the local AWS and the test tools

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

test: lint ## Lint (with the import contracts), then run the whole test suite
	$(PY) -m pytest -n 2 -q

demo: install ## Run the product locally: the lockout-and-recovery story against the local AWS
	$(PY) -m local demo

serve: install ## Serve the local AWS on 127.0.0.1:PORT (default 4566) until interrupted
	$(PY) -m local serve --port $(PORT)

bench: install ## Print performance figures (planning, reading, applying)
	$(PY) -m bench

lint: install ## ruff check and format check, and the import contracts (the runtime's layers)
	$(VENV)/bin/ruff check functions local tests bench
	$(VENV)/bin/ruff format --check functions local tests bench
	PYTHONPATH=functions:. $(VENV)/bin/lint-imports --no-cache

typecheck: install ## mypy on the runtime package
	$(VENV)/bin/mypy

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
