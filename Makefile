# Two commands matter: `make up` (the whole stack, foreground) and `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV313 := .venv313
# The first interpreter of a version that actually runs (pyenv's shims exist but may not).
find_python = $(shell for p in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$(1)*/bin/python$(1) $$(pyenv root 2>/dev/null)/versions/$(1)*/bin/python$(1) 2>/dev/null) $$(command -v python$(1)); do $$p -c 'import sys' 2>/dev/null && { echo $$p; break; }; done)
# mongoeco (the MongoDB wire server used when MONGO_URL is unset) needs Python 3.13.
PY313 ?= $(call find_python,3.13)
PY312 ?= $(call find_python,3.12)
TOX_PATH := $(PATH):$(dir $(PY312)):$(dir $(PY313))

.PHONY: up test lint type keys redrive chaos bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,lint,type]' tox
	touch $@

$(VENV313)/.installed:
	@if [ -z "$(PY313)" ]; then echo "Python 3.13 not found: install it (pyenv install 3.13) or set PY313=/path/to/python3.13, or set MONGO_URL to a real MongoDB"; exit 1; fi
	$(PY313) -m venv $(VENV313)
	$(VENV313)/bin/pip install -q 'mongoeco==4.11.0' pymongo
	touch $@

.venv313: $(VENV313)/.installed

up: $(VENV)/.installed $(if $(MONGO_URL),,$(VENV313)/.installed)
	$(VENV)/bin/python -m deploy.local

# Provisions this machine first (RabbitMQ and Redis answering; nginx, Chromium installed).
test: $(VENV)/.installed $(VENV313)/.installed
	@$(VENV)/bin/python -m deploy.local.hosts --tests
	PATH="$(TOX_PATH)" $(VENV)/bin/tox $(TOXARGS)

lint: $(VENV)/.installed
	PATH="$(TOX_PATH)" $(VENV)/bin/tox -e lint

type: $(VENV)/.installed
	PATH="$(TOX_PATH)" $(VENV)/bin/tox -e type

# Writes a dev Ed25519 key pair into .env for docker compose (starting it from .env.example).
keys: $(VENV)/.installed
	@$(VENV)/bin/python -m deploy.local.keys --write .env

# make redrive SERVICE=orders ARGS="list"
redrive: $(VENV)/.installed
	$(VENV)/bin/python -m shared.messaging.redrive --service $(SERVICE) $(ARGS)

# Fault injection: make chaos [URL=http://127.0.0.1:8080] [ARGS="--flows 1000"]. With URL it
# drives that running `make up`; without, a stack of its own.
chaos: $(VENV)/.installed $(if $(URL),,$(VENV313)/.installed)
	$(VENV)/bin/python -m tools.chaos $(if $(URL),--url $(URL)) $(ARGS)

# Every benchmark beside its peer, one table into bench/last.md: make bench [ARGS="--quick"]
# (ARGS="--readme" also writes it into README.md). Provisions the machine as `make up` does.
bench: $(VENV)/.installed $(if $(MONGO_URL),,$(VENV313)/.installed)
	@$(VENV)/bin/python -m deploy.local.hosts
	$(VENV)/bin/python -m bench.run $(ARGS)

clean:
	rm -rf .tox .run .mypy_cache .ruff_cache .pytest_cache
