#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the end-to-end tests, and print the PG*
# variables that reach it, ready for `eval`:
#
#     eval "$(scripts/start-postgres.sh)"
#
# Idempotent: a server this script already started (same data directory) is reused, and the test
# database is created only when missing. VOUCHERIFY_PG_STARTED=yes in the output means this call
# started the server (so the caller may stop it with scripts/stop-postgres.sh), no that it was
# already running. Installs Debian's `postgresql` through
# scripts/install-system-deps.sh when no server binaries are found. Progress goes to stderr; only `export` lines go to stdout.
#
# Inputs (all optional):
#   PGPORT                 port to listen on (default 5432)
#   PGUSER / PGPASSWORD    superuser and its password (default postgres / postgres)
#   PGDATABASE             database to create for the tests (default voucherify)
#   VOUCHERIFY_PGDATA      data directory (default ${TMPDIR:-/tmp}/tap-voucherify-exports-pg)
set -euo pipefail

PGHOST=127.0.0.1
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
PGPASSWORD="${PGPASSWORD:-postgres}"
PGDATABASE="${PGDATABASE:-voucherify}"
DATA_DIR="${VOUCHERIFY_PGDATA:-${TMPDIR:-/tmp}/tap-voucherify-exports-pg}"
readonly START_TIMEOUT_SECONDS=60

log() { printf 'start-postgres: %s\n' "$*" >&2; }

find_bindir() {
    # Newest installed major version first; Debian keeps the server binaries off PATH.
    local dir
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null \
        | sort -V | tail -n 1)"
    if [[ -n "$dir" && -x "$dir/pg_ctl" ]]; then
        printf '%s\n' "$dir"
    elif command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
    fi
}

BINDIR="$(find_bindir)"
if [[ -z "$BINDIR" ]]; then
    log "no PostgreSQL server binaries found; installing them"
    bash "$(dirname "$0")/install-system-deps.sh" >&2
    BINDIR="$(find_bindir)"
fi

# initdb and postgres refuse to run as root: run them as the 'postgres' system user then.
as_owner() {
    if [[ "$(id -u)" -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [[ ! -s "$DATA_DIR/PG_VERSION" ]]; then
    log "initialising $DATA_DIR"
    mkdir -p "$DATA_DIR"
    chmod 700 "$DATA_DIR"
    [[ "$(id -u)" -eq 0 ]] && chown postgres:postgres "$DATA_DIR"
    pwfile="$(mktemp)"
    printf '%s\n' "$PGPASSWORD" > "$pwfile"
    [[ "$(id -u)" -eq 0 ]] && chown postgres "$pwfile"
    as_owner "$BINDIR/initdb" --pgdata="$DATA_DIR" --username="$PGUSER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --no-locale --no-sync >&2
    rm -f "$pwfile"
fi

if as_owner "$BINDIR/pg_ctl" --pgdata="$DATA_DIR" status >/dev/null 2>&1; then
    # Report the port it really listens on (line 4 of postmaster.pid), whatever PGPORT says now.
    PGPORT="$(sed -n 4p "$DATA_DIR/postmaster.pid")"
    log "already running from $DATA_DIR on port $PGPORT"
    started=no
else
    if (exec 3<>"/dev/tcp/$PGHOST/$PGPORT") 2>/dev/null; then
        log "port $PGPORT on $PGHOST is taken by another server; set PGPORT to a free port"
        exit 1
    fi
    log "starting on $PGHOST:$PGPORT"
    # Durability settings off: this server holds only test data and is thrown away.
    as_owner "$BINDIR/pg_ctl" --pgdata="$DATA_DIR" --log="$DATA_DIR/server.log" --wait \
        --timeout="$START_TIMEOUT_SECONDS" \
        -o "-c listen_addresses=$PGHOST -p $PGPORT -k $DATA_DIR" \
        -o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2 || { tail -n 20 "$DATA_DIR/server.log" >&2; exit 1; }
    started=yes
fi

export PGHOST PGPORT PGUSER PGPASSWORD
exists="$("$BINDIR/psql" --dbname=postgres --no-psqlrc --tuples-only --no-align \
    --command="SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'")"
if [[ "$exists" != "1" ]]; then
    log "creating database $PGDATABASE"
    "$BINDIR/createdb" "$PGDATABASE"
fi

printf 'export PGHOST=%q PGPORT=%q PGUSER=%q PGPASSWORD=%q PGDATABASE=%q\n' \
    "$PGHOST" "$PGPORT" "$PGUSER" "$PGPASSWORD" "$PGDATABASE"
printf 'export VOUCHERIFY_PGDATA=%q VOUCHERIFY_PG_STARTED=%q\n' "$DATA_DIR" "$started"
