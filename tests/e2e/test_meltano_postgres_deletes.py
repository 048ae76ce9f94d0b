"""Deletes end to end: `meltano run` into PostgreSQL, delete rows in the emulator (vouchers to the
bin and for good, customers, orders), make the refresh due, run again: a run whose tap is
SIGKILLed partway through the refresh, then one that finishes it.

After the killed run nothing is marked deleted or gone, not even the deleted rows: the refresh
was not activated. The run after it goes on from the window the killed one reached, under the
same table version. After the refresh, with target-postgres' `hard_delete` every table equals
the emulator's current ground truth; without it the deleted rows carry `_sdc_deleted_at` and the
live ones do not, and the live ones equal the ground truth.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tap_voucherify_exports.export_stream import REFRESH_STATE_KEY
from tap_voucherify_exports.jobs.windows import Window
from tests.support.e2e_data import (
    CHANGING_STREAMS,
    STREAMS,
    TAP,
    export_window,
    parse_ts,
    truth_keys,
    window_key,
)
from tests.support.emulator import export_creates, list_calls, on_nth_create
from tests.support.meltano import MeltanoProject, kill_tap_when
from tests.support.postgres import Postgres
from tests.support.postgres_runs import (
    LOADER,
    Key,
    Row,
    differing_cells,
    landed_rows,
    scenario,
    typed_truth,
)
from voucherify_emulator import Emulator, ExportJob

pytestmark = pytest.mark.e2e

DELETED = {"voucher": 6, "customer": 5, "order": 5}
BINNED_VOUCHERS = 4
DELETED_AT = "_sdc_deleted_at"
VERSION = "_sdc_table_version"
# The refresh after the deletes goes in windows of this many days (2021 to now: 3 or more), so
# the tap can be killed between two of them: in the 1st stream the tap syncs, before any other
# stream's refresh begins.
REFRESH_WINDOW_DAYS = 730
KILLED, FRESH = "customers", "orders"


@dataclass
class Killed:
    """The run whose tap was SIGKILLed waiting for the 2nd window of KILLED's refresh, and
    what it left: the warehouse's rows (key, `_sdc_deleted_at`, `_sdc_table_version`) of every
    changing stream, and meltano's stored state."""

    status: int
    exports: list[ExportJob]
    rows: dict[str, dict[Key, Row]]
    state: dict[str, Any]


@dataclass
class Refreshed:
    emu: Emulator
    pg: Postgres
    loaded: dict[str, set[Key]]  # every key the first run loaded
    deleted: dict[str, set[Key]]
    binned: set[str]  # the ids of the vouchers the emulator moved to its bin
    killed: Killed
    resumed: list[ExportJob]  # the exports of the run that finished the refresh


def make_refresh_due(project: MeltanoProject) -> None:
    """Store the state as if every refresh in it began 8 days ago (`full_refresh_days` 7)."""
    singer = project.singer_state()
    then = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8)).isoformat()
    for stream in CHANGING_STREAMS:
        entry = singer["bookmarks"][stream]
        entry[REFRESH_STATE_KEY] = {**entry[REFRESH_STATE_KEY], "started_at": then}
    project.run("state", "set", "--force", project.state_id(), json.dumps({"singer_state": singer}))


@pytest.fixture(scope="module", params=[True, False], ids=["hard_delete", "soft_delete"])
def refreshed(
    request: pytest.FixtureRequest,
    meltano_plugins: Path,
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Refreshed]:
    tmp_path = tmp_path_factory.mktemp("deletes")
    # The first load in one created_at window per stream (5 years in one export): a few exports.
    runs = scenario(
        meltano_plugins, postgres_dsn, tmp_path, seed=23,
        full_refresh_days=7, backfill_window_days=3650, window_days=365,
    )  # fmt: skip
    with runs as (project, emu, pg):
        project.set_config(LOADER, hard_delete=request.param)
        project.env["TAP_VOUCHERIFY_EXPORTS__SELECT"] = json.dumps(
            [f"{stream}.*" for stream in (*CHANGING_STREAMS, "bin_entries")]
        )
        project.run("run", TAP, LOADER)
        loaded = {stream: truth_keys(emu, stream) for stream in CHANGING_STREAMS}
        emu.remove_rows("voucher", BINNED_VOUCHERS, to_bin=True)
        for exported_object, count in DELETED.items():
            emu.remove_rows(exported_object, count)
        deleted = {s: loaded[s] - truth_keys(emu, s) for s in CHANGING_STREAMS}
        make_refresh_due(project)
        project.set_config(TAP, backfill_window_days=REFRESH_WINDOW_DAYS)
        killed = kill_the_refresh(project, emu, pg, tmp_path)
        before = len(emu.exports)
        project.run("run", TAP, LOADER)
        binned = {entry.resource_id for entry in emu.trash_bin.entries()}
        yield Refreshed(emu, pg, loaded, deleted, binned, killed, emu.exports[before:])


