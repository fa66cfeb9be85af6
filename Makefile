# Set-up is implicit: every target that needs the virtualenv creates it on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SOURCES := nexy_stream tests schema/generate.py deploy $(wildcard bench)
# Debian packages some tests run on loopback (each package is named as its program).
TEST_PACKAGES := redis-server haproxy

.PHONY: install run test test-busy test-deps lint proto proto-check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## start the server with the embedded echo pipeline
	$(VENV)/bin/nexy-stream serve $(ARGS)

proto: $(STAMP)  ## regenerate nexy_stream/_proto from schema/
	$(PY) schema/generate.py

proto-check: $(STAMP)
	$(PY) schema/generate.py --check

lint: $(STAMP)
	cd schema && ../$(VENV)/bin/buf lint
	$(VENV)/bin/ruff check $(SOURCES)
	$(VENV)/bin/ruff format --check $(SOURCES)
	$(VENV)/bin/mypy

test: test-deps lint proto-check
	$(PY) -m pytest $(PYTEST_ARGS)

test-busy: test-deps lint proto-check  ## the suite RUNS times (5) beside two CPU burners
	.ci/busy $(or $(RUNS),5)

# Installs what is missing, as root with apt-get; otherwise the tests that need it skip,
# saying so. Idempotent: nothing is done when every program is there.
test-deps:
	@missing=$$(for p in $(TEST_PACKAGES); do \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v $$p >/dev/null || echo $$p; done); \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "test-deps: missing $$missing (needs root and apt-get): their tests will skip"; \
	  exit 0; fi; \
	echo "test-deps: installing $$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 \
	  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; } \
	  || echo "test-deps: could not install $$missing: their tests will skip"

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info
