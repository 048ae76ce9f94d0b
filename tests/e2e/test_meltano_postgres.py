"""`meltano run tap-voucherify-exports target-postgres` against the emulator, over real HTTP.

Each scenario starts its own emulator (ports chosen by the OS) and its own meltano project (system
database, hence state, and PostgreSQL schema, dropped afterwards): one full sync read by the row,
type and value tests (`full_sync`), two runs with rows added in between read by the incremental
tests (`incremental`), and a vouchers-only run with `metadata` deselected. A seven-stream run takes
15-25 s here (31 export jobs, polled from 1 s), so the scenarios are shared, not repeated.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg import sql

from tests.support.e2e_data import (
    ACCEPTED_TYPES,
    INCREMENTAL_STREAMS,
    ROWS,
    STREAMS,
    TAP,
    after_filter,
    bookmarks,
    configure_tap,
    kind,
    parse_ts,
    truth_keys,
)
from tests.support.meltano import MeltanoProject
from tests.support.postgres import Postgres
from tests.support.postgres_runs import (
    JOB_LATENCY_SECONDS,
    LOADER,
    differing_cells,
    landed_rows,
    scenario,
    sync_ids,
    typed_truth,
    written_since,
)
from voucherify_emulator import Emulator
from voucherify_emulator.jobs import ExportJob

SDC_PREFIX = "_sdc_"


@dataclass
class Sync:
    project: MeltanoProject
    emu: Emulator
    pg: Postgres
    seconds: float


def meltano_run(project: MeltanoProject) -> float:
    """`meltano run` the tap into target-postgres; return how long it took."""
    started = time.monotonic()
    project.run("run", TAP, LOADER)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def full_sync(
    meltano_plugins: Path, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sync]:
    """Every stream synced once from a fresh emulator into a fresh schema."""
    tmp_path = tmp_path_factory.mktemp("full-sync")
    with scenario(meltano_plugins, postgres_dsn, tmp_path, seed=21) as (project, emu, pg):
        seconds = meltano_run(project)
        print(f"\nfirst full `meltano run` of seven streams: {seconds:.1f}s")
        yield Sync(project, emu, pg, seconds)


@pytest.fixture
def pg(meltano_project: MeltanoProject, postgres_dsn: str) -> Iterator[Postgres]:
    """The test's own PostgreSQL schema, dropped afterwards."""
    database = Postgres(postgres_dsn, meltano_project.target_postgres_schema)
    yield database
    database.drop_schema()


def data_columns(pg: Postgres, table: str) -> dict[str, tuple[str, str]]:
    """Columns of `table` less target-postgres' `_sdc_*` metadata columns."""
    return {
        name: types for name, types in pg.columns(table).items() if not name.startswith(SDC_PREFIX)
    }


@pytest.mark.parametrize("stream", STREAMS)
def test_every_row_lands_once(full_sync: Sync, stream: str) -> None:
    """The table holds exactly the emulator's rows: same primary keys, none twice."""
    assert stream in full_sync.pg.tables()
    landed = full_sync.pg.keys(stream)
    expected = truth_keys(full_sync.emu, stream)
    assert len(expected) == ROWS[STREAMS[stream].exported_object]

    duplicates = {key: n for key, n in Counter(landed).items() if n > 1}
    assert not duplicates, f"{stream}: keys landed more than once: {list(duplicates)[:5]}"
    assert not full_sync.pg.duplicate_keys(stream)
    missing = expected - set(landed)
    unexpected = set(landed) - expected
    assert not missing, f"{stream}: {len(missing)} rows missing, e.g. {sorted(missing)[:3]}"
    assert not unexpected, f"{stream}: {len(unexpected)} unknown rows: {sorted(unexpected)[:3]}"
    assert len(landed) == len(expected)


def test_only_the_seven_export_streams_and_bin_entries_are_tables(full_sync: Sync) -> None:
    assert full_sync.pg.tables() == {*STREAMS, "bin_entries"}


@pytest.mark.parametrize("stream", STREAMS)
def test_column_types(full_sync: Sync, stream: str) -> None:
    """Every exported field is a column of its type: timestamps, numerics, integers, booleans,
    jsonb metadata, an integer array for validity_day_of_week; nothing degraded to text."""
    columns = data_columns(full_sync.pg, stream)
    fields = set(full_sync.emu.ground_truth(STREAMS[stream].exported_object)[0])
    assert set(columns) == fields

    wrong = {
        column: types
        for column, types in columns.items()
        if types not in ACCEPTED_TYPES[kind(column)]
    }
    assert not wrong, f"{stream}: columns of the wrong type: {wrong}"


def test_observed_types_name_each_kind(full_sync: Sync) -> None:
    """Every kind of docs/types.md's type table occurs, so `test_column_types` checks each one."""
    kinds = {kind(column) for stream in STREAMS for column in data_columns(full_sync.pg, stream)}
    assert kinds == set(ACCEPTED_TYPES)


