"""Changed rows end to end: `meltano run` into PostgreSQL, change the emulator, run again.

Between the two runs vouchers, customers and orders change (`update_rows`), every object gains
rows and some points expirations vanish. After the second run every table equals the emulator's
current ground truth, cell by cell (changed values, new rows, untouched rows intact, vanished
expirations deleted through ACTIVATE_VERSION with target-postgres' `hard_delete`), and the second
run exported only the windows since the first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e_data import (
    CHANGING_STREAMS,
    STREAMS,
    TAP,
    after_filter,
    parse_ts,
    window_key,
)
from tests.support.postgres import Postgres
from tests.support.postgres_runs import (
    LOADER,
    assert_table_is_the_truth,
    scenario,
    sync_ids,
    typed_truth,
    written_since,
)
from voucherify_emulator import Emulator
from voucherify_emulator.jobs import ExportJob

pytestmark = pytest.mark.e2e

UPDATED_ROWS = 15
ADDED_ROWS = 6
REMOVED_EXPIRATIONS = 8
WINDOW_DAYS = 365


def window_start(bookmark: str) -> dt.datetime:
    """Where a window from `bookmark` starts its `$after`: the millisecond below it, less the
    tap's one-millisecond edge overlap."""
    moment = parse_ts(bookmark)
    return moment - dt.timedelta(microseconds=moment.microsecond % 1000, milliseconds=1)


@dataclass
class ChangedSyncs:
    emu: Emulator
    pg: Postgres
    first_state: dict[str, Any]
    second_state: dict[str, Any]
    first_sync_ids: dict[str, set[object]]
    before: dict[str, dict[tuple[object, ...], dict[str, object]]]
    second_jobs: list[ExportJob]


def singer_bookmarks(state: dict[str, Any]) -> dict[str, Any]:
    return dict(state.get("singer_state", state).get("bookmarks", {}))


@pytest.fixture(scope="module")
def changed(
    meltano_plugins: Path, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChangedSyncs]:
    tmp_path = tmp_path_factory.mktemp("changes")
    runs = scenario(meltano_plugins, postgres_dsn, tmp_path, seed=55, window_days=WINDOW_DAYS)
    with runs as (project, emu, pg):
        project.set_config(LOADER, hard_delete=True)
        project.run("run", TAP, LOADER)
        first_state = singer_bookmarks(project.state())
        first_sync_ids = sync_ids(pg)
        before = {stream: typed_truth(emu, stream) for stream in STREAMS}

        for stream in CHANGING_STREAMS:
            assert emu.update_rows(STREAMS[stream].exported_object, UPDATED_ROWS) == UPDATED_ROWS
        for spec in STREAMS.values():
            emu.add_rows(spec.exported_object, ADDED_ROWS)
        assert emu.remove_rows("points_expiration", REMOVED_EXPIRATIONS) == REMOVED_EXPIRATIONS

        jobs_before = len(emu.exports)
        project.run("run", TAP, LOADER)
        yield ChangedSyncs(
            emu=emu,
            pg=pg,
            first_state=first_state,
            second_state=singer_bookmarks(project.state()),
            first_sync_ids=first_sync_ids,
            before=before,
            second_jobs=emu.exports[jobs_before:],
        )


@pytest.mark.parametrize("stream", STREAMS)
def test_after_changes_every_table_equals_the_current_ground_truth(
    changed: ChangedSyncs, stream: str
) -> None:
    """Every row once, every cell as the emulator holds it now."""
    assert_table_is_the_truth(changed.emu, changed.pg, stream)


def test_the_changes_were_real(changed: ChangedSyncs) -> None:
    """The scenario changed values, added rows and removed expirations, so the test above
    compares a changed ground truth."""
    for stream in CHANGING_STREAMS:
        now = typed_truth(changed.emu, stream)
        old = changed.before[stream]
        assert sum(now[k] != row for k, row in old.items()) == UPDATED_ROWS, stream
    expirations = typed_truth(changed.emu, "points_expirations")
    assert len(changed.before["points_expirations"].keys() - expirations.keys()) == (
        REMOVED_EXPIRATIONS
    )


@pytest.mark.parametrize("stream", STREAMS)
def test_the_second_run_wrote_only_new_and_changed_rows(changed: ChangedSyncs, stream: str) -> None:
    """Rows the second run wrote (their `_sdc_sync_started_at` moved) are the new and the
    changed ones; points expirations are all written again."""
    written = written_since(changed.pg, stream, changed.first_sync_ids)
    now = typed_truth(changed.emu, stream)
    old = changed.before[stream]
    if STREAMS[stream].replication_key is None:
        assert written == set(now)
        return
    expected = {k for k in now if k not in old or now[k] != old[k]}
    assert written == expected, f"{stream}: wrote {len(written)}, expected {len(expected)}"


def test_the_second_run_exported_only_windows_since_the_first(changed: ChangedSyncs) -> None:
    """Each windowed stream: `created_at` windows from its first-run bookmark, and for the
    changing ones `updated_at` windows from their change bookmark; nothing older."""
    for stream, spec in STREAMS.items():
        jobs = [job for job in changed.second_jobs if job.exported_object == spec.exported_object]
        if spec.replication_key is None:
            assert [after_filter(job.parameters) for job in jobs] == [None]
            continue
        mark = changed.first_state[stream]
        created_from = window_start(mark["replication_key_value"])
        by_key: dict[str | None, list[dt.datetime | None]] = {}
        for job in jobs:
            by_key.setdefault(window_key(job.parameters), []).append(after_filter(job.parameters))
        assert by_key["created_at"] == [created_from], stream
        if stream in CHANGING_STREAMS:
            changes_from = window_start(mark["changes"]["replication_key_value"])
            assert by_key["updated_at"] == [changes_from], stream
            assert set(by_key) == {"created_at", "updated_at"}
        else:
            assert set(by_key) == {"created_at"}, stream


def test_both_bookmarks_of_changing_streams_moved_forward_in_meltano_state(
    changed: ChangedSyncs,
) -> None:
    for stream in CHANGING_STREAMS:
        first, second = changed.first_state[stream], changed.second_state[stream]
        for cursor in (lambda m: m["replication_key_value"],
                       lambda m: m["changes"]["replication_key_value"]):  # fmt: skip
            assert parse_ts(cursor(second)) > parse_ts(cursor(first)), stream
        assert second["changes"]["replication_key"] == "updated_at"
