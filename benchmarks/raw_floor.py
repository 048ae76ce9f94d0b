"""The raw floor: what one export costs with no SDK at all.

    python benchmarks/raw_floor.py --config CONFIG.json --stream vouchers

Creates the same export the tap would (same fields, same window body), polls it every 50 ms,
then streams the download (requests stream=True + io.TextIOWrapper, like the tap), types every
row with the tap's own `CsvRecordReader` and writes each record as a Singer RECORD line encoded
with singer-sdk's msgspec `serialize_jsonl` to stdout. No SDK Tap, Stream, catalog, schema
messages, state or stream maps: the cost of CSV parsing + typing + JSON encoding + I/O only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
import time

import requests
from singer_sdk.contrib.msgspec import serialize_jsonl

from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.jobs.windows import Window
from tap_voucherify_exports.parsing.records import CsvRecordReader
from tap_voucherify_exports.streams import STREAM_TYPES

POLL_SECONDS = 0.05


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--stream", default="vouchers")
    args = parser.parse_args()
    with open(args.config, encoding="utf-8") as handle:
        config = json.load(handle)
    stream_type = next(s for s in STREAM_TYPES if s.name == args.stream)
    table = TABLES[stream_type.exported_object]
    fields = tuple(table.keys)
    start = dt.datetime.fromisoformat(config["start_date"])
    end = dt.datetime.fromisoformat(config["end_date"])
    window = Window(start, end) if stream_type.filter_key else None
    request = ExportRequest(
        stream_type.name,
        TABLES[stream_type.exported_object],
        fields,
        window,
        stream_type.filter_key,
    )

    session = requests.Session()
    session.headers.update({"X-App-Id": config["app_id"], "X-App-Token": config["app_token"]})
    api = f"{config['api_url']}/v1/exports"
    export = session.post(api, json=request.body(), timeout=60).json()
    while export["status"] != "DONE":
        if export["status"] == "ERROR":
            raise SystemExit(f"export {export['id']} ended in ERROR")
        time.sleep(POLL_SECONDS)
        export = session.get(f"{api}/{export['id']}", timeout=60).json()

    out = sys.stdout.buffer
    write = out.write
    time_extracted = dt.datetime.now(dt.timezone.utc)
    reader = CsvRecordReader(stream_type.name, table, fields)
    with session.get(export["result"]["url"], stream=True, timeout=300) as response:
        response.raise_for_status()
        raw = response.raw
        raw.decode_content = True
        raw.auto_close = False
        lines = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        for record in reader.records(lines):
            write(
                serialize_jsonl(
                    {
                        "type": "RECORD",
                        "stream": stream_type.name,
                        "record": record,
                        "time_extracted": time_extracted,
                    }
                )
            )
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
