"""`tap-voucherify-exports --config c.json | target-jsonl`: the tap as a plain Singer tap.

The tap and the target are the executables meltano installed (`.meltano/extractors/…/venv/bin`,
`.meltano/loaders/target-jsonl/venv/bin`), joined by an OS pipe in bash; `tee` keeps a copy of
the tap's output to count its messages. No meltano, no catalog: every stream is synced.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e_data import (
    LIST_STREAMS,
    PLAIN_TAP_STREAMS,
    ROWS,
    TAP,
    expected_value,
    kind,
    parse_ts,
    tap_settings,
    truth_keys,
)
from tests.support.meltano import base_env
from voucherify_emulator import Emulator

PIPE_TIMEOUT_SECONDS = 300
PIPELINE = 'set -euo pipefail; "$1" --config "$2" | tee "$3" | "$4" --config "$5" > "$6"'


def typed(column: str, value: Any) -> object:
    """A JSONL value in the form `expected_value` gives (timestamps parsed, amounts Decimal)."""
    if value is None:
        return None
    column_kind = kind(column)
    if column_kind == "timestamp":
        return parse_ts(value)
    if column_kind == "date":
        return dt.date.fromisoformat(value)
    if column_kind == "amount":
        return Decimal(str(value))
    return value


@pytest.fixture(scope="module")
def piped(meltano_plugins: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the pipe once against a fresh emulator; return its outputs and the emulator's truth."""
    tmp_path = tmp_path_factory.mktemp("singer-pipe")
    tap = meltano_plugins / "extractors" / TAP / "venv" / "bin" / TAP
    target = meltano_plugins / "loaders" / "target-jsonl" / "venv" / "bin" / "target-jsonl"
    assert tap.exists(), tap
    assert target.exists(), target
    out_dir = tmp_path / "jsonl"
    tap_out = tmp_path / "tap.out"
    target_out = tmp_path / "target.out"
    tap_config = tmp_path / "tap.json"
    target_config = tmp_path / "target.json"
    target_config.write_text(
        json.dumps({"destination_path": str(out_dir), "do_timestamp_file": False})
    )
    with Emulator(seed=57, rows=ROWS, job_latency_seconds=0.5) as emu:
        tap_config.write_text(json.dumps(tap_settings(emu)))
        started = time.monotonic()
        result = subprocess.run(
            [
                "bash",
                "-c",
                PIPELINE,
                "pipe",
                str(tap),
                str(tap_config),
                str(tap_out),
                str(target),
                str(target_config),
                str(target_out),
            ],
            env=base_env(),
            capture_output=True,
            text=True,
            timeout=PIPE_TIMEOUT_SECONDS,
            check=False,
        )
        seconds = time.monotonic() - started
        print(f"\ntap | target-jsonl, six streams: {seconds:.1f}s")
        assert result.returncode == 0, f"pipe exited {result.returncode}\n{result.stderr[-5000:]}"
        truth = {
            stream: emu.ground_truth(spec.exported_object)
            for stream, spec in PLAIN_TAP_STREAMS.items()
        }
        keys = {stream: truth_keys(emu, stream) for stream in PLAIN_TAP_STREAMS}
    messages = [json.loads(line) for line in tap_out.read_text().splitlines() if line.strip()]
    files = {path.stem: path for path in out_dir.glob("*.jsonl")}
    return {
        "messages": messages,
        "files": files,
        "target_out": target_out.read_text(),
        "truth": truth,
        "keys": keys,
    }


def test_record_counts_match_files_and_ground_truth(piped: dict[str, Any]) -> None:
    """Per stream: RECORD messages the tap wrote == lines target-jsonl wrote == emulator rows,
    and the lines carry every primary key exactly once."""
    messages = piped["messages"]
    records = Counter(m["stream"] for m in messages if m["type"] == "RECORD")
    schemas = Counter(m["stream"] for m in messages if m["type"] == "SCHEMA")
    assert set(schemas) == set(PLAIN_TAP_STREAMS) | LIST_STREAMS
    assert set(piped["files"]) - LIST_STREAMS == set(PLAIN_TAP_STREAMS)
    for stream, spec in PLAIN_TAP_STREAMS.items():
        lines = piped["files"][stream].read_text().splitlines()
        expected = ROWS[spec.exported_object]
        assert records[stream] == len(lines) == len(piped["truth"][stream]) == expected, (
            f"{stream}: tap {records[stream]} records, file {len(lines)} lines, "
            f"emulator {len(piped['truth'][stream])} rows"
        )
        rows = [json.loads(line) for line in lines]
        landed = [tuple(typed(k, row[k]) for k in spec.primary_key) for row in rows]
        assert len(set(landed)) == len(landed), f"{stream}: a key was written twice"
        assert set(landed) == piped["keys"][stream]


def test_records_are_typed_values_of_the_csv(piped: dict[str, Any]) -> None:
    """Every JSONL value is the typed form of its CSV cell (amounts unscaled, empty → null)."""
    for stream, spec in PLAIN_TAP_STREAMS.items():
        rows = [json.loads(line) for line in piped["files"][stream].read_text().splitlines()]
        by_key = {tuple(typed(k, row[k]) for k in spec.primary_key): row for row in rows}
        mismatches = []
        for cells in piped["truth"][stream]:
            expected = {column: expected_value(column, cell) for column, cell in cells.items()}
            row = by_key[tuple(expected[k] for k in spec.primary_key)]
            assert set(row) == set(cells), stream
            mismatches += [
                (column, cell, row[column])
                for column, cell in cells.items()
                if typed(column, row[column]) != expected[column]
            ]
        assert not mismatches, f"{stream}: {len(mismatches)} values differ: {mismatches[:5]}"


def test_target_echoes_the_final_state(piped: dict[str, Any]) -> None:
    """The tap ends with a STATE holding a bookmark per incremental stream; target-jsonl
    emits that state once everything before it is written."""
    messages = piped["messages"]
    assert messages[-1]["type"] == "STATE"
    final = messages[-1]["value"]
    incremental = {stream for stream, spec in PLAIN_TAP_STREAMS.items() if spec.replication_key}
    marked = {
        stream for stream, entry in final["bookmarks"].items() if entry.get("replication_key_value")
    }
    assert marked == incremental
    emitted = [json.loads(line) for line in piped["target_out"].splitlines() if line.strip()]
    assert emitted
    assert emitted[-1] == final
