# Two commands matter: `make demo` and `make test`. Both bootstrap what they need and are idempotent.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
PYTEST := $(PY) -m pytest -p no:pytest-brownie -p no:cacheprovider

.PHONY: setup tools sysdeps demo test lint test-py test-contracts test-forge bench fuzz fuzz-api crash slither clean

## setup: venv + `pip install -e '.[dev]'`, `npm ci`, and the solc-js bridge; fast when nothing changed
setup: $(VENV)/.stamp node_modules/.stamp
	@$(PY) -c "from trace_api.chain.compiler import ensure_solc; ensure_solc()"

$(VENV)/.stamp: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## tools: a separate venv for tools whose pins clash with brownie's (GS1's event-hash reference implementation)
tools: $(TOOLS)/.stamp
$(TOOLS)/.stamp: tools-requirements.txt
	@test -x $(TOOLS)/bin/python || python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --disable-pip-version-check -r tools-requirements.txt
	@touch $@

## sysdeps: Debian packages the tests need (PostgreSQL server, Chromium, poppler-utils), installed only when missing
sysdeps:
	@./.ci/sysdeps

## demo: start the local chain, deploy, run the story, serve the API and consumer page until Ctrl-C
demo: setup
	$(VENV)/bin/trace demo

## test: every test: pytest (unit, CLI, API, index on SQLite and PostgreSQL, browser), brownie contract tests, forge
test: setup tools sysdeps lint test-py test-contracts test-forge

## lint: ruff (lint and format) and strict mypy on trace_api/, qr/, cli/ (both from the tools venv)
lint: tools
	$(TOOLS)/bin/ruff check .
	$(TOOLS)/bin/ruff format --check .
	$(TOOLS)/bin/mypy --python-executable $(PY)

test-py: setup
	$(PYTEST) tests --ignore=tests/contracts -q -n 2 --dist loadfile

test-contracts: setup
	$(VENV)/bin/brownie test --network anvil

## test-forge: the Foundry escrow suite in short form (200 invariant sequences of 30 calls, the issue 11 scenarios)
test-forge: setup
	$(PY) tools/forge.py test

## bench: benchmark table with same-run baselines; writes bench/out/results.json and the scan page's screenshots
bench: setup
	@./.ci/sysdeps bench
	$(PY) -m bench
	$(PY) -m bench.screenshot

## fuzz: the long escrow fuzz: Foundry's invariant suite (tests/foundry), 10,000 sequences of 30 calls
fuzz: setup
	FOUNDRY_PROFILE=fuzz $(PY) tools/forge.py test

## fuzz-api: schemathesis against the served API (tools venv): ≥ 1,000 requests, no 5xx, responses as declared
fuzz-api: setup tools
	$(PY) tools/fuzz_api.py

## crash: the long crash-safety runs (tools/crash_trials.py): 200 kill -9 of `trace import`/`trace anchor`, then 50
## of every write command (make test kills 6 and 5)
crash: setup
	$(PY) tools/crash_trials.py --trials 200
	$(PY) tools/crash_trials.py --write --trials 50

## slither: Slither static analysis of contracts/, gated by contracts/slither-triage.json
slither: setup tools
	$(PY) tools/slither_check.py

clean:
	rm -rf build bench/out .pytest_cache
