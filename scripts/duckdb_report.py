"""Check the demo's DuckDB file against the emulator: every row once, per table OK or MISMATCH.

    python scripts/duckdb_report.py snapshot output/demo.duckdb --emulator URL > before.json
    meltano run tap-voucherify-exports target-duckdb
    python scripts/duckdb_report.py report output/demo.duckdb --emulator URL --before before.json

`snapshot` records the row count of every table and the primary keys of every row the emulator
holds, read from its control endpoint (`GET URL/_emulator/ground-truth`), before the run.
`report` prints rows per table, what the run added, and the check: a table is OK when every
row the emulator held before the run is there, each primary key once, and nothing is there that
the emulator never held. Rows the emulator created while the run was going (`--grow-every`) may
or may not have been synced; they are counted, not required. Without `--before` the emulator's
rows now are all required. Exit status 1 when any table is a MISMATCH.

Used by `make demo` (scripts/demo.sh) and tests/e2e/test_meltano_duckdb.py; needs `duckdb`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.schemas import schema_for
from tap_voucherify_exports.streams import STREAM_TYPES

SCHEMA = "voucherify"
SAMPLE_ROWS = 5
EXAMPLES = 3
HTTP_TIMEOUT_SECONDS = 60
Key = tuple[str, ...]


@dataclass(frozen=True)
class StreamKey:
    """A stream's table name, exported object and primary key, from the tap's stream class."""

    name: str
    exported_object: str
    primary_key: tuple[str, ...]
    timestamps: frozenset[str]  # key columns the schema declares `date-time`

    def key_of(self, row: dict[str, str]) -> Key:
        """The normalised key of a ground-truth row (CSV cells); timestamps compare as instants."""
        return tuple(
            normalise(parse_timestamp(row[c]) if c in self.timestamps and row[c] else row[c])
            for c in self.primary_key
        )


def stream_keys() -> list[StreamKey]:
    """One `StreamKey` per stream of the tap, in the tap's order."""
    streams = []
    for stream in STREAM_TYPES:
        properties = schema_for(TABLES[stream.exported_object])["properties"]
        # Class attributes here (the SDK declares them as instance properties).
        name: str = stream.name  # type: ignore[misc]
        key: tuple[str, ...] = tuple(stream.primary_keys)  # type: ignore[arg-type]
        timestamps = frozenset(c for c in key if properties[c].get("format") == "date-time")
        streams.append(StreamKey(name, stream.exported_object, key, timestamps))
    return streams


STREAMS = stream_keys()


def quote(identifier: str) -> str:
    """Quote a SQL identifier for DuckDB."""
    return '"' + identifier.replace('"', '""') + '"'


def normalise(value: object) -> str:
    """A key cell as text: timestamps as UTC ISO 8601 (DuckDB's are naive UTC), else str()."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return aware.astimezone(dt.timezone.utc).isoformat()
    return "" if value is None else str(value)


def parse_timestamp(cell: str) -> dt.datetime:
    """An exported timestamp cell (`2022-03-09T09:16:32.521Z`)."""
    return dt.datetime.fromisoformat(cell.replace("Z", "+00:00"))


class Database:
    """Reads one schema of the DuckDB file."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, schema: str) -> None:
        self.connection = connection
        self.schema = schema

    def _table(self, table: str) -> str:
        # Identifiers come from information_schema or the tap's stream classes, and are quoted.
        return f"{quote(self.schema)}.{quote(table)}"

    def counts(self) -> dict[str, int]:
        """{table: row count} for every table of the schema."""
        tables = self.connection.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name",
            [self.schema],
        ).fetchall()
        counts: dict[str, int] = {}
        for (table,) in tables:
            row = self.connection.execute(f"SELECT count(*) FROM {self._table(table)}").fetchone()  # noqa: S608 - quoted identifiers
            counts[table] = row[0] if row else 0
        return counts

    def keys(self, table: str, key: tuple[str, ...]) -> list[Key]:
        """Every row's primary key, duplicates kept."""
        columns = ", ".join(quote(column) for column in key)
        rows = self.connection.execute(f"SELECT {columns} FROM {self._table(table)}").fetchall()  # noqa: S608 - quoted identifiers
        return [tuple(normalise(value) for value in row) for row in rows]

    def show_sample(self, table: str) -> None:
        query = f"SELECT * FROM {self._table(table)} LIMIT {SAMPLE_ROWS}"  # noqa: S608 - quoted identifiers
        print(f"\nSample: {query}")
        self.connection.sql(query).show(max_width=120)


