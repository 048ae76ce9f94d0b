"""Completeness end to end: `meltano run` into PostgreSQL with one window's export short (the
emulator's `short_export`: the file lacks the window's last rows and says nothing).

With `verify_counts: fail` the run fails: meltano exits non-zero and its output carries the
tap's error naming the stream, the window and both counts; the warehouse holds the windows before
the short one, meltano's stored bookmark stays before it, and the next run, the fault gone,
exports it again: the warehouse equals the ground truth. That next run is in `warn` mode and
syncs customers for the first time, their first export short: the run succeeds, one warning
names both counts, the end-of-run summary says `1 differed`, and the rows are missing (warn
mode reports and goes on). The run after compares that window again (it is in the state's
`counts_left_open`), finds it still short of the list's count, exports it again: the customers
table equals the ground truth.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tap_voucherify_exports.jobs.windows import Window
from tests.support.e2e_data import TAP, export_window, truth_keys
from tests.support.emulator import on_nth_create
from tests.support.meltano import MeltanoProject
from tests.support.postgres import Postgres
from tests.support.postgres_runs import LOADER, Key, assert_table_is_the_truth, scenario
from voucherify_emulator import Emulator

pytestmark = pytest.mark.e2e

# The rows span 2021-2024: ending there, every window is closed, so every one is counted (a
# window ending less than 5 minutes before now is not); yearly windows, 5 of them.
END_DATE = "2025-01-02T00:00:00Z"
SHORT = 3  # rows the vouchers' 2nd export lacks in the failing run
WARNED = 2  # rows the customers' 1st export lacks in the next run


@dataclass
class Counted:
    emu: Emulator
    pg: Postgres
    failed: subprocess.CompletedProcess[str]
    short_window: Window  # the vouchers' window whose export was short
    first_window: Window  # the vouchers' window before it
    landed_after_failure: set[Key]  # the vouchers' keys in PostgreSQL after the failed run
    state_after_failure: dict[str, Any]  # meltano's stored singer state after the failed run
    next_run: subprocess.CompletedProcess[str]
    warned_window: Window  # the customers' window whose export was short in the next run
    customers_after_warning: set[Key]  # the customers' keys in PostgreSQL after that run
    third_run: subprocess.CompletedProcess[str]
    exported_again: list[Window]  # the customers' windows the third run exported


def select(project: MeltanoProject, *streams: str) -> None:
    project.set_config(TAP, _select=[f"{stream}.*" for stream in streams])


def windows(emu: Emulator, exported_object: str, since: int = 0) -> list[Window]:
    """The windows of the exports of `exported_object` from the `since`-th export on, in the
    order they were created."""
    return [
        window
        for job in emu.exports[since:]
        if job.exported_object == exported_object
        and (window := export_window(job.parameters)) is not None
    ]


@pytest.fixture(scope="module")
def counted(
    meltano_plugins: Path, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Counted]:
    tmp_path = tmp_path_factory.mktemp("counts")
    # One export at a time: the n-th voucher export is the n-th window.
    runs = scenario(
        meltano_plugins, postgres_dsn, tmp_path, seed=29,
        end_date=END_DATE, max_concurrent_exports=1, verify_counts="fail",
    )  # fmt: skip
    with runs as (project, emu, pg):
        select(project, "vouchers")
        on_nth_create(
            emu, 2, lambda: emu.inject("short_export", exported_object="voucher", rows=SHORT),
            "voucher",
        )  # fmt: skip
        failed = project.run("run", TAP, LOADER, check=False)
        # The pipeline may have created the 3rd export before the 2nd was counted.
        first, short = windows(emu, "voucher")[:2]
        landed = set(pg.keys("vouchers"))
        stored = project.singer_state()

        select(project, "vouchers", "customers")
        project.set_config(TAP, verify_counts="warn", max_concurrent_exports=3)
        # The first customer export to arrive is short: with 3 at once, not always the 1st
        # window's, so the window is read from the emulator.
        emu.inject("short_export", exported_object="customer", rows=WARNED)
        exports_before = len(emu.exports)
        next_run = project.run("run", TAP, LOADER)
        warned = windows(emu, "customer", exports_before)[0]
        customers = set(pg.keys("customers"))

        exports_before = len(emu.exports)
        third = project.run("run", TAP, LOADER)
        again = windows(emu, "customer", exports_before)
        yield Counted(
            emu, pg, failed, short, first, landed, stored, next_run, warned, customers, third,
            again,
        )  # fmt: skip


def output_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Every line meltano printed (its own, and the tap's and the target's it relays)."""
    return (result.stdout + result.stderr).splitlines()


