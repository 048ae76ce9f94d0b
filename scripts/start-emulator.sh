#!/usr/bin/env bash
# Start the local Voucherify Exports emulator in the background and wait until it answers.
#
#     scripts/start-emulator.sh [emulator arguments...]    # e.g. --seed 7 --rows voucher=1000
#
# Extra arguments go to `python -m voucherify_emulator` after the two ports. Its PID is
# written to EMULATOR_PID_FILE so that scripts/stop-emulator.sh can stop it; its output (the URLs it
# prints, then its log) goes to EMULATOR_LOG.
#
# Inputs (all optional):
#   PYTHON                  interpreter with the project installed (default .venv/bin/python)
#   EMULATOR_API_PORT       default 8765
#   EMULATOR_DOWNLOAD_PORT  default 8766
#   EMULATOR_PID_FILE       default output/emulator.pid
#   EMULATOR_LOG            default output/emulator.log
set -euo pipefail

PYTHON="${PYTHON:-.venv/bin/python}"
API_PORT="${EMULATOR_API_PORT:-8765}"
DOWNLOAD_PORT="${EMULATOR_DOWNLOAD_PORT:-8766}"
PID_FILE="${EMULATOR_PID_FILE:-output/emulator.pid}"
LOG_FILE="${EMULATOR_LOG:-output/emulator.log}"
readonly HOST=127.0.0.1
readonly START_TIMEOUT_SECONDS=30

log() { printf 'start-emulator: %s\n' "$*" >&2; }
answers() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

for port in "$API_PORT" "$DOWNLOAD_PORT"; do
    if answers "$port"; then
        log "port $port on $HOST is already in use (an emulator left running? see $PID_FILE)"
        exit 1
    fi
done

mkdir -p "$(dirname "$PID_FILE")" "$(dirname "$LOG_FILE")"
"$PYTHON" -m voucherify_emulator \
    --api-port "$API_PORT" --download-port "$DOWNLOAD_PORT" "$@" >"$LOG_FILE" 2>&1 &
pid=$!
echo "$pid" >"$PID_FILE"

deadline=$((SECONDS + START_TIMEOUT_SECONDS))
until answers "$API_PORT" && answers "$DOWNLOAD_PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        log "emulator exited during startup; its output:"
        cat "$LOG_FILE" >&2
        rm -f "$PID_FILE"
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        log "emulator did not answer on $API_PORT/$DOWNLOAD_PORT within ${START_TIMEOUT_SECONDS}s"
        kill "$pid" 2>/dev/null || true
        rm -f "$PID_FILE"
        exit 1
    fi
    sleep 0.2
done
log "emulator (pid $pid) answers on http://$HOST:$API_PORT and http://$HOST:$DOWNLOAD_PORT"
