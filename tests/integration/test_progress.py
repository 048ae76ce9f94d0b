"""Progress on stderr over real HTTP: job status and heartbeat while waiting (with the list
poller), running totals while downloading, and the per-stream summary; then the same through the
CLI at the default level."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tap_voucherify_exports.jobs import progress
from tests.support.cli import run_tap
from tests.support.emulator import tap_config
from tests.support.sync import run_sync
from voucherify_emulator import Emulator


def test_waits_and_downloads_report_progress(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.5)
    monkeypatch.setattr(progress, "DOWNLOAD_REPORT_ROWS", 300)
    monkeypatch.setattr(progress, "DOWNLOAD_CHECK_ROWS", 100)
    caplog.set_level(logging.INFO, logger="tap_voucherify_exports")
    with Emulator(seed=2, rows={"voucher": 1000, "customer": 50}, job_latency_seconds=3) as emu:
        config = tap_config(emu, window_days=3650, poll_interval_max=0.2)
        run_sync(config, streams={"vouchers", "customers"})
    lines = [record.getMessage() for record in caplog.records]
    # Two jobs in flight at once: the list poller sees both; each logs its own change.
    changes = [line for line in lines if re.search(r"exp_\w+ is IN_PROGRESS after \d s$", line)]
    assert len(changes) == 2
    assert [line for line in lines if re.search(r"still IN_PROGRESS after \d s, waiting", line)]
    totals = [line for line in lines if line.startswith("vouchers: exp_") and "so far" in line]
    assert [int(line.split(": ")[2].split()[0]) for line in totals] == [300, 600, 900]
    assert re.search(r"rows/s, [\d.]+ MB of [\d.]+ MB \(\d+ %\)$", totals[0])
    assert "vouchers: 1000 rows from 1 export; " in "\n".join(lines)
    assert "customers: 50 rows from 1 export; " in "\n".join(lines)


def test_the_cli_reports_status_changes_and_a_summary_per_stream(tmp_path: Path) -> None:
    with Emulator(seed=2, rows={"voucher": 30}, job_latency_seconds=2) as emu:
        result = run_tap(emu.tap_config(window_days=3650), tmp_path)
    assert result.returncode == 0, result.stderr
    info = [line.split("| ", 3)[-1] for line in result.stderr.splitlines() if "| INFO" in line]
    assert [
        line for line in info if re.fullmatch(r"vouchers: exp_\w+ is IN_PROGRESS after \d s", line)
    ]
    [summary] = [line for line in info if line.startswith("vouchers: 30 rows from 1 export; ")]
    assert re.fullmatch(
        r"vouchers: 30 rows from 1 export; [\d.]+ s waiting for exports, "
        r"[\d.]+ s downloading and emitting",
        summary,
    )
    assert "| ERROR" not in result.stderr
