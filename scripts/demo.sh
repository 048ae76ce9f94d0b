#!/usr/bin/env bash
# The body of `make demo`: emulator up → `meltano run tap-voucherify-exports target-duckdb
# dbt-duckdb:build` (the load, then the dbt models in transform/ built and tested in the same
# file) → report from output/demo.duckdb, each table checked against the emulator's rows
# (OK/MISMATCH; exit 1 on a MISMATCH) → the first rows of one mart → emulator down (always,
# by trap).
#
# The emulator keeps its data in output/emulator-state.json and grows it while it runs
# (--grow-every), so a second `make demo` finds new rows, and the tap's meltano state (in the
# system database, .meltano/meltano.db) makes that run move only those.
#
# Inputs (all optional; the Makefile passes them through):
#   VENV             virtualenv with the project, meltano and duckdb (default .venv)
#   EMULATOR_ROWS    initial rows per exported object
#   EMULATOR_GROW    SECONDS:COUNT, rows the emulator adds every SECONDS seconds
set -euo pipefail

VENV="${VENV:-.venv}"
EMULATOR_ROWS="${EMULATOR_ROWS:-voucher=1000,redemption=500,publication=300,customer=400,points_expiration=100,order=600}"
EMULATOR_GROW="${EMULATOR_GROW:-5:5}"
readonly DUCKDB_FILE=output/demo.duckdb
readonly STATE_FILE=output/emulator-state.json
# The dev environment's api_url (meltano.yml); its control endpoint, /_emulator/ground-truth,
# serves the rows the report checks against.
readonly EMULATOR_URL=http://127.0.0.1:8765

export PYTHON="$VENV/bin/python"
mkdir -p output

trap 'scripts/stop-emulator.sh' EXIT
scripts/start-emulator.sh --seed 7 --rows "$EMULATOR_ROWS" --state-file "$STATE_FILE" \
    --grow-every "$EMULATOR_GROW"

# The emulator's rows and the tables' counts before the run: the report requires every one of
# those rows in DuckDB (rows the emulator creates during the run may or may not be synced).
before="$(mktemp)"
trap 'scripts/stop-emulator.sh; rm -f "$before"' EXIT
"$PYTHON" scripts/duckdb_report.py snapshot "$DUCKDB_FILE" --emulator "$EMULATOR_URL" >"$before"

"$VENV/bin/meltano" run tap-voucherify-exports target-duckdb dbt-duckdb:build

echo
"$PYTHON" scripts/duckdb_report.py report "$DUCKDB_FILE" --emulator "$EMULATOR_URL" \
    --before "$before"

# One of the marts dbt built (docs/models.md), as a BI tool would read it.
"$PYTHON" - "$DUCKDB_FILE" <<'PY'
import sys

import duckdb

query = (
    "SELECT campaign_id, campaign_name, vouchers_issued AS issued, vouchers_published AS published,"
    " vouchers_redeemed AS redeemed, redemptions_failed AS failed,"
    " round(redemption_rate, 3) AS rate, redeemed_order_amount"
    " FROM analytics.voucherify__campaigns ORDER BY vouchers_issued DESC LIMIT 5"
)
print(f"\nA mart: {query}")
with duckdb.connect(sys.argv[1], read_only=True) as connection:
    connection.sql(query).show(max_width=120)
PY