@pytest.mark.parametrize("stream", STREAMS)
def test_values_survive_typed(full_sync: Sync, stream: str) -> None:
    """Every cell of every row reads back from PostgreSQL as docs/types.md's typed value: amounts
    exactly as exported, timestamps at the same instant, metadata as the parsed object."""
    truth = typed_truth(full_sync.emu, stream)
    columns = list(next(iter(truth.values())))
    landed = landed_rows(full_sync.pg, stream, columns)
    mismatches = differing_cells(truth, landed, columns)
    assert not mismatches, f"{stream}: {len(mismatches)} cells differ, e.g. {mismatches[:5]}"


# Customers get none: their bookmark must still move (windows end when the sync begins).
ADDED_ROWS = {
    "voucher": 23,
    "redemption": 17,
    "publication": 11,
    "order": 7,
    "points_expiration": 5,
}


@dataclass
class IncrementalSyncs:
    """Two `meltano run`s with rows added in between, and what each left behind."""

    emu: Emulator
    pg: Postgres
    first_bookmarks: dict[str, str]
    second_bookmarks: dict[str, str]
    first_sync_ids: dict[str, set[object]]  # `_sdc_sync_started_at` values after the first run
    new_keys: dict[str, set[tuple[object, ...]]]  # keys of the rows added between the runs
    second_jobs: list[ExportJob]  # export jobs created during the second run
    second_downloads: set[str]  # ids of the exports the second run downloaded


@pytest.fixture(scope="module")
def incremental(
    meltano_plugins: Path, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IncrementalSyncs]:
    tmp_path = tmp_path_factory.mktemp("incremental")
    with scenario(meltano_plugins, postgres_dsn, tmp_path, seed=33) as (project, emu, pg):
        first_seconds = meltano_run(project)
        first_bookmarks = bookmarks(project.state())
        first_sync_ids = sync_ids(pg)

        keys_before = {stream: truth_keys(emu, stream) for stream in STREAMS}
        for exported_object, count in ADDED_ROWS.items():
            emu.add_rows(exported_object, count)
        new_keys = {stream: truth_keys(emu, stream) - keys_before[stream] for stream in STREAMS}

        jobs_before, requests_before = len(emu.exports), len(emu.requests)
        second_seconds = meltano_run(project)
        print(f"\nincremental: first run {first_seconds:.1f}s, second {second_seconds:.1f}s")
        downloads = {
            request.path.rsplit("/", 1)[-1]
            for request in emu.requests[requests_before:]
            if request.origin == "download" and request.method == "GET"
        }
        yield IncrementalSyncs(
            emu=emu,
            pg=pg,
            first_bookmarks=first_bookmarks,
            second_bookmarks=bookmarks(project.state()),
            first_sync_ids=first_sync_ids,
            new_keys=new_keys,
            second_jobs=emu.exports[jobs_before:],
            second_downloads=downloads,
        )


def test_incremental_setup(incremental: IncrementalSyncs) -> None:
    """The scenario is what the other tests assume: one sync id per table after the first run,
    bookmarks for the five incremental streams, the added rows are new keys."""
    assert all(len(ids) == 1 for ids in incremental.first_sync_ids.values())
    assert set(incremental.first_bookmarks) == set(INCREMENTAL_STREAMS)
    for stream, spec in STREAMS.items():
        assert len(incremental.new_keys[stream]) == ADDED_ROWS.get(spec.exported_object, 0)


def test_incremental_bookmarks_move_forward(incremental: IncrementalSyncs) -> None:
    """Meltano's stored state advanced for every incremental stream, customers (no new rows)
    included: windows run up to the time the sync began."""
    assert set(incremental.second_bookmarks) == set(INCREMENTAL_STREAMS)
    for stream in INCREMENTAL_STREAMS:
        before = parse_ts(incremental.first_bookmarks[stream])
        after = parse_ts(incremental.second_bookmarks[stream])
        assert after > before, f"{stream}: bookmark {before} -> {after}"


@pytest.mark.parametrize("stream", STREAMS)
def test_incremental_table_equals_ground_truth(incremental: IncrementalSyncs, stream: str) -> None:
    """After both runs the table holds every row, old and new, each primary key once."""
    pg = incremental.pg
    assert not pg.duplicate_keys(stream)
    landed = pg.keys(stream)
    assert len(landed) == len(set(landed))
    assert set(landed) == truth_keys(incremental.emu, stream)


@pytest.mark.parametrize("stream", STREAMS)
def test_incremental_run_writes_only_new_rows(incremental: IncrementalSyncs, stream: str) -> None:
    """The rows the second run wrote (inserted, or updated by target-postgres' upsert: their
    `_sdc_sync_started_at` changed) are exactly the new ones; FULL_TABLE points expirations are
    all written again."""
    written = written_since(incremental.pg, stream, incremental.first_sync_ids)
    expected = (
        incremental.new_keys[stream]
        if STREAMS[stream].replication_key
        else truth_keys(incremental.emu, stream)
    )
    assert written == expected, (
        f"{stream}: the second run wrote {len(written)} rows, expected {len(expected)}"
    )


