"""Completeness (docs/reliability.md#completeness): each closed window's rows against the list
endpoint's `total` for the same bounds, over real HTTP against the emulator, through the CLI."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from tap_voucherify_exports import session
from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.jobs.windows import Window
from tests.support.cli import error_lines, run_tap
from tests.support.e2e_data import export_window
from tests.support.emulator import base_config, busiest_span, list_calls, on_nth_create
from tests.support.sync import catalog_for, records, run_sync, states
from voucherify_emulator import Emulator

pytestmark = pytest.mark.integration

COUNTED = {"vouchers", "customers", "redemptions"}


def info_lines(stderr: str) -> list[str]:
    return [line.split("| ", 3)[-1] for line in stderr.splitlines() if "| INFO" in line]


def warning_lines(stderr: str) -> list[str]:
    return [line.split("| ", 3)[-1] for line in stderr.splitlines() if "| WARNING" in line]


def run(emu: Emulator, tmp_path: Path, streams: set[str], **overrides: object):
    config = base_config(emu, max_concurrent_exports=1, **overrides)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, streams)))
    return run_tap(config, tmp_path, "--catalog", str(catalog))


def voucher_windows(emu: Emulator) -> list[Window]:
    """The windows of the voucher exports the run created, in order."""
    windows = [export_window(e.parameters) for e in emu.exports if e.exported_object == "voucher"]
    return [window for window in windows if window is not None]


def test_every_closed_window_is_counted_once_and_matches_and_the_summary_says_so(
    emulator: Emulator, tmp_path: Path
) -> None:
    result = run(emulator, tmp_path, {*COUNTED, "publications", "orders"})
    assert result.returncode == 0, result.stderr
    windows = voucher_windows(emulator)
    assert len(windows) == 5  # yearly backfill windows over 2021-01-01 .. 2025-01-02
    calls = list_calls(emulator, "/v1/vouchers")
    # One call with limit=1 per window, with the export's own bounds.
    assert [call.query for call in calls] == [
        {
            "limit": ["1"],
            "created_at[after]": [window.bounds()[0]],
            "created_at[before]": [window.bounds()[1]],
        }
        for window in windows
    ]
    summary = info_lines(result.stderr)
    for stream, path in [("vouchers", "/v1/vouchers"), ("customers", "/v1/customers"),
                         ("redemptions", "/v1/redemptions")]:  # fmt: skip
        assert (
            f"{stream}: row counts of 5 windows verified against GET {path}: 5 matched, 0 differed"
        ) in summary
    assert (
        "publications: row counts not verified: GET /v1/publications has no created_at filter "
        "(publications.json)"
    ) in summary
    assert "orders: row counts not verified: GET /v1/orders takes no date filter (orders.json)" in (
        summary
    )
    assert not [line for line in warning_lines(result.stderr) if "counts" in line]
    assert list_calls(emulator, "/v1/publications") == list_calls(emulator, "/v1/orders") == []


def test_a_short_export_is_one_warning_with_its_window_and_both_counts(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.inject("short_export", exported_object="voucher", rows=2)
    result = run(emulator, tmp_path, {"vouchers"})
    assert result.returncode == 0, result.stderr
    first = voucher_windows(emulator)[0]
    expected = len(emulator.ground_truth("voucher", *first.bounds()))
    warned = [line for line in warning_lines(result.stderr) if "GET /v1/vouchers" in line]
    assert warned == [
        f"vouchers: created_at window {first}: the export delivered {expected - 2} rows, "
        f"GET /v1/vouchers counts {expected} for the same bounds (2 missing from the export)"
    ]
    assert (
        "vouchers: row counts of 5 windows verified against GET /v1/vouchers: 4 matched, 1 differed"
    ) in info_lines(result.stderr)


def test_a_short_export_fails_the_run_in_fail_mode_and_the_bookmark_stays_before_its_window(
    emulator: Emulator, tmp_path: Path
) -> None:
    on_nth_create(emulator, 2, lambda: emulator.inject("short_export", rows=3))
    result = run(emulator, tmp_path, {"vouchers"}, verify_counts="fail")
    assert result.returncode == 1
    first, second = voucher_windows(emulator)[:2]
    expected = len(emulator.ground_truth("voucher", *second.bounds()))
    assert error_lines(result.stderr)[0] == (
        f"vouchers: created_at window {second}: the export delivered {expected - 3} rows, "
        f"GET /v1/vouchers counts {expected} for the same bounds (3 missing from the export); "
        "verify_counts is fail."
    )
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    last = states(messages)[-1]["bookmarks"]["vouchers"]
    assert last["replication_key_value"] == first.end.isoformat()


def test_counts_are_off_with_verify_counts_off(emulator: Emulator, tmp_path: Path) -> None:
    emulator.inject("short_export", exported_object="voucher", rows=2)
    result = run(emulator, tmp_path, {"vouchers"}, verify_counts="off")
    assert result.returncode == 0, result.stderr
    assert list_calls(emulator, "/v1/vouchers") == []
    assert not [line for line in info_lines(result.stderr) if "row counts" in line]


# The rate gate's minute stands for WINDOW seconds (a constructor parameter; production passes
# 60), as in tests/reliability/test_quota.py.
WINDOW = 3.0
LIMIT = 6


def test_count_and_bin_calls_pass_the_rate_gate_within_max_requests_per_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        session, "VoucherifyClient", functools.partial(VoucherifyClient, rate_window_seconds=WINDOW)
    )
    with Emulator(seed=5, rows={"voucher": 300, "customer": 40}, job_latency_seconds=0.02) as emu:
        emu.remove_rows("voucher", 240, to_bin=True)  # three pages of the bin
        config = base_config(emu, max_requests_per_minute=LIMIT, poll_interval_max=0.05)
        messages = run_sync(config, streams={"vouchers", "customers", "bin_entries"})
        assert len(records(messages, "vouchers")) == 60
        assert len(records(messages, "bin_entries")) == 240
        counted = len(list_calls(emu, "/v1/vouchers")) + len(list_calls(emu, "/v1/customers"))
        assert counted == 10  # five closed windows each
        assert len(list_calls(emu, "/v1/trash-bin")) == 3
        assert busiest_span(emu, WINDOW) <= LIMIT


JSONL_GZIP = {"format": "jsonl", "compression": "gzip"}
ROUTES: dict[str, dict[str, Any]] = {
    "fast path": {},
    "SDK loop": {"stream_maps": {"vouchers": {"code_upper": "code.upper()"}}},
    "workers": {"parallel_workers": 2},
    "BATCH": {"batch_config": {"encoding": JSONL_GZIP, "batch_size": 70}},
}


@pytest.mark.parametrize("route", ROUTES)
def test_a_short_window_is_counted_whichever_way_the_records_leave(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, route: str
) -> None:
    overrides = dict(ROUTES[route])
    if "batch_config" in overrides:
        storage = {"storage": {"root": tmp_path.as_uri()}}
        overrides["batch_config"] = {**overrides["batch_config"], **storage}
    emulator.inject("short_export", exported_object="voucher", rows=1)
    config = base_config(emulator, max_concurrent_exports=1, **overrides)
    run_sync(config, streams={"vouchers"})
    first = voucher_windows(emulator)[0]
    assert f"vouchers: created_at window {first}: the export delivered" in caplog.text
    assert "(1 missing from the export)" in caplog.text
