#!/usr/bin/env bash
# Stop the emulator that scripts/start-emulator.sh started (by the PID in EMULATOR_PID_FILE).
set -euo pipefail

PID_FILE="${EMULATOR_PID_FILE:-output/emulator.pid}"
readonly STOP_TIMEOUT_SECONDS=10

[[ -s "$PID_FILE" ]] || exit 0
pid="$(cat "$PID_FILE")"
rm -f "$PID_FILE"
kill "$pid" 2>/dev/null || exit 0
for _ in $(seq $((STOP_TIMEOUT_SECONDS * 5))); do
    kill -0 "$pid" 2>/dev/null || exit 0
    sleep 0.2
done
echo "stop-emulator: pid $pid ignored SIGTERM for ${STOP_TIMEOUT_SECONDS}s; sending SIGKILL" >&2
kill -KILL "$pid" 2>/dev/null || true