def emulator_keys(emulator_url: str) -> dict[str, list[Key]]:
    """{stream: primary key of every row the emulator holds}, from its control endpoint;
    timestamp cells are compared as instants."""
    keys: dict[str, list[Key]] = {}
    with requests.Session() as session:
        for stream in STREAMS:
            response = session.get(
                f"{emulator_url.rstrip('/')}/_emulator/ground-truth",
                params={"exported_object": stream.exported_object},
                timeout=HTTP_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            keys[stream.name] = [stream.key_of(row) for row in response.json()]
    return keys


@dataclass
class Check:
    """One table against the emulator."""

    required: int  # rows the emulator held before the run
    missing: list[Key]
    duplicated: list[Key]
    unknown: list[Key]
    during_run: int  # landed rows the emulator created while the run went on

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.unknown)

    def verdict(self) -> str:
        if self.ok:
            return "OK"
        problems = [
            f"{len(keys)} {what}, e.g. {keys[:EXAMPLES]}"
            for what, keys in (
                ("missing", self.missing),
                ("duplicated", self.duplicated),
                ("not in the emulator", self.unknown),
            )
            if keys
        ]
        return "MISMATCH: " + "; ".join(problems)


def check(landed: list[Key], required: list[Key], held_now: list[Key]) -> Check:
    """Compare the keys in a table with the emulator's before (`required`) and after the run."""
    landed_set = set(landed)
    return Check(
        required=len(set(required)),
        missing=sorted(set(required) - landed_set),
        duplicated=sorted(key for key, n in Counter(landed).items() if n > 1),
        unknown=sorted(landed_set - set(held_now)),
        during_run=len(landed_set & (set(held_now) - set(required))),
    )


def report(database: Database, emulator_url: str, before: dict[str, Any]) -> bool:
    """Print the table, return whether every stream's table is OK."""
    counts = database.counts()
    truth_now = emulator_keys(emulator_url)
    truth_before = {
        stream: [tuple(key) for key in keys] for stream, keys in before.get("keys", {}).items()
    } or truth_now
    counts_before: dict[str, int] = before.get("counts", {})

    width = max(len(stream.name) for stream in STREAMS)
    print(f"{'table':<{width}}  {'rows':>7}  {'added':>7}  {'emulator':>8}  check")
    all_ok = True
    for stream in STREAMS:
        name = stream.name
        landed = database.keys(name, stream.primary_key) if name in counts else []
        result = check(landed, truth_before.get(name, []), truth_now[name])
        all_ok = all_ok and result.ok
        added = len(landed) - counts_before.get(name, 0)
        during = f" (+{result.during_run} created during the run)" if result.during_run else ""
        print(
            f"{name:<{width}}  {len(landed):>7}  {added:>+7}  {result.required:>8}  "
            f"{result.verdict()}{during}"
        )
    if counts:
        database.show_sample(max(counts, key=lambda table: counts[table]))
    print(
        "\nEvery table matches the emulator."
        if all_ok
        else "\nMISMATCH: the tables above differ from the emulator's rows."
    )
    # Said because it is true of this loader, not of the tap: the rows are versioned, the
    # loader does not act on the versions.
    print(
        "target-duckdb ignores ACTIVATE_VERSION: rows deleted in Voucherify (points expirations "
        "gone, vouchers, customers and orders after a full refresh) stay in this file; "
        "target-postgres removes them (docs/loaders.md)."
    )
    return all_ok


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["snapshot", "report"])
    parser.add_argument("database", type=Path)
    parser.add_argument("--emulator", required=True, help="emulator API origin (its api_url)")
    parser.add_argument("--schema", default=SCHEMA)
    parser.add_argument("--before", type=Path, help="JSON from an earlier `snapshot`")
    args = parser.parse_args(argv)

    try:
        if args.command == "snapshot":
            counts: dict[str, int] = {}
            if args.database.exists():  # none before the first run
                with duckdb.connect(str(args.database), read_only=True) as connection:
                    counts = Database(connection, args.schema).counts()
            print(json.dumps({"counts": counts, "keys": emulator_keys(args.emulator)}))
            return 0
        if not args.database.exists():
            print(f"{args.database} does not exist: the run loaded nothing.", file=sys.stderr)
            return 1
        before = json.loads(args.before.read_text()) if args.before else {}
        with duckdb.connect(str(args.database), read_only=True) as connection:
            return 0 if report(Database(connection, args.schema), args.emulator, before) else 1
    except requests.RequestException as error:
        print(
            f"Cannot read the emulator's ground truth at {args.emulator}: {error}", file=sys.stderr
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
