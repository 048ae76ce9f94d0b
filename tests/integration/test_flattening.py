"""singer-sdk's flattening (`flattening_enabled`) declares every column it emits: an open object
(`metadata`, a transaction's `details`) stays one column of JSON text, beside the typed columns
`metadata_keys` declares. Run as a user runs it: the installed tap as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.support.emulator import tap_config
from tests.support.sync import catalog_for
from voucherify_emulator import Emulator

TAP = Path(sys.executable).with_name("tap-voucherify-exports")
RUN_TIMEOUT_SECONDS = 300


def run_sync(config: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    """Every message a sync of `config` writes to stdout; the sync must succeed."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    # Every stream, voucher_transactions too (its `details` is an open object like `metadata`).
    streams = {
        s["tap_stream_id"] for s in TapVoucherifyExports(config=config).catalog_dict["streams"]
    }
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_for(config, streams)))
    result = subprocess.run(
        [str(TAP), "--config", str(config_path), "--catalog", str(catalog_path)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_flattened_schemas_declare_every_property_their_records_carry(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(
        emulator,
        flattening_enabled=True,
        flattening_max_depth=3,
        metadata_keys={"vouchers": {"count": "integer"}},
    )
    schemas: dict[str, dict[str, Any]] = {}
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in run_sync(config, tmp_path):
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
        elif message["type"] == "RECORD":
            records[message["stream"]].append(message["record"])
    # Every stream with rows declared its schema (bin_entries: an empty bin, a schema alone).
    assert set(records) <= set(schemas)
    assert {"vouchers", "customers", "voucher_transactions"} <= set(records)
    for stream, rows in records.items():
        declared = schemas[stream]["properties"]
        validator = Draft202012Validator(schemas[stream])
        for row in rows:
            assert set(row) <= set(declared), (stream, set(row) - set(declared))
            validator.validate(row)  # each value of its declared type
    vouchers = schemas["vouchers"]["properties"]
    assert vouchers["metadata"]["type"] == ["string", "null"]
    assert vouchers["metadata__count"]["type"] == ["integer", "null"]
    with_count = [row for row in records["vouchers"] if row["metadata__count"] is not None]
    assert with_count
    for row in with_count:
        assert json.loads(row["metadata"])["count"] == row["metadata__count"]
    assert schemas["voucher_transactions"]["properties"]["details"]["type"] == ["string", "null"]
    details = [row["details"] for row in records["voucher_transactions"] if row["details"]]
    assert details
    assert all(isinstance(json.loads(text), dict) for text in details)


def test_without_flattening_the_open_objects_are_json_objects(
    emulator: Emulator, tmp_path: Path
) -> None:
    messages = run_sync(tap_config(emulator), tmp_path)
    [schema] = [
        m["schema"] for m in messages if m["type"] == "SCHEMA" and m["stream"] == "vouchers"
    ]
    assert schema["properties"]["metadata"] == {
        "type": ["object", "null"],
        "additionalProperties": True,
    }
    rows = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "vouchers"]
    assert any(isinstance(row["metadata"], dict) and row["metadata"] for row in rows)
