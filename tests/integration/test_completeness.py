"""Completeness (docs/reliability.md#completeness): each closed window's rows against the list
endpoint's `total` for the same bounds, over real HTTP against the emulator, through the CLI."""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tap_voucherify_exports import session
from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.jobs.windows import Window
from tests.support.cli import TapRun, error_lines, run_tap
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


def run(
    emu: Emulator,
    tmp_path: Path,
    streams: set[str],
    state: dict[str, Any] | None = None,
    **overrides: object,
) -> subprocess.CompletedProcess[str]:
    config = base_config(emu, max_concurrent_exports=1, **overrides)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, streams)))
    args = ["--catalog", str(catalog)]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    return run_tap(config, tmp_path, *args)


def voucher_windows(emu: Emulator) -> list[Window]:
    """The windows of the voucher exports of created rows the runs created, in order."""
    exports = [e for e in emu.exports if e.exported_object == "voucher"]
    windows = [
        export_window(e.parameters)
        for e in exports
        if "created_at" in e.parameters.get("filters", {})
    ]
    return [window for window in windows if window is not None]


def missing_ids(emu: Emulator, window: Window, stdout: str) -> list[str]:
    """The ids of `window`'s vouchers (oldest first) that no RECORD on `stdout` holds."""
    messages = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    emitted = {record["id"] for record in records(messages, "vouchers")}
    truth = emu.ground_truth("voucher", *window.bounds())
    return [row["id"] for row in truth if row["id"] not in emitted]


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
    missing = missing_ids(emulator, first, result.stdout)
    assert len(missing) == 2
    warned = [line for line in warning_lines(result.stderr) if "GET /v1/vouchers" in line]
    assert warned == [
        f"vouchers: created_at window {first}: the export delivered {expected - 2} rows, "
        f"GET /v1/vouchers counts {expected} for the same bounds (2 missing from the export); "
        f"first keys to check: {', '.join(missing)} (listed, not in the export); the next run "
        "compares it again, and exports it again if still short"
    ]
    # The keys cost ceil(99 / 100) = 1 call more, made only for the window that differed.
    listed = [call for call in list_calls(emulator, "/v1/vouchers") if "page" in call.query]
    assert [call.query["limit"] for call in listed] == [["100"]]
    assert (
        "vouchers: row counts of 5 windows verified against GET /v1/vouchers: 4 matched, 1 differed"
    ) in info_lines(result.stderr)

    # The next run compares the window again and, as it is still short of the list's count,
    # exports it again, first: its missing rows arrive.
    state = final_state(result.stdout)
    assert state["bookmarks"]["vouchers"]["counts_left_open"] == [
        {"filter_key": "created_at", "start": first.start.isoformat(),
         "end": first.end.isoformat(), "rows": expected - 2, "exports": 1}
    ]  # fmt: skip
    before = len(voucher_windows(emulator))
    after = run(emulator, tmp_path, {"vouchers"}, state)
    assert after.returncode == 0, after.stderr
    assert voucher_windows(emulator)[before:] == [first]
    assert missing_ids(emulator, first, after.stdout) == []
    assert final_state(after.stdout)["bookmarks"]["vouchers"]["counts_left_open"] == []
    assert (
        "vouchers: row counts of 2 windows (1 left open by an earlier run) verified against GET "
        "/v1/vouchers: 1 matched, 1 differed"
    ) in info_lines(after.stderr)


