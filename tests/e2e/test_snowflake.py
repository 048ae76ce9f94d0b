"""What the tap's output becomes in Snowflake through target-snowflake, checked locally.

No local stand-in hosts target-snowflake's load path: under fakesnow 0.12 its first PUT fails
(``'@~/target-snowflake/<sync id>' does not start with @``; unquoted, ``Stage '<db>.<schema>.~'
does not exist``), and the MERGE/COPY that read the staged file and the REMOVE after it do not
parse there either (docs/loaders.md, "Snowflake"). So the tap runs against the emulator, as a
plain Singer tap (the executable meltano installed), and its output is checked against the
target installed beside it (``.meltano/loaders/target-snowflake``):

- every property of every SCHEMA message gets, from the target's own type mapping (what its
  CREATE TABLE and its MERGE's ``$1:<column>::<type>`` casts use), the type docs/loaders.md gives
  its kind, and none falls back to VARCHAR;
- every value of every RECORD fits that type without loss: amounts read back from a FLOAT (a
  64-bit double) as the same decimal, counts are integers within NUMBER(38,0), timestamps are
  UTC so TIMESTAMP_NTZ keeps the instant, metadata objects and day lists are JSON for VARIANT.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e_data import PLAIN_TAP_STREAMS, ROWS, TAP, kind, parse_ts, tap_settings
from tests.support.meltano import REPO_ROOT, base_env
from voucherify_emulator import Emulator

LOADER = "target-snowflake"
TYPES_SCRIPT = REPO_ROOT / "tests" / "support" / "snowflake_types.py"
RUN_TIMEOUT_SECONDS = 300
# One window per stream: the checks are about types and values, not windows.
WINDOW_DAYS = 3650

# docs/loaders.md's table: Snowflake type per kind of field, with the target's default settings.
SNOWFLAKE_TYPES = {
    "timestamp": "TIMESTAMP_NTZ",
    "date": "DATE",
    "amount": "FLOAT",
    "count": "DECIMAL",  # NUMBER(38,0)
    "boolean": "BOOLEAN",
    "object": "VARIANT",
    "integer-list": "VARIANT",
    "text": "VARCHAR",
}
NUMBER_38_LIMIT = 10**38


def run_ok(command: list[str], stdin: str | None = None) -> str:
    """Run `command` (a plugin's executable) in the test environment; its stdout, if it exits 0."""
    result = subprocess.run(
        command,
        input=stdin,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def tap_output(meltano_plugins: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Every message of one full sync of the six streams (numbers parsed as Decimal/int)."""
    tmp_path = tmp_path_factory.mktemp("snowflake")
    tap = meltano_plugins / "extractors" / TAP / "venv" / "bin" / TAP
    with Emulator(seed=64, rows=ROWS) as emu:
        config = tmp_path / "tap.json"
        config.write_text(json.dumps(tap_settings(emu) | {"window_days": WINDOW_DAYS}))
        stdout = run_ok([str(tap), "--config", str(config)])
    return [json.loads(line, parse_float=Decimal) for line in stdout.splitlines()]


def snowflake_types(
    meltano_plugins: Path, schemas: dict[str, Any], settings: dict[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """stream -> property -> Snowflake type, from target-snowflake's own connector."""
    python = meltano_plugins / "loaders" / LOADER / "venv" / "bin" / "python"
    command = [str(python), str(TYPES_SCRIPT), json.dumps(settings or {})]
    types: dict[str, dict[str, str]] = json.loads(run_ok(command, json.dumps(schemas)))
    return types


def schemas_of(messages: list[dict]) -> dict[str, Any]:
    # The export streams (bin_entries, an empty bin here, is not an export's CSV).
    return {
        m["stream"]: m["schema"]
        for m in messages
        if m["type"] == "SCHEMA" and m["stream"] in PLAIN_TAP_STREAMS
    }


def test_every_field_gets_its_snowflake_type(meltano_plugins: Path, tap_output: list[dict]) -> None:
    types = snowflake_types(meltano_plugins, schemas_of(tap_output))
    assert set(types) == set(PLAIN_TAP_STREAMS)
    wrong = {
        (stream, column): (sql_type, SNOWFLAKE_TYPES[kind(column)])
        for stream, columns in types.items()
        for column, sql_type in columns.items()
        if sql_type != SNOWFLAKE_TYPES[kind(column)]
    }
    assert not wrong, f"(stream, column): (mapped, expected): {wrong}"
    kinds = {kind(column) for columns in types.values() for column in columns}
    assert kinds == set(SNOWFLAKE_TYPES)


def test_timestamp_type_setting(meltano_plugins: Path, tap_output: list[dict]) -> None:
    """`timestamp_type: TIMESTAMP_TZ` changes the timestamps only (in docs/loaders.md)."""
    types = snowflake_types(
        meltano_plugins, schemas_of(tap_output), {"timestamp_type": "TIMESTAMP_TZ"}
    )
    for columns in types.values():
        for column, sql_type in columns.items():
            expected = SNOWFLAKE_TYPES[kind(column)]
            assert sql_type == ("TIMESTAMP_TZ" if expected == "TIMESTAMP_NTZ" else expected)


def survives_double(value: Decimal | int) -> bool:
    """Whether the nearest 64-bit double reads back as the same number (what FLOAT shows)."""
    return Decimal(repr(float(value))) == Decimal(value)


def is_utc_timestamp(value: str) -> bool:
    return value.endswith(("Z", "+00:00")) and parse_ts(value).utcoffset() == dt.timedelta(0)


FITS: dict[str, Any] = {
    "timestamp": lambda v: isinstance(v, str) and is_utc_timestamp(v),
    "date": lambda v: isinstance(v, str) and bool(dt.date.fromisoformat(v)),
    "amount": lambda v: isinstance(v, Decimal | int) and survives_double(v),
    "count": lambda v: isinstance(v, int) and abs(v) < NUMBER_38_LIMIT,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "integer-list": lambda v: isinstance(v, list) and all(isinstance(i, int) for i in v),
    "text": lambda v: isinstance(v, str),
}


def test_every_value_fits_its_snowflake_type(tap_output: list[dict]) -> None:
    records = [m for m in tap_output if m["type"] == "RECORD" and m["stream"] in PLAIN_TAP_STREAMS]
    assert len(records) == sum(ROWS[spec.exported_object] for spec in PLAIN_TAP_STREAMS.values())
    seen: dict[str, int] = defaultdict(int)
    misfits = []
    for message in records:
        for column, value in message["record"].items():
            if value is None:
                continue
            seen[kind(column)] += 1
            if not FITS[kind(column)](value):
                misfits.append((message["stream"], column, value))
    assert not misfits, f"{len(misfits)} values would change in Snowflake, e.g. {misfits[:5]}"
    assert set(seen) == set(FITS), "every kind of field occurs with a value"
