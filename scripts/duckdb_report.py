"""Summarise the demo's DuckDB file: rows per table, what the last run added, and a sample.

    python scripts/duckdb_report.py counts output/demo.duckdb > before.json
    python scripts/duckdb_report.py report output/demo.duckdb --before before.json

Used by `make demo` (scripts/demo.sh); needs the `duckdb` package.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb

SCHEMA = "voucherify"
SAMPLE_ROWS = 5


def quote(identifier: str) -> str:
    """Quote a SQL identifier for DuckDB."""
    return '"' + identifier.replace('"', '""') + '"'


def table_counts(connection: duckdb.DuckDBPyConnection, schema: str) -> dict[str, int]:
    """Return {table: row count} for every table of `schema`."""
    tables = connection.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name",
        [schema],
    ).fetchall()
    counts: dict[str, int] = {}
    for (table,) in tables:
        # Identifiers come from information_schema and are quoted; no user input reaches the SQL.
        query = f"SELECT count(*) FROM {quote(schema)}.{quote(table)}"  # noqa: S608
        row = connection.execute(query).fetchone()
        counts[table] = row[0] if row else 0
    return counts


def print_report(
    connection: duckdb.DuckDBPyConnection, schema: str, before: dict[str, int]
) -> None:
    """Print rows per table (and the change since `before`), then a few rows of the largest."""
    counts = table_counts(connection, schema)
    if not counts:
        print(f"No tables in schema {schema!r}.")
        return
    width = max(len(table) for table in counts)
    print(f"{'table':<{width}}  {'rows':>9}  {'added by this run':>17}")
    for table, count in counts.items():
        added = count - before.get(table, 0)
        print(f"{table:<{width}}  {count:>9}  {added:>+17}")

    largest = max(counts, key=lambda table: counts[table])
    query = f"SELECT * FROM {quote(schema)}.{quote(largest)} LIMIT {SAMPLE_ROWS}"  # noqa: S608
    print(f"\nSample: {query}")
    connection.sql(query).show(max_width=120)


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["counts", "report"])
    parser.add_argument("database", type=Path)
    parser.add_argument("--schema", default=SCHEMA)
    parser.add_argument("--before", type=Path, help="JSON from an earlier `counts`")
    args = parser.parse_args(argv)

    if not args.database.exists():
        if args.command == "counts":
            print("{}")
            return 0
        print(f"{args.database} does not exist: the run loaded nothing.", file=sys.stderr)
        return 1

    with duckdb.connect(str(args.database), read_only=True) as connection:
        if args.command == "counts":
            print(json.dumps(table_counts(connection, args.schema)))
        else:
            before = json.loads(args.before.read_text()) if args.before else {}
            print_report(connection, args.schema, before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