def test_a_short_export_fails_the_run_in_fail_mode_and_the_bookmark_stays_before_its_window(
    emulator: Emulator, tmp_path: Path
) -> None:
    on_nth_create(emulator, 2, lambda: emulator.inject("short_export", rows=3))
    result = run(emulator, tmp_path, {"vouchers"}, verify_counts="fail")
    assert result.returncode == 1
    first, second = voucher_windows(emulator)[:2]
    expected = len(emulator.ground_truth("voucher", *second.bounds()))
    missing = missing_ids(emulator, second, result.stdout)
    assert error_lines(result.stderr)[0] == (
        f"vouchers: created_at window {second}: the export delivered {expected - 3} rows, "
        f"GET /v1/vouchers counts {expected} for the same bounds (3 missing from the export); "
        f"first keys to check: {', '.join(missing)} (listed, not in the export); "
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
    truth = emulator.ground_truth("voucher", *first.bounds())
    assert f"vouchers: created_at window {first}: the export delivered" in caplog.text
    # The export lacks the window's last row: each way out keeps the keys it handed on.
    assert (
        f"(1 missing from the export); first keys to check: {truth[-1]['id']} (listed, not in "
        "the export)"
    ) in caplog.text


def final_state(stdout: str) -> dict[str, Any]:
    messages = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return states(messages)[-1]


@dataclass
class EarlierWindow:
    """A daily run's final state, edited as if that run had left the 2022 window open with its
    export `missing` rows short (what `counts_left_open` holds after such a run)."""

    state: dict[str, Any]
    window: Window
    truth: list[dict[str, str]]
    entry: dict[str, Any]


def daily_run(emu: Emulator, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A run with no end_date: its last window ends as it starts, too recent to compare."""
    first = run(emu, tmp_path, {"vouchers"}, end_date=None)
    assert first.returncode == 0, first.stderr
    return first


def short_earlier_window(emu: Emulator, state: dict[str, Any], missing: int) -> EarlierWindow:
    year = voucher_windows(emu)[1]  # 2022: a window with rows
    truth = emu.ground_truth("voucher", *year.bounds())
    entry = {"filter_key": "created_at", "start": year.start.isoformat(),
             "end": year.end.isoformat(), "rows": len(truth) - missing, "exports": 1}  # fmt: skip
    state["bookmarks"]["vouchers"]["counts_left_open"] = [entry]
    return EarlierWindow(state, year, truth, entry)


def test_a_window_ending_now_is_left_in_the_state_and_compared_by_the_next_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    first = daily_run(emulator, tmp_path)
    state = final_state(first.stdout)
    (left,) = state["bookmarks"]["vouchers"]["counts_left_open"]
    assert left["filter_key"] == "created_at"
    assert left["end"] == state["bookmarks"]["vouchers"]["replication_key_value"]
    assert left["rows"] == len(emulator.ground_truth("voucher", left["start"], left["end"]))
    assert "1 compared by the next run (ending less than 5 minutes before now)" in first.stderr

    # The next run, once that window closed (here: the entry moved to a closed window, as a run
    # would have left it, its export 2 rows short).
    earlier = short_earlier_window(emulator, state, missing=2)
    year, truth = earlier.window, earlier.truth
    creates = len(voucher_windows(emulator))
    second = run(emulator, tmp_path, {"vouchers"}, state, end_date=None)
    assert second.returncode == 0, second.stderr
    assert (
        f"vouchers: created_at window {year}: an earlier run's export delivered {len(truth) - 2} "
        f"rows, GET /v1/vouchers now counts {len(truth)} for the same bounds (2 missing): this "
        "run exports the window again."
    ) in warning_lines(second.stderr)
    # Exported again, first: every row of that window reaches the target once more.
    again = voucher_windows(emulator)[creates:]
    assert again[0] == year
    messages = [json.loads(line) for line in second.stdout.splitlines() if line.strip()]
    emitted = {record["id"] for record in records(messages, "vouchers")}
    assert {row["id"] for row in truth} <= emitted
    after = final_state(second.stdout)["bookmarks"]["vouchers"]
    assert after["replication_key_value"] >= state["bookmarks"]["vouchers"]["replication_key_value"]
    # The window exported again is done with; this run's own last window is left open in turn.
    # (the change cursor's first window too: on the first run it had none).
    previous_end = state["bookmarks"]["vouchers"]["replication_key_value"]
    assert [(entry["filter_key"], entry["start"]) for entry in after["counts_left_open"]] == [
        ("created_at", previous_end),
        ("updated_at", previous_end),
    ]
    assert (
        "vouchers: row counts of 2 windows (1 left open by an earlier run) verified against GET "
        "/v1/vouchers: 1 matched, 1 differed; 2 compared by the next run"
    ) in second.stderr


def test_an_earlier_window_still_short_when_exported_again_fails_in_fail_mode_and_stays_listed(
    emulator: Emulator, tmp_path: Path
) -> None:
    earlier = short_earlier_window(emulator, final_state(daily_run(emulator, tmp_path).stdout), 1)
    year, truth, state, short = earlier.window, earlier.truth, earlier.state, earlier.entry
    on_nth_create(emulator, 1, lambda: emulator.inject("short_export"))  # the window again
    second = run(emulator, tmp_path, {"vouchers"}, state, end_date=None, verify_counts="fail")
    assert second.returncode == 1, second.stderr
    assert error_lines(second.stderr)[0].startswith(
        f"vouchers: created_at window {year}: the export delivered {len(truth) - 1} rows, GET "
        f"/v1/vouchers counts {len(truth)} for the same bounds (1 missing from the export); "
        f"first keys to check: {truth[-1]['id']} (listed, not in the export)"
    )
    # The window stays listed: the run after compares it again (and exports it again).
    messages = [json.loads(line) for line in second.stdout.splitlines() if line.strip()]
    for written in states(messages):
        assert written["bookmarks"]["vouchers"]["counts_left_open"] == [short]


def test_a_run_killed_while_exporting_a_short_window_again_leaves_it_listed_for_the_next(
    emulator: Emulator, tmp_path: Path
) -> None:
    earlier = short_earlier_window(emulator, final_state(daily_run(emulator, tmp_path).stdout), 2)
    truth, state, short = earlier.truth, earlier.state, earlier.entry
    config = base_config(emulator, max_concurrent_exports=1, end_date=None, export_timeout=600)
    # SIGKILL while Voucherify generates the window's export again.
    emulator.inject("never_finish", times=1, exported_object="voucher")
    killed = TapRun(tmp_path, "killed", config, {"vouchers"}, state=state)
    killed.kill_when(lambda: any(job.status == "IN_PROGRESS" for job in emulator.exports))
    assert killed.states()[-1]["bookmarks"]["vouchers"]["counts_left_open"] == [short]

    emulator.clear_faults()
    resumed = TapRun(tmp_path, "resumed", config, {"vouchers"}, state=killed.states()[-1])
    assert resumed.finish() == 0, resumed.stderr()[-3000:]
    assert "this run exports the window again." in resumed.stderr()
    emitted = {record["id"] for record in records(resumed.messages(), "vouchers")}
    assert {row["id"] for row in truth} <= emitted
    after = resumed.states()[-1]["bookmarks"]["vouchers"]["counts_left_open"]
    assert short not in after
