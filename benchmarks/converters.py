"""Each stage of turning an export's CSV into RECORD lines, timed in isolation, in one process.

    python benchmarks/converters.py [--rows 100000] [--reps 5]

Downloads one vouchers export (all 33 fields) from the bundled emulator into memory, then
times, best of `--reps` (interleaved, the machine is shared): every converter of
parsing/records.py on the non-empty cells of every column of its type (ns per cell), the row
converter (µs per row), and the pipeline stages on the whole file (µs per row): line splitting,
csv parsing, parsing + typing (`CsvRecordReader.records`, without and with the check that rows lie
inside their export's window, and keeping a counted window's first 1,000 keys), and the fast
path's encoding (`fastpath.record_lines`).
Prints a markdown table; `make bench` does not run it (it measures code, not the tap).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from itertools import islice
from typing import Any

import requests

from tap_voucherify_exports.fields import TABLES, FieldType
from tap_voucherify_exports.jobs.counts import KEYS_COMPARED_MAX
from tap_voucherify_exports.jobs.windows import Window
from tap_voucherify_exports.output.fastpath import BLOCK_RECORDS, record_lines
from tap_voucherify_exports.output.singer_lines import Envelope
from tap_voucherify_exports.parsing.converters import CONVERTERS, compile_row
from tap_voucherify_exports.parsing.records import CsvRecordReader
from tap_voucherify_exports.parsing.window_rows import WindowBounds
from voucherify_emulator import Emulator


def download(rows: int) -> str:
    """The CSV text of one all-fields vouchers export from a fresh emulator."""
    with Emulator(seed=7, rows={"voucher": rows}, job_latency_seconds=0.01) as emu:
        session = requests.Session()
        session.headers.update({"X-App-Id": emu.app_id, "X-App-Token": emu.app_token})
        fields = list(TABLES["voucher"].keys)
        body = {"exported_object": "voucher", "parameters": {"fields": fields}}
        export = session.post(f"{emu.api_url}/v1/exports", json=body, timeout=60).json()
        while export["status"] != "DONE":
            time.sleep(0.05)
            export = session.get(f"{emu.api_url}/v1/exports/{export['id']}", timeout=60).json()
        return session.get(export["result"]["url"], timeout=300).content.decode("utf-8-sig")


def best_of(reps: int, function: Callable[[], Any]) -> float:
    timings = []
    for _ in range(reps):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    table = TABLES["voucher"]
    text = download(args.rows)
    _header, *rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    columns = table.keys
    types = [table.field(key).type for key in columns]

    cells: dict[FieldType, list[str]] = defaultdict(list)
    for index, field_type in enumerate(types):
        cells[field_type].extend(row[index] for row in rows if row[index])

    print(f"{args.rows:,} vouchers, {len(text) / 1e6:.1f} MB of CSV, best of {args.reps}\n")
    print("| converter | non-empty cells | ns per cell |\n|---|--:|--:|")
    for field_type, values in cells.items():
        convert = CONVERTERS[field_type]
        seconds = best_of(args.reps, lambda c=convert, v=values: [c(x) for x in v])  # type: ignore[misc]
        print(f"| {field_type.value} | {len(values):,} | {seconds / len(values) * 1e9:.0f} |")

    convert_row = compile_row(columns, types)
    reader = CsvRecordReader("vouchers", table, columns)
    # A window holding every row: what a windowed export's reader checks (no row dropped).
    everything = Window(
        dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), dt.datetime.now(dt.timezone.utc)
    )
    checked = CsvRecordReader(
        "vouchers", table, columns, bounds=WindowBounds.of(everything, "created_at")
    )
    records = list(reader.records(io.StringIO(text, newline="")))
    now = dt.datetime.now(dt.timezone.utc)

    def encode() -> None:
        iterator = iter(records)
        while chunk := list(islice(iterator, BLOCK_RECORDS)):
            record_lines(Envelope("vouchers", None), chunk, now)

    stages: dict[str, Callable[[], Any]] = {
        "line splitting (StringIO lines)": lambda: sum(1 for _ in io.StringIO(text, newline="")),
        "csv parsing (csv.reader)": lambda: sum(
            1 for _ in csv.reader(io.StringIO(text, newline=""), strict=True)
        ),
        "row conversion alone (compile_row)": lambda: [convert_row(row) for row in rows],
        "parse + type (CsvRecordReader.records)": lambda: sum(
            1 for _ in reader.records(io.StringIO(text, newline=""))
        ),
        "parse + type + window check (bounds=)": lambda: sum(
            1 for _ in checked.records(io.StringIO(text, newline=""))
        ),
        # A counted window's reader keeps the first 1,000 `id` cells (jobs/counts.py), then stops:
        # a fresh reader each time, since a reader past the limit keeps none.
        "parse + type + keys kept (keep_keys=1000)": lambda: sum(
            1
            for _ in CsvRecordReader(
                "vouchers", table, columns, keep_keys=KEYS_COMPARED_MAX
            ).records(io.StringIO(text, newline=""))
        ),
        "RECORD encoding (fastpath.record_lines)": encode,
    }
    print("\n| stage, whole file | µs per row |\n|---|--:|")
    for name, function in stages.items():
        seconds = best_of(args.reps, function)
        print(f"| {name} | {seconds / len(rows) * 1e6:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
