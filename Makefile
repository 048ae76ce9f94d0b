# Developer entry points. `.ci/run` installs system packages, starts PostgreSQL, then runs
# `make install test`, so `make test` here is exactly what CI checks.

PYTHON ?= python3
VENV ?= .venv
# Newest meltano that installs beside singer-sdk 0.54 on Python 3.11 (checked 2026-11).
MELTANO_VERSION ?= 4.4.1
# For the demo's report and the e2e tests; reads the file target-duckdb writes with duckdb 1.0.0
# (meltano.yml says why that one).
DUCKDB_REQUIREMENT ?= duckdb>=1.4,<2
# Exact versions of every dependency, so a fresh clone installs what CI tested (`make constraints`
# refreshes it). They are resolved on CI's Python, 3.11, and some do not install on others
# (importlib-metadata 10 needs 3.11), so another Python resolves afresh; CONSTRAINTS= forces that.
CONSTRAINTS_PYTHON := 3.11
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
CONSTRAINTS ?= $(if $(filter $(CONSTRAINTS_PYTHON),$(PYTHON_VERSION)),constraints.txt)
CONSTRAINT_ARGS := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))

BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The dbt utilities (meltano.yml), each in its own venv under .meltano/utilities/, pinned by their
# pip_url and transform/constraints.txt. meltano skips a venv whose pip_url did not change, so a
# changed constraints file needs --clean.
DBT_INSTALLED := .meltano/utilities/.installed
BENCH_INSTALLED := $(VENV)/.installed-bench

.PHONY: install plugins demo test test-pythons bench constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's dependencies or the pins above change.
# The emulator is its own distribution (voucherify_emulator/pyproject.toml), outside the tap's
# wheel; installed editable here so tests, scripts, benchmarks and the demo import it from any cwd.
$(INSTALLED): pyproject.toml voucherify_emulator/pyproject.toml Makefile $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip $(CONSTRAINT_ARGS)
	$(BIN)/python -m pip install --quiet $(CONSTRAINT_ARGS) -e '.[test,typing]' -e ./voucherify_emulator \
		'meltano==$(MELTANO_VERSION)' '$(DUCKDB_REQUIREMENT)'
	touch $@

$(DBT_INSTALLED): meltano.yml transform/constraints.txt $(wildcard plugins/utilities/*.lock) | $(INSTALLED)
	$(BIN)/meltano install --plugin-type utility --clean
	touch $@

## install: the project with its test and typing extras, meltano and duckdb, into $(VENV); dbt
install: $(INSTALLED) $(DBT_INSTALLED)

## plugins: the meltano plugins the demo needs, each in its own venv under .meltano/
plugins: $(INSTALLED) $(DBT_INSTALLED)
	$(BIN)/meltano install tap-voucherify-exports target-duckdb

## demo: emulator on 8765/8766 → meltano run (load, dbt build) → output/demo.duckdb; again: increment
demo: plugins
	VENV=$(VENV) scripts/demo.sh

## test: lint, type-check, and the test suite (pytest's "no tests collected" counts as success)
# mypy: the package and the emulator strict, the tests not ([tool.mypy] in pyproject.toml).
test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tap_voucherify_exports voucherify_emulator tests
	$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest: no tests collected"; status=0; fi; \
	exit $$status

# The Pythons `requires-python` (>=3.10) allows; test-pythons skips $(PYTHON)'s and those not found.
PYTHON_VERSIONS ?= 3.10 3.11 3.12 3.13 3.14

## test-pythons: the unit tier on every other Python found (python3.X on PATH, or under pyenv),
## each in its own .venv-py3.X with dependencies resolved for it (no constraints.txt)
test-pythons:
	scripts/test-pythons.sh $(PYTHON_VERSION) $(PYTHON_VERSIONS)

$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install --quiet $(CONSTRAINT_ARGS) -e '.[bench]'
	touch $@

## bench: throughput, peak RSS and wall time against the emulator (ARGS=--quick for a smoke run)
bench: $(BENCH_INSTALLED)
	$(BIN)/python benchmarks/run.py $(ARGS)

SCRATCH_VENV := .venv-constraints

## constraints: resolve every dependency afresh (newest allowed) in a scratch venv, pin it all
constraints:
	@[ "$(PYTHON_VERSION)" = "$(CONSTRAINTS_PYTHON)" ] || \
		{ echo "make constraints: needs Python $(CONSTRAINTS_PYTHON) (PYTHON=...), got $(PYTHON_VERSION)"; exit 1; }
	rm -rf $(SCRATCH_VENV)
	$(PYTHON) -m venv $(SCRATCH_VENV)
	$(SCRATCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCRATCH_VENV)/bin/python -m pip install --quiet -e '.[test,typing,bench]' \
		'meltano==$(MELTANO_VERSION)' '$(DUCKDB_REQUIREMENT)'
	{ echo "# Every dependency of the project and its extras, meltano and duckdb, as \`make constraints\`"; \
	  echo "# resolved them with $$($(SCRATCH_VENV)/bin/python --version) on $$(date -u +%F). Used by \`make install\`."; \
	  $(SCRATCH_VENV)/bin/python -m pip freeze --all --exclude-editable | grep -v '^setuptools=='; \
	} > constraints.txt
	rm -rf $(SCRATCH_VENV)
