"""Shared by the `meltano run` → PostgreSQL scenario tests (test_meltano_postgres*.py): one
scenario's setup, and the reads that compare its tables with the emulator's ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.e2e_data import ROWS, STREAMS, configure_tap, expected_value
from tests.support.meltano import MeltanoProject, make_meltano_project
from tests.support.postgres import Postgres
from voucherify_emulator import Emulator

LOADER = "target-postgres"
# Half a second costs nothing (the tap's first status check is after 1 s) and keeps the create
# answer SCHEDULED, as on Voucherify; near-zero latencies let the emulator answer the create call
# itself with DONE and `result: null` on a loaded machine (handled by the tap since 5764f50).
JOB_LATENCY_SECONDS = 0.5
SYNC_ID = "_sdc_sync_started_at"  # target-postgres: when the run that wrote a row started

Key = tuple[object, ...]
Row = dict[str, Any]


@contextmanager
def scenario(
    meltano_plugins: Path, postgres_dsn: str, tmp_path: Path, seed: int, **tap_settings: object
) -> Iterator[tuple[MeltanoProject, Emulator, Postgres]]:
    """A meltano project in `tmp_path` whose target-postgres loads into a schema of its own
    (dropped when the scenario ends), its tap pointed at a fresh emulator of ROWS."""
    project = make_meltano_project(meltano_plugins, tmp_path)
    pg = Postgres(postgres_dsn, project.target_postgres_schema)
    with Emulator(seed=seed, rows=ROWS, job_latency_seconds=JOB_LATENCY_SECONDS) as emu:
        configure_tap(project, emu, **tap_settings)
        yield project, emu, pg
    pg.drop_schema()


def typed_truth(emu: Emulator, stream: str) -> dict[Key, Row]:
    """The emulator's current rows of `stream`, typed as PostgreSQL holds them, by key."""
    key = STREAMS[stream].primary_key
    rows = {}
    for cells in emu.ground_truth(STREAMS[stream].exported_object):
        typed = {column: expected_value(column, cell) for column, cell in cells.items()}
        rows[tuple(typed[k] for k in key)] = typed
    return rows


def landed_rows(pg: Postgres, stream: str, columns: list[str]) -> dict[Key, Row]:
    """`columns` of every row of the table, by key (a duplicate key keeps one of its rows)."""
    key = STREAMS[stream].primary_key
    rows = [dict(zip(columns, row, strict=True)) for row in pg.select(stream, columns)]
    return {tuple(row[k] for k in key): row for row in rows}


def differing_cells(
    truth: dict[Key, Row], landed: dict[Key, Row], columns: list[str]
) -> list[tuple[Key, str, object, object]]:
    """(key, column, landed value, true value) of every cell that differs; KeyError for a row
    of `truth` that did not land."""
    return [
        (k, column, landed[k][column], row[column])
        for k, row in truth.items()
        for column in columns
        if landed[k][column] != row[column]
    ]


def assert_table_is_the_truth(emu: Emulator, pg: Postgres, stream: str) -> None:
    """The stream's table holds the emulator's rows now, each key once, every cell typed alike."""
    truth = typed_truth(emu, stream)
    columns = list(next(iter(truth.values())))
    landed = landed_rows(pg, stream, columns)
    assert not pg.duplicate_keys(stream)
    assert landed.keys() == truth.keys(), (
        f"{stream}: missing {len(truth.keys() - landed.keys())}, "
        f"unexpected {len(landed.keys() - truth.keys())}"
    )
    differing = differing_cells(truth, landed, columns)
    assert not differing, f"{stream}: {len(differing)} cells differ, e.g. {differing[:3]}"


def sync_ids(pg: Postgres) -> dict[str, set[object]]:
    """Per stream, the SYNC_ID values in its table: which runs wrote its rows."""
    return {stream: {sync for (sync,) in pg.select(stream, [SYNC_ID])} for stream in STREAMS}


def written_since(pg: Postgres, stream: str, earlier: dict[str, set[object]]) -> set[Key]:
    """Keys of the rows a later run wrote (inserted, or updated by target-postgres' upsert):
    their SYNC_ID is none of `earlier`'s (`sync_ids` after the earlier runs)."""
    rows = pg.select(stream, [*STREAMS[stream].primary_key, SYNC_ID])
    return {row[:-1] for row in rows if row[-1] not in earlier[stream]}
