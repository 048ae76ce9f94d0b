#!/usr/bin/env bash
# Stop the server that scripts/start-postgres.sh started (same VOUCHERIFY_PGDATA); its data stays.
set -euo pipefail

DATA_DIR="${VOUCHERIFY_PGDATA:-${TMPDIR:-/tmp}/tap-voucherify-exports-pg}"
BINDIR="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null \
    | sort -V | tail -n 1)"
PG_CTL="${BINDIR:+$BINDIR/}pg_ctl"

if [[ ! -s "$DATA_DIR/postmaster.pid" ]]; then
    echo "stop-postgres: not running from $DATA_DIR" >&2
    exit 0
fi
if [[ "$(id -u)" -eq 0 ]]; then
    runuser -u postgres -- "$PG_CTL" --pgdata="$DATA_DIR" --mode=fast --wait stop
else
    "$PG_CTL" --pgdata="$DATA_DIR" --mode=fast --wait stop
fi
