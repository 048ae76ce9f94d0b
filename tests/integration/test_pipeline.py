"""Overlapping export jobs keep the sequential run's output and state guarantees."""

from __future__ import annotations

import pytest

from tests.support.emulator import tap_config
from tests.support.sync import run_sync, without_ledger
from voucherify_emulator import Emulator

ROWS = {"voucher": 300, "customer": 200, "redemption": 200}
STREAMS = {"vouchers", "customers", "redemptions"}


def comparable(messages: list[dict]) -> list[dict]:
    """RECORD and STATE messages in order, without the extraction timestamps and the ledger of
    exports (their ids, and when each is created, differ from run to run)."""
    return [
        {k: v for k, v in m.items() if k != "time_extracted"}
        for m in without_ledger(messages)
        if m["type"] in {"RECORD", "STATE"}
    ]


def test_overlapped_run_writes_exactly_what_a_sequential_run_writes():
    with Emulator(seed=9, rows=ROWS, job_latency_seconds=0.2) as emu:
        config = tap_config(
            emu, end_date="2026-06-01T00:00:00Z", window_days=400, full_refresh_days=0
        )
        sequential = run_sync({**config, "max_concurrent_exports": 1}, streams=STREAMS)
        overlapped = run_sync({**config, "max_concurrent_exports": 4}, streams=STREAMS)
    assert comparable(overlapped) == comparable(sequential)
    assert len(comparable(sequential)) > 700


def test_jobs_of_later_windows_and_streams_are_created_before_the_first_is_downloaded():
    with Emulator(seed=9, rows=ROWS, job_latency_seconds=0.3) as emu:
        run_sync(tap_config(emu, window_days=400, max_concurrent_exports=3), streams=STREAMS)
        order = [(r.method, r.origin) for r in emu.requests if not r.path.startswith("/_")]
    first_download = order.index(("GET", "download"))
    creates_before = order[:first_download].count(("POST", "api"))
    assert creates_before == 3


@pytest.mark.parametrize("delete_exports", [True, False])
def test_a_failed_run_deletes_the_jobs_it_abandoned_when_asked(delete_exports):
    with Emulator(seed=9, rows=ROWS, job_latency_seconds=0.2) as emu:
        emu.inject("malformed_row", kind="cell_count")
        config = tap_config(
            emu, window_days=400, max_concurrent_exports=3, delete_exports=delete_exports
        )
        with pytest.raises(Exception, match="line"):
            run_sync(config, streams=STREAMS)
        created = [r for r in emu.requests if r.method == "POST" and r.path == "/v1/exports"]
        deleted = [r for r in emu.requests if r.method == "DELETE"]
    assert len(created) >= 2
    assert len(deleted) == (len(created) if delete_exports else 0)
