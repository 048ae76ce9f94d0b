"""Deletes end to end: `meltano run` into PostgreSQL, delete rows in the emulator (vouchers to the
bin and for good, customers, orders), make the refresh due, run again.

After the refresh, with target-postgres' `hard_delete` every table equals the emulator's current
ground truth; without it the deleted rows carry `_sdc_deleted_at` and the live ones do not, and
the live ones equal the ground truth.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tap_voucherify_exports.export_stream import REFRESH_STATE_KEY
from tests.support.e2e_data import CHANGING_STREAMS, STREAMS, TAP, truth_keys
from tests.support.meltano import MeltanoProject
from tests.support.postgres import Postgres
from tests.support.postgres_runs import LOADER, differing_cells, landed_rows, scenario, typed_truth
from voucherify_emulator import Emulator

pytestmark = pytest.mark.e2e

DELETED = {"voucher": 6, "customer": 5, "order": 5}
BINNED_VOUCHERS = 4
DELETED_AT = "_sdc_deleted_at"


@dataclass
class Refreshed:
    emu: Emulator
    pg: Postgres
    deleted: dict[str, set[tuple[object, ...]]]
    binned: set[str]  # the ids of the vouchers the emulator moved to its bin


def make_refresh_due(project: MeltanoProject) -> None:
    """Store the state as if every refresh in it began 8 days ago (`full_refresh_days` 7)."""
    stored = project.state()
    singer = stored.get("singer_state", stored)
    assert isinstance(singer, dict)
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
    # One created_at window per refresh (5 years in one export), so each run is a few exports.
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
        before = {stream: truth_keys(emu, stream) for stream in CHANGING_STREAMS}
        emu.remove_rows("voucher", BINNED_VOUCHERS, to_bin=True)
        for exported_object, count in DELETED.items():
            emu.remove_rows(exported_object, count)
        deleted = {s: before[s] - truth_keys(emu, s) for s in CHANGING_STREAMS}
        make_refresh_due(project)
        project.run("run", TAP, LOADER)
        binned = {entry.resource_id for entry in emu.trash_bin.entries()}
        yield Refreshed(emu, pg, deleted, binned)


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
