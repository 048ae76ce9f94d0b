"""A run SIGKILLed mid-sync (an OOM kill, an eviction, a lost VM), then the next run from the
last STATE it wrote: the CLI as a subprocess against the emulator, what is left on the emulator
counted through its own record of exports and requests."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import requests

from tap_voucherify_exports.export_stream import BACKFILL_STATE_KEY
from tap_voucherify_exports.jobs.ledger import STATE_KEY
from tests.support.cli import TapRun
from tests.support.emulator import create_export_as_someone_else, export_creates, on_nth_create
from voucherify_emulator import Emulator

END_DATE = "2025-01-02T00:00:00Z"  # the emulator's rows span 2021-2024


def earlier_run_lines(stderr: str) -> list[str]:
    return [
        line.split("| ", 3)[-1] for line in stderr.splitlines() if "an earlier run left" in line
    ]


def test_a_killed_runs_exports_are_deleted_by_the_next_run_and_no_other_export(
    tmp_path: Path,
) -> None:
    with Emulator(seed=9, rows={"customer": 40, "order": 40}, job_latency_seconds=0.05) as emu:
        foreign = create_export_as_someone_else(emu)
        # customers syncs whole (5 yearly windows, each export deleted after its rows), then the
        # first orders job never finishes while the next two, created ahead, become DONE:
        # downloadable files of customer data the killed run never got to.
        emu.inject("never_finish", times=1, exported_object="order")
        config = emu.tap_config(end_date=END_DATE, export_timeout=600, max_concurrent_exports=3)
        streams = {"customers", "orders"}

        def orders_waiting() -> bool:
            orders = [job for job in emu.exports if job.exported_object == "order"]
            return len(orders) == 3 and sum(job.status == "DONE" for job in orders) == 2

        first = TapRun(tmp_path, "first", config, streams)
        first.kill_when(orders_waiting)
        time.sleep(0.5)  # not needed by the tap: the STATE is written as an export is created
        left = [job for job in emu.exports if not job.deleted and job.id != foreign]
        states = first.states()
        emu.clear_faults()
        emu.clear_requests()

        second = TapRun(tmp_path, "second", config, streams, state=states[-1])
        status = second.finish()
        stderr = second.stderr()
        after = {job.id: job.deleted for job in emu.exports}
        foreign_requests = [r for r in emu.requests if foreign in r.path]

    # The kill left three orders exports on the account, two of them DONE; the last STATE the
    # killed run wrote lists each, though no window ended after they were created.
    assert len(left) == 3
    assert sorted(job.status for job in left) == ["DONE", "DONE", "IN_PROGRESS"]
    assert {job.id for job in left} <= set(states[-1][STATE_KEY])
    assert states[-1]["bookmarks"]["customers"]["replication_key_value"]
    assert not states[-1]["bookmarks"].get("orders", {}).get("replication_key_value")

    assert status == 0, stderr[-3000:]
    [line] = earlier_run_lines(stderr)
    listed = states[-1][STATE_KEY]
    assert line == (
        f"Deleted {len(listed)} exports an earlier run left on Voucherify: {', '.join(listed)}"
    )
    # Every export either run created is gone; the one made by someone else is untouched, and
    # the tap sent no request about it.
    assert all(deleted for export_id, deleted in after.items() if export_id != foreign)
    assert after[foreign] is False
    assert foreign_requests == []
    assert second.states()[-1][STATE_KEY] == []


def test_the_next_run_keeps_them_when_delete_exports_is_false_and_says_so_once(
    tmp_path: Path,
) -> None:
    with Emulator(seed=9, rows={"customer": 40}, job_latency_seconds=0.02) as emu:
        left = create_export_as_someone_else(emu)  # as if created by a killed run
        config = emu.tap_config(end_date=END_DATE, delete_exports=False)
        state = {"bookmarks": {}, STATE_KEY: [left]}
        second = TapRun(tmp_path, "second", config, {"customers"}, state=state)
        assert second.finish() == 0, second.stderr()[-3000:]
        third = TapRun(tmp_path, "third", config, {"customers"}, state=second.states()[-1])
        assert third.finish() == 0, third.stderr()[-3000:]
        deleted = {job.id: job.deleted for job in emu.exports}

    assert earlier_run_lines(second.stderr()) == [
        f"1 exports an earlier run left on Voucherify are kept because delete_exports is "
        f"false: {left}"
    ]
    assert deleted[left] is False
    assert second.states()[-1][STATE_KEY] == []
    assert earlier_run_lines(third.stderr()) == []


def test_an_export_already_gone_counts_as_deleted_and_a_state_entry_not_an_export_id_is_never_sent(
    tmp_path: Path,
) -> None:
    with Emulator(seed=9, rows={"customer": 40}, job_latency_seconds=0.02) as emu:
        gone, there = create_export_as_someone_else(emu), create_export_as_someone_else(emu)
        requests.delete(
            f"{emu.api_url}/v1/exports/{gone}",
            headers={"X-App-Id": emu.app_id, "X-App-Token": emu.app_token},
            timeout=10,
        ).raise_for_status()
        emu.clear_requests()
        config = emu.tap_config(end_date=END_DATE)
        state = {"bookmarks": {}, STATE_KEY: [gone, there, "../../customers/cust_1"]}
        run = TapRun(tmp_path, "run", config, {"customers"}, state=state)
        assert run.finish() == 0, run.stderr()[-3000:]
        deletes = [r.path for r in emu.requests if r.method == "DELETE"]
        deleted = {job.id: job.deleted for job in emu.exports}

    assert earlier_run_lines(run.stderr()) == [
        f"Deleted 2 exports an earlier run left on Voucherify: {gone}, {there}"
    ]
    assert deleted[there] is True
    assert "lists entries that are not export ids; they are ignored" in run.stderr()
    assert all(path.startswith("/v1/exports/exp_") for path in deletes)


def test_a_killed_backfill_resumes_in_backfill_sized_windows(tmp_path: Path) -> None:
    """4 years of redemptions, 365-day backfill windows, 30-day windows once backfilled: killed
    after its first window, the backfill resumes with 4 exports (the last of 2 days), not 37."""
    with Emulator(seed=9, rows={"redemption": 400}, job_latency_seconds=0.05) as emu:
        config = emu.tap_config(
            end_date=END_DATE, window_days=30, backfill_window_days=365, max_concurrent_exports=1
        )
        # The second window's export never finishes: the run is killed waiting for it.
        on_nth_create(
            emu, 2, lambda: emu.inject("never_finish", times=1, exported_object="redemption")
        )
        first = TapRun(tmp_path, "first", config, {"redemptions"})

        def first_window_done() -> bool:
            return export_creates(emu) >= 2 and any(
                s["bookmarks"].get("redemptions", {}).get("replication_key_value")
                for s in first.states()
            )

        first.kill_when(first_window_done)
        emu.clear_faults()
        killed_state = first.states()[-1]
        before = len(emu.exports)
        second = TapRun(tmp_path, "second", config, {"redemptions"}, state=killed_state)
        assert second.finish() == 0, second.stderr()[-3000:]
        resumed = emu.exports[before:]
        later = {**config, "end_date": "2025-03-03T00:00:00Z"}  # 60 days on
        third = TapRun(tmp_path, "third", later, {"redemptions"}, state=second.states()[-1])
        assert third.finish() == 0, third.stderr()[-3000:]
        incremental = emu.exports[before + len(resumed) :]

    mark = killed_state["bookmarks"]["redemptions"]
    assert mark["replication_key_value"] == "2022-01-01T00:00:00+00:00"
    assert mark[BACKFILL_STATE_KEY] is False
    spans = [window_days(job.parameters) for job in resumed]
    assert spans == [365, 365, 365, 2], spans
    assert second.states()[-1]["bookmarks"]["redemptions"][BACKFILL_STATE_KEY] is True
    # Once backfilled, the next run goes in 30-day windows.
    assert [window_days(job.parameters) for job in incremental] == [30, 30]


def window_days(parameters: dict[str, Any]) -> int:
    conditions = parameters["filters"]["created_at"]["conditions"]
    after = dt.datetime.fromisoformat(conditions["$after"][0].replace("Z", "+00:00"))
    before = dt.datetime.fromisoformat(conditions["$before"][0].replace("Z", "+00:00"))
    return round((before - after).total_seconds() / 86400)