def floor_ms(moment: dt.datetime) -> dt.datetime:
    return moment - dt.timedelta(microseconds=moment.microsecond % 1000)


def old_windows(incremental: IncrementalSyncs, jobs: list[ExportJob]) -> dict[str, list[str]]:
    """Per stream, the `$after` of `jobs` that start before the first run's bookmark, less the
    tap's documented one-millisecond edge overlap; incremental jobs without a filter count too."""
    early: dict[str, list[str]] = {}
    for stream in INCREMENTAL_STREAMS:
        lowest = floor_ms(parse_ts(incremental.first_bookmarks[stream])) - dt.timedelta(
            milliseconds=1
        )
        for job in jobs:
            if job.exported_object != STREAMS[stream].exported_object:
                continue
            after = after_filter(job.parameters)
            if after is None or after < lowest:
                early.setdefault(stream, []).append(str(after))
    return early


def test_incremental_run_downloads_only_new_windows(incremental: IncrementalSyncs) -> None:
    """Every export the second run downloaded starts at its stream's first bookmark, and between
    them they hold exactly the added rows (points expirations: one unfiltered full export)."""
    downloaded = [job for job in incremental.second_jobs if job.id in incremental.second_downloads]
    assert not old_windows(incremental, downloaded)
    for stream, spec in STREAMS.items():
        jobs = [job for job in downloaded if job.exported_object == spec.exported_object]
        assert jobs, f"{stream}: nothing downloaded in the second run"
        rows = sum(job.row_count or 0 for job in jobs)
        if spec.replication_key is None:
            assert [after_filter(job.parameters) for job in jobs] == [None]
            assert rows == len(truth_keys(incremental.emu, stream))
        else:
            assert rows == len(incremental.new_keys[stream]), stream


def test_incremental_run_creates_no_export_of_old_windows(incremental: IncrementalSyncs) -> None:
    """No export job created by the second run covers a window before its stream's bookmark."""
    assert not old_windows(incremental, incremental.second_jobs)


def test_deselected_column_is_neither_requested_nor_loaded(
    meltano_project: MeltanoProject, pg: Postgres
) -> None:
    """`select: [vouchers.*, !vouchers.metadata]` (the extractor's `select` extra, as meltano's
    TAP_VOUCHERIFY_EXPORTS__SELECT): no export asks for metadata and no column holds it."""
    with Emulator(seed=45, rows=ROWS, job_latency_seconds=JOB_LATENCY_SECONDS) as emu:
        configure_tap(meltano_project, emu)
        meltano_project.set_config(TAP, _select=["vouchers.*", "!vouchers.metadata"])
        assert meltano_project.env["TAP_VOUCHERIFY_EXPORTS__SELECT"]
        seconds = meltano_run(meltano_project)
        print(f"\nvouchers only, metadata deselected: {seconds:.1f}s")

        jobs = emu.exports
        assert jobs
        assert {job.exported_object for job in jobs} == {"voucher"}
        every_field = set(emu.ground_truth("voucher")[0])
        for job in jobs:
            assert set(job.parameters["fields"]) == every_field - {"metadata"}, job.parameters

        assert pg.tables() == {"vouchers"}
        columns = data_columns(pg, "vouchers")
        assert "metadata" not in columns
        assert set(columns) == every_field - {"metadata"}
        assert set(pg.keys("vouchers")) == truth_keys(emu, "vouchers")
        assert not pg.duplicate_keys("vouchers")


def test_timestamps_land_as_utc_without_time_zone_and_empty_metadata_as_json_null(
    full_sync: Sync,
) -> None:
    """What docs/loaders.md, "PostgreSQL", says target-postgres does with both."""
    columns = full_sync.pg.columns("vouchers")
    assert columns["created_at"][0] == "timestamp without time zone"
    assert columns["metadata"][0] == "jsonb"
    truth = full_sync.emu.ground_truth("voucher")
    empty = sum(1 for cells in truth if cells["metadata"] == "")
    assert empty, "the emulator should serve some empty metadata cells"
    table = sql.SQL("{}.{}").format(sql.Identifier(full_sync.pg.schema), sql.Identifier("vouchers"))
    [(sql_null, json_null, earliest)] = full_sync.pg.query(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE metadata IS NULL),"
            " count(*) FILTER (WHERE metadata = 'null'::jsonb), min(created_at) FROM {}"
        ).format(table)
    )
    assert (sql_null, json_null) == (0, empty)
    first = min(parse_ts(cells["created_at"]) for cells in truth)
    # Naive, read with the session in UTC: the instant in UTC with the offset dropped.
    assert earliest == first.replace(tzinfo=None)
