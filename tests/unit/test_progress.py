import logging

import pytest

from tap_voucherify_exports.jobs import progress
from tap_voucherify_exports.jobs.progress import DownloadProgress, JobWatch, StreamTotals


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_a_job_logs_each_status_change_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    watch = JobWatch("vouchers", "exp_1", "SCHEDULED", started=100.0)
    watch.observe("SCHEDULED", now=101.0)
    watch.observe("IN_PROGRESS", now=103.0)
    watch.observe("IN_PROGRESS", now=104.0)
    watch.observe("DONE", now=110.0)  # the exports log DONE themselves, with the wait
    assert messages(caplog) == ["vouchers: exp_1 is IN_PROGRESS after 3 s"]


def test_a_long_wait_logs_a_heartbeat_with_status_and_elapsed_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    watch = JobWatch("orders", "exp_2", "IN_PROGRESS", started=0.0)
    for now in range(0, 200, 5):
        watch.observe("IN_PROGRESS", now=float(now))
    assert messages(caplog) == [
        f"orders: exp_2 still IN_PROGRESS after {seconds} s, waiting for Voucherify to generate it"
        for seconds in (60, 120, 180)
    ]


def test_a_download_logs_a_running_total_every_interval_or_rows(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(progress, "DOWNLOAD_REPORT_ROWS", 1000)
    download = DownloadProgress("customers", "exp_3", started=0.0)
    download.update(500, 2_000_000, 8_000_000, now=1.0)  # neither threshold: silent
    download.update(1000, 4_000_000, 8_000_000, now=2.0)  # 1000 rows
    download.update(1500, 6_000_000, None, now=12.5)  # 10 s later
    download.update(1600, None, None, now=13.0)  # silent again
    assert messages(caplog) == [
        "customers: exp_3: 1000 rows so far, 500 rows/s, 4.0 MB of 8.0 MB (50 %)",
        "customers: exp_3: 1500 rows so far, 120 rows/s, 6.0 MB",
    ]


def test_the_stream_summary_says_rows_exports_and_where_the_time_went() -> None:
    totals = StreamTotals(exports=1, rows=20, waiting_seconds=2.04, downloading_seconds=0.3)
    assert totals.line("customers") == (
        "customers: 20 rows from 1 export; 2.0 s waiting for exports, "
        "0.3 s downloading and emitting"
    )
    assert "from 3 exports" in StreamTotals(exports=3).line("orders")


def test_the_stream_summary_counts_null_spellings_read_as_null_only_when_there_were_some() -> None:
    assert (
        StreamTotals(exports=1, rows=2, nulls=7)
        .line("orders")
        .endswith("; 7 cells spelled null/NULL in typed columns read as null")
    )
    assert "null" not in StreamTotals(exports=1, rows=2).line("orders")
