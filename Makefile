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

.PHONY: up reset test lint type keys lock redrive rebuild chaos bench clean

# Every dependency at the version its lock file pins, checked against its hashes (make lock);
# --no-deps because a lock file already lists every transitive dependency.
PIP_LOCKED := pip install -q --require-hashes --no-deps -r
# A first install fetches about 700 MB: on a terminal pip shows what it fetches as it goes
# (-v cancels the -q above: pip's verbosity is their difference); elsewhere (CI logs) it stays
# quiet, and a line before each step says what it installs.
PIP_PROGRESS := $(if $(shell [ -t 2 ] && echo tty),-v)

$(VENV)/.installed: setup.cfg pyproject.toml requirements/dev.lock
	@echo "[install] $(VENV): Python 3.11 with the services and their test, lint and type tools (about 520 MB; once)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/$(PIP_LOCKED) requirements/dev.lock $(PIP_PROGRESS)
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

$(VENV313)/.installed: requirements/mongoeco.lock
	@if [ -z "$(PY313)" ]; then echo "Python 3.13 not found: install it (pyenv install 3.13) or set PY313=/path/to/python3.13, or set MONGO_URL to a real MongoDB"; exit 1; fi
	@echo "[install] $(VENV313): Python 3.13 with mongoeco, the MongoDB stand-in (about 180 MB; once)"
	$(PY313) -m venv $(VENV313)
	$(VENV313)/bin/$(PIP_LOCKED) requirements/mongoeco.lock $(PIP_PROGRESS)
	touch $@

# Re-pin every dependency (after changing setup.cfg, requirements/*.in or
# deploy/requirements-deploy.txt): one lock for Python 3.11-3.13 on every platform, with hashes.
UV_COMPILE := $(VENV)/bin/uv pip compile --universal --generate-hashes -q
lock: $(VENV)/.installed
	$(UV_COMPILE) setup.cfg --python-version 3.11 -o requirements/app.lock
	$(UV_COMPILE) setup.cfg requirements/tools.in --extra test --extra lint --extra type \
		--python-version 3.11 -o requirements/dev.lock
	$(UV_COMPILE) deploy/requirements-deploy.txt --python-version 3.11 -o requirements/deploy.lock
	$(UV_COMPILE) requirements/mongoeco.in --python-version 3.13 -o requirements/mongoeco.lock
	$(UV_COMPILE) requirements/tools.in --python-version 3.11 -o requirements/tools.lock

.venv313: $(VENV313)/.installed

# The stores are kept in .run/data across restarts; `make reset` wipes them together with
# their queues and expiry jobs (stop `make up` first: it refuses while one runs).
up: $(VENV)/.installed $(if $(MONGO_URL),,$(VENV313)/.installed)
	$(VENV)/bin/python -m deploy.local

reset: $(VENV)/.installed
	$(VENV)/bin/python -m deploy.local.reset

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

# make redrive SERVICE=orders ARGS="list": on the running `make up`'s queues (its namespace is
# its stores' generation), else on the environment's.
redrive: $(VENV)/.installed
	$(VENV)/bin/python -m deploy.local.service_env $(SERVICE) -- \
		$(VENV)/bin/python -m shared.messaging.redrive --service $(SERVICE) $(ARGS)

# make replay SERVICE=orders [FROM=<ISO time|offset>] [TO=...] [EVENTS='ticket.*'] [DRY_RUN=1]:
# the event log's window through the service's handlers, as the running `make up`'s service
# (its MongoDB and namespace; with no stack running, the environment's).
replay: $(VENV)/.installed
	$(VENV)/bin/python -m deploy.local.service_env $(SERVICE) -- \
		$(VENV)/bin/python -m shared.messaging.replay --service $(SERVICE) \
		$(if $(FROM),--from '$(FROM)') $(if $(TO),--to '$(TO)') \
		$(if $(EVENTS),--events '$(EVENTS)') $(if $(DRY_RUN),--dry-run)

# make rebuild SERVICE=orders REPLICA=tickets (or SERVICE=payments REPLICA=orders): that
# replica dropped and rebuilt from its owner's snapshots and the event log while the service
# runs (docs/rebuild.md); as the running `make up`'s service, else the environment's MONGO_URL.
rebuild: $(VENV)/.installed
	$(VENV)/bin/python -m deploy.local.service_env $(SERVICE) -- \
		$(VENV)/bin/python -m services.$(SERVICE).rebuild $(REPLICA)

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