def window_keys(emu: Emulator, exported_object: str, window: Window) -> set[Key]:
    """The ids of the emulator's rows in `window`, as PostgreSQL keys."""
    return {(row["id"],) for row in emu.ground_truth(exported_object, *window.bounds())}


def test_a_short_export_fails_the_meltano_run_naming_the_stream_its_window_and_both_counts(
    counted: Counted,
) -> None:
    assert counted.failed.returncode != 0
    expected = len(window_keys(counted.emu, "voucher", counted.short_window))
    message = (
        f"vouchers: created_at window {counted.short_window}: the export delivered "
        f"{expected - SHORT} rows, GET /v1/vouchers counts {expected} for the same bounds "
        f"({SHORT} missing from the export); first keys to check: "
    )
    said = [line for line in output_lines(counted.failed) if message in line]
    assert len(said) == 1, "\n".join(output_lines(counted.failed)[-30:])
    assert said[0].rstrip().endswith("(listed, not in the export); verify_counts is fail.")
    # meltano relays it as the tap's error: `… [error    ] tap-voucherify-exports vouchers: …`
    assert "[error" in said[0]
    assert "tap-voucherify-exports" in said[0]


def test_the_failed_run_keeps_the_windows_before_the_short_one_and_its_bookmark_before_it(
    counted: Counted,
) -> None:
    first = counted.first_window
    assert counted.short_window.start == first.end
    bookmark = counted.state_after_failure["bookmarks"]["vouchers"]["replication_key_value"]
    assert bookmark == first.end.isoformat()
    assert window_keys(counted.emu, "voucher", first) <= counted.landed_after_failure
    assert counted.landed_after_failure <= truth_keys(counted.emu, "vouchers")


def test_the_next_run_exports_the_short_window_again_and_the_warehouse_equals_the_truth(
    counted: Counted,
) -> None:
    assert_table_is_the_truth(counted.emu, counted.pg, "vouchers")
    # The 4 windows from the short one on, each counted again, each matching.
    assert (
        "vouchers: row counts of 4 windows verified against GET /v1/vouchers: 4 matched, 0 differed"
    ) in "\n".join(output_lines(counted.next_run))


def test_in_warn_mode_a_short_export_is_one_warning_the_run_goes_on_and_says_1_differed(
    counted: Counted,
) -> None:
    lines = output_lines(counted.next_run)
    expected = len(window_keys(counted.emu, "customer", counted.warned_window))
    warned = [line for line in lines if "GET /v1/customers counts" in line]
    assert len(warned) == 1, warned
    assert (
        f"customers: created_at window {counted.warned_window}: the export delivered "
        f"{expected - WARNED} rows, GET /v1/customers counts {expected} for the same bounds "
        f"({WARNED} missing from the export)"
    ) in warned[0]
    summary = [line for line in lines if "customers: row counts of" in line]
    assert len(summary) == 1, summary
    assert (
        "customers: row counts of 5 windows verified against GET /v1/customers: 4 matched, "
        "1 differed"
    ) in summary[0]
    # Warn mode reports and goes on: the window's missing rows are not in the warehouse yet.
    missing = truth_keys(counted.emu, "customers") - counted.customers_after_warning
    assert len(missing) == WARNED
    assert missing <= window_keys(counted.emu, "customer", counted.warned_window)


def test_the_run_after_the_warning_exports_the_short_window_again_and_the_rows_arrive(
    counted: Counted,
) -> None:
    assert counted.third_run.returncode == 0
    assert counted.exported_again == [counted.warned_window]
    assert "this run exports the window again." in "\n".join(output_lines(counted.third_run))
    assert_table_is_the_truth(counted.emu, counted.pg, "customers")