def kill_the_refresh(
    project: MeltanoProject, emu: Emulator, pg: Postgres, tmp_path: Path
) -> Killed:
    """`meltano run` the refresh one export at a time, the 2nd window of KILLED never finishing;
    SIGKILL the tap waiting for it (the 1st window loaded, its STATE sent); what it left."""
    project.set_config(TAP, max_concurrent_exports=1)
    before = len(emu.exports)
    exported_object = STREAMS[KILLED].exported_object
    creates = export_creates(emu, exported_object)
    on_nth_create(
        emu, 2, lambda: emu.inject("never_finish", exported_object=exported_object), exported_object
    )
    counts = len(list_calls(emu, f"/v1/{KILLED}"))

    def waiting_for_the_2nd_window() -> bool:
        # The 1st window's count call (verify_counts) comes once its rows are written, and its
        # STATE right after the answer: half a second later (kill_tap_when) the tap is waiting.
        return (
            export_creates(emu, exported_object) >= creates + 2
            and len(list_calls(emu, f"/v1/{KILLED}")) > counts
        )

    run = project.start("run", TAP, LOADER, log=tmp_path / "killed.log")
    kill_tap_when(run, waiting_for_the_2nd_window)
    emu.clear_faults()
    del project.env["TAP_VOUCHERIFY_EXPORTS_MAX_CONCURRENT_EXPORTS"]  # back to the default, 3
    columns = {s: [*STREAMS[s].primary_key, DELETED_AT, VERSION] for s in CHANGING_STREAMS}
    return Killed(
        status=run.returncode,
        exports=emu.exports[before:],
        rows={s: landed_rows(pg, s, columns[s]) for s in CHANGING_STREAMS},
        state=project.singer_state(),
    )


@pytest.mark.parametrize("stream", CHANGING_STREAMS)
def test_after_a_refresh_the_live_rows_equal_the_ground_truth_and_deleted_ones_are_marked_or_gone(
    refreshed: Refreshed, stream: str, request: pytest.FixtureRequest
) -> None:
    hard = "hard_delete" in request.node.callspec.id
    expected = DELETED[STREAMS[stream].exported_object]
    expected += BINNED_VOUCHERS if stream == "vouchers" else 0
    assert len(refreshed.deleted[stream]) == expected
    truth = typed_truth(refreshed.emu, stream)
    columns = [*next(iter(truth.values())), DELETED_AT]
    landed = landed_rows(refreshed.pg, stream, columns)
    live = {key: row for key, row in landed.items() if row[DELETED_AT] is None}
    marked = {key for key, row in landed.items() if row[DELETED_AT] is not None}
    assert not refreshed.pg.duplicate_keys(stream)
    assert live.keys() == truth.keys()
    assert not differing_cells(truth, live, columns[:-1])
    assert marked == (set() if hard else refreshed.deleted[stream])


def test_the_run_after_vouchers_went_to_the_bin_loads_them_into_bin_entries(
    refreshed: Refreshed,
) -> None:
    # The bin is read every run (GET /v1/trash-bin): the very next run names the binned vouchers
    # (who and when), whatever the full refresh does with their rows.
    assert len(refreshed.binned) == BINNED_VOUCHERS
    rows = refreshed.pg.select("bin_entries", ["resource_type", "resource_id"])
    assert {resource_id for _, resource_id in rows} == refreshed.binned
    assert {resource_type for resource_type, _ in rows} == {"voucher"}


def test_a_refresh_killed_partway_marks_nothing_deleted_and_loses_no_row(
    refreshed: Refreshed,
) -> None:
    killed = refreshed.killed
    assert killed.status != 0  # meltano says the extractor failed
    exported_object = STREAMS[KILLED].exported_object
    assert [job.exported_object for job in killed.exports] == [exported_object] * 2
    refresh = killed.state["bookmarks"][KILLED][REFRESH_STATE_KEY]
    assert refresh["complete"] is False
    for stream in CHANGING_STREAMS:
        rows = killed.rows[stream]
        # Every row of the first load is still there, the deleted ones too, none marked: the
        # refresh's ACTIVATE_VERSION was not sent, with hard_delete or without.
        assert rows.keys() == refreshed.loaded[stream], stream
        assert not [key for key, row in rows.items() if row[DELETED_AT] is not None], stream
    # The refresh was partway: the 1st window's live rows carry its new version, not all.
    new = {key for key, row in killed.rows[KILLED].items() if row[VERSION] == refresh["version"]}
    live = truth_keys(refreshed.emu, KILLED)
    assert new
    assert new < live


def test_the_run_after_the_kill_goes_on_from_the_window_the_killed_refresh_reached(
    refreshed: Refreshed,
) -> None:
    killed = refreshed.killed
    refresh = killed.state["bookmarks"][KILLED][REFRESH_STATE_KEY]
    reached = parse_ts(refresh["replication_key_value"])

    def refresh_windows(exported_object: str) -> list[Window]:
        """The `created_at` windows of the run after the kill, its refresh's, oldest first (up
        to 3 exports are created at once, not always in window order)."""
        windows = [
            window
            for job in refreshed.resumed
            if job.exported_object == exported_object
            and window_key(job.parameters) == "created_at"
            and (window := export_window(job.parameters)) is not None
        ]
        return sorted(windows, key=lambda window: window.start)

    resumed = refresh_windows(STREAMS[KILLED].exported_object)
    # FRESH's refresh had not begun when the tap was killed: all of it is this run's.
    assert len(resumed) == len(refresh_windows(STREAMS[FRESH].exported_object)) - 1
    assert resumed[0].start == reached
    # The same refresh finished, under the version the killed run began: every live row
    # carries it.
    versions = refreshed.pg.select(KILLED, [VERSION, DELETED_AT])
    assert {version for version, deleted_at in versions if deleted_at is None} == {
        refresh["version"]
    }
