"""A baseline: the same vouchers export read the way a typical singer-sdk tap would.

    python benchmarks/baseline_tap.py --config CONFIG.json [--catalog CATALOG.json]

Minimal but honest: singer-sdk defaults everywhere (the default `SingerWriter`, flushing every
message; the default `TYPE_CONFORMANCE_LEVEL`, RECURSIVE; an incremental stream with a
replication key, so the SDK tracks the bookmark per record). For each window it creates the
export with requests, polls it every second, downloads it with `iter_lines(decode_unicode=True)`
into `csv.DictReader`, and types every cell with a per-cell converter looked up in a type map.
The schema and the field list are the tap's own (`tap_voucherify_exports.fields`), so both emit
the same stream with the same columns and record count.

Known shortcut of the obvious way: `iter_lines` strips the line break inside a quoted multi-line
cell (pretty-printed metadata JSON, a two-line description), so such cells lose their "\\n";
the number of records is unaffected.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import requests
from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from tap_voucherify_exports.fields import TABLES, FieldType
from tap_voucherify_exports.schemas import schema_for

POLL_SECONDS = 1.0
# requests' default iter_lines chunk is 512 bytes; a sensible developer raises it.
CHUNK_SIZE = 64 * 1024


def to_integer(value: str) -> int:
    return int(Decimal(value))


def to_boolean(value: str) -> bool:
    return value.strip().lower() in ("true", "t", "yes", "1")


def to_date_time(value: str) -> str:
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.isoformat()


def to_date(value: str) -> str:
    return dt.datetime.fromisoformat(value).date().isoformat()


def to_object(value: str) -> dict:
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"_raw_text": value}


def to_integer_list(value: str) -> list[int]:
    return [int(part) for part in value.split(",")]


TYPE_MAP = {
    FieldType.STRING: str,
    FieldType.INTEGER: to_integer,
    FieldType.NUMBER: Decimal,
    FieldType.BOOLEAN: to_boolean,
    FieldType.DATE: to_date,
    FieldType.DATE_TIME: to_date_time,
    FieldType.OBJECT: to_object,
    FieldType.INTEGER_LIST: to_integer_list,
}


def iso_ms(moment: dt.datetime) -> str:
    return (
        moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class VouchersStream(Stream):
    name = "vouchers"
    primary_keys = ("id",)
    replication_key = "created_at"

    def __init__(self, tap: Tap) -> None:
        self.table = TABLES["voucher"]
        super().__init__(tap, schema=schema_for(self.table))

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        config = self.config
        headers = {"X-App-Id": config["app_id"], "X-App-Token": config["app_token"]}
        start = dt.datetime.fromisoformat(config["start_date"])
        end = dt.datetime.fromisoformat(config["end_date"])
        step = dt.timedelta(days=config.get("window_days", 30))
        fields = [field.key for field in self.table.fields]
        converters = {field.key: TYPE_MAP[field.type] for field in self.table.fields}
        while start < end:
            window_end = min(start + step, end)
            body = {
                "exported_object": "voucher",
                "parameters": {
                    "fields": fields,
                    "order": "created_at",
                    "filters": {
                        "junction": "and",
                        "created_at": {
                            "conditions": {
                                "$after": [iso_ms(start - dt.timedelta(milliseconds=1))],
                                "$before": [iso_ms(window_end)],
                            }
                        },
                    },
                },
            }
            url = f"{config['api_url']}/v1/exports"
            export = requests.post(url, json=body, headers=headers, timeout=60).json()
            while export["status"] not in ("DONE", "ERROR"):
                time.sleep(POLL_SECONDS)
                export = requests.get(f"{url}/{export['id']}", headers=headers, timeout=60).json()
            if export["status"] == "ERROR":
                raise RuntimeError(f"export {export['id']} failed")
            response = requests.get(
                export["result"]["url"], headers=headers, stream=True, timeout=300
            )
            response.raise_for_status()
            response.encoding = "utf-8"
            lines = response.iter_lines(chunk_size=CHUNK_SIZE, decode_unicode=True)
            reader = csv.DictReader(lines, fieldnames=fields)
            next(reader)  # the header row holds labels, not keys; columns come in `fields` order
            for row in reader:
                record = {}
                for key, value in row.items():
                    record[key] = converters[key](value) if value != "" else None
                yield record
            start = window_end


class BaselineTap(Tap):
    name = "baseline-voucherify"
    config_jsonschema = th.PropertiesList(
        th.Property("app_id", th.StringType(), required=True),
        th.Property("app_token", th.StringType(), required=True, secret=True),
        th.Property("api_url", th.StringType(), required=True),
        th.Property("download_url", th.StringType()),
        th.Property("start_date", th.DateTimeType(), required=True),
        th.Property("end_date", th.DateTimeType(), required=True),
        th.Property("window_days", th.NumberType()),
        th.Property("max_concurrent_exports", th.IntegerType()),
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        return [VouchersStream(self)]


if __name__ == "__main__":
    BaselineTap.cli()
