# Developer entry points. `.ci/run` installs system packages, starts PostgreSQL, then runs
# `make install test`, so `make test` here is exactly what CI checks.

PYTHON ?= python3
VENV ?= .venv
# Newest meltano that installs beside singer-sdk 0.54 on Python 3.11 (checked 2026-11).
MELTANO_VERSION ?= 4.4.1
# For the demo's report and the e2e tests; reads the file target-duckdb writes with duckdb 1.0.0
# (meltano.yml says why that one).
DUCKDB_REQUIREMENT ?= duckdb>=1.4,<2

BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.installed-bench

.PHONY: install plugins demo test bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's dependencies or the pins above change.
$(INSTALLED): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,typing]' \
		'meltano==$(MELTANO_VERSION)' '$(DUCKDB_REQUIREMENT)'
	touch $@

## install: the project with its test and typing extras, meltano and duckdb, into $(VENV)
install: $(INSTALLED)

## plugins: the meltano plugins the demo needs, each in its own venv under .meltano/
plugins: $(INSTALLED)
	$(BIN)/meltano install tap-voucherify-exports target-duckdb

## demo: emulator on 8765/8766 → meltano run → output/demo.duckdb; run again for an increment
demo: plugins
	VENV=$(VENV) scripts/demo.sh

## test: lint, type-check, and the test suite (pytest's "no tests collected" counts as success)
test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy tap_voucherify_exports
	$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest: no tests collected"; status=0; fi; \
	exit $$status

$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

## bench: throughput, peak RSS and wall time against the emulator (ARGS=--quick for a smoke run)
bench: $(BENCH_INSTALLED)
	$(BIN)/python benchmarks/run.py $(ARGS)
