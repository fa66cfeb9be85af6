# Set-up is implicit: every target that needs the virtualenv creates it on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SOURCES := nexy_stream tests schema/generate.py $(wildcard bench)

.PHONY: install run test lint proto proto-check bench clean

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

test: lint proto-check
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info
