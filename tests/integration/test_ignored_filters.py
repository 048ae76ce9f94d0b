"""Voucherify ignoring an export's window filter (unknown conditions are "ignored by the API",
PHP SDK 5.1.0; a Dashboard bug let voucher exports ignore their date filters): the tap drops
the rows outside each window, says so once, and exports the rest of the range once. Over real
HTTP, through the CLI as a subprocess: one process and workers, the change cursor, a run
SIGKILLed mid-sync and the next run from its last STATE."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import TAP, error_lines, run_tap
from tests.support.emulator import on_nth_create
from tests.support.ground_truth import key_of, truth_keys
from tests.support.sync import catalog_for
from voucherify_emulator import Emulator

pytestmark = pytest.mark.integration

END_DATE = "2025-01-02T00:00:00Z"  # the emulator's rows span 2021-2024
WAIT_SECONDS = 120


def yearly(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    """Yearly windows over the emulator's rows, one export at a time (unless overridden)."""
    return emulator.tap_config(**{
        "start_date": "2021-01-01T00:00:00Z", "end_date": END_DATE, "window_days": 365,
        "backfill_window_days": 365, "max_concurrent_exports": 1, "export_timeout": 60,
        **overrides,
    })  # fmt: skip


def cli(
    emulator: Emulator, tmp_path: Path, config: dict[str, Any], streams: set[str], **kw: Any
) -> subprocess.CompletedProcess[str]:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, streams)))
    args = ["--catalog", str(catalog)]
    if kw.get("state") is not None:
        state = tmp_path / "state.json"
        state.write_text(json.dumps(kw["state"]))
        args += ["--state", str(state)]
    return run_tap(config, tmp_path, *args)


def messages(stdout: str) -> list[dict[str, Any]]:
    complete = stdout.rpartition("\n")[0]  # a killed run's partial last line left out
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def keys(output: list[dict[str, Any]], stream: str) -> Counter[tuple[str, ...]]:
    return Counter(
        key_of(stream, m["record"])
        for m in output
        if m["type"] == "RECORD" and m["stream"] == stream
    )


def ignored_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ignored the export filter" in line]


def exports_of(emulator: Emulator, exported_object: str, since: int = 0) -> list[Any]:
    return [job for job in emulator.exports[since:] if job.exported_object == exported_object]


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "2-workers"])
def test_an_ignored_filter_syncs_exactly_the_ground_truth_with_one_warning_and_one_more_export(
    emulator: Emulator, tmp_path: Path, workers: int
) -> None:
    emulator.set_shape(ignore_filters=["voucher"])
    config = yearly(emulator, parallel_workers=workers)
    run = cli(emulator, tmp_path, config, {"vouchers", "redemptions"})
    assert run.returncode == 0, run.stderr[-3000:]
    output = messages(run.stdout)

    for stream in ("vouchers", "redemptions"):
        got, want = keys(output, stream), truth_keys(emulator, stream)
        assert set(got) == set(want), f"{stream}: {len(set(want) - set(got))} missing"
        assert max(got.values()) == 1, f"{stream}: a row emitted twice"
    (line,) = ignored_lines(run.stderr)
    assert "vouchers: Voucherify ignored the export filter on created_at" in line
    assert "| WARNING" in line
    # 2021, then one export for 2022 up to the end instead of three more full tables.
    vouchers = exports_of(emulator, "voucher")
    assert len(vouchers) == 2
    conditions = vouchers[1].parameters["filters"]["created_at"]["conditions"]
    assert conditions == {
        "$after": ["2021-12-31T23:59:59.999Z"],
        "$before": ["2025-01-02T00:00:00.000Z"],
    }
    assert len(exports_of(emulator, "redemption")) == 5, "redemptions keep their windows"
    bookmarks = [m["value"]["bookmarks"]["vouchers"] for m in output if m["type"] == "STATE"
                 and "vouchers" in m["value"]["bookmarks"]]  # fmt: skip
    assert bookmarks[-1]["replication_key_value"] == "2025-01-02T00:00:00+00:00"
    assert all(job.deleted for job in emulator.exports)


def test_exports_created_ahead_for_windows_no_longer_needed_are_deleted(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.set_shape(ignore_filters=["voucher"])
    run = cli(emulator, tmp_path, yearly(emulator, max_concurrent_exports=3), {"vouchers"})
    assert run.returncode == 0, run.stderr[-3000:]
    output = messages(run.stdout)
    got, want = keys(output, "vouchers"), truth_keys(emulator, "vouchers")
    assert set(got) == set(want)
    assert max(got.values()) == 1
    assert len(ignored_lines(run.stderr)) == 1
    assert all(job.deleted for job in emulator.exports), "the ones created ahead too"
    assert output[-1]["value"]["exports_on_voucherify"] == []
    downloads = [r for r in emulator.requests if r.origin == "download"]
    assert len(downloads) == 2, "only the first window and the rest are downloaded"


def upsert(table: dict[str, dict[str, Any]], output: list[dict[str, Any]]) -> None:
    for message in output:
        if message["type"] == "RECORD" and message["stream"] == "vouchers":
            table[message["record"]["id"]] = message["record"]


def current(table: dict[str, dict[str, Any]], emulator: Emulator) -> list[str]:
    """Ids whose row in `table` is missing or not the emulator's current one."""
    truth = {row["id"]: row for row in emulator.ground_truth("voucher")}
    assert table.keys() == truth.keys()
    return [
        key for key, row in truth.items()
        if (table[key]["updated_at"] or "")[:19] != (row["updated_at"] or "")[:19]
    ]  # fmt: skip


class Killable:
    """One CLI run that may be SIGKILLed, its stdout and stderr in files."""

    def __init__(self, tmp_path: Path, name: str, config: dict[str, Any], state: Any) -> None:
        self.out, self.err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        paths = {kind: tmp_path / f"{name}.{kind}.json" for kind in ("config", "catalog", "state")}
        paths["config"].write_text(json.dumps(config))
        paths["catalog"].write_text(json.dumps(catalog_for(config, {"vouchers"})))
        paths["state"].write_text(json.dumps(state))
        args = [str(TAP), *(f"--{kind}={path}" for kind, path in paths.items())]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(args, stdout=out, stderr=err)

    def kill_when(self, ready: Any) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not ready():
            assert self.process.poll() is None, self.err.read_text()[-3000:]
            assert time.monotonic() < deadline, "the run never got there"
            time.sleep(0.02)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WAIT_SECONDS)

    def output(self) -> list[dict[str, Any]]:
        return messages(self.out.read_text())


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "2-workers"])
def test_an_ignored_filter_on_both_cursors_with_a_kill_mid_sync_leaves_the_target_exact(
    emulator: Emulator, tmp_path: Path, workers: int
) -> None:
    # A first sync as usual, up to 2025-01-02; then rows change and are added, and Voucherify
    # starts ignoring voucher filters: the next syncs run to now in yearly windows, on both
    # the creation and the change cursor (updated_at).
    first = cli(emulator, tmp_path, yearly(emulator), {"vouchers"})
    assert first.returncode == 0, first.stderr[-3000:]
    table: dict[str, dict[str, Any]] = {}
    upsert(table, messages(first.stdout))
    emulator.update_rows("voucher", 9)
    emulator.add_rows("voucher", 4)
    emulator.set_shape(ignore_filters=["voucher"])
    # The next runs end two years after the first: a full refresh would be due; this test is of
    # the incremental cursors (a refresh under an ignored filter: test_cli_refresh.py).
    config = yearly(emulator, end_date=None, parallel_workers=workers, full_refresh_days=0)
    state = [m for m in messages(first.stdout) if m["type"] == "STATE"][-1]["value"]

    # Killed while its third export (the change cursor's first window) is generated: the
    # creation cursor is done (its first window, then one export for the rest).
    since = len(emulator.exports)
    hooked = {"creates": 0}

    def third_never_finishes(request: Any) -> None:
        if request.origin == "api" and request.method == "POST":
            hooked["creates"] += 1
            if hooked["creates"] == 3:
                emulator.inject("never_finish", times=1, exported_object="voucher")

    remove = emulator.on_request(third_never_finishes)
    killed = Killable(tmp_path, "killed", config, state)
    killed.kill_when(lambda: len(exports_of(emulator, "voucher", since)) >= 3)
    remove()
    emulator.clear_faults()
    assert len(ignored_lines(killed.err.read_text())) == 1, "the creation cursor's, once"
    output = killed.output()
    upsert(table, output)
    last = [m for m in output if m["type"] == "STATE"][-1]["value"]

    since = len(emulator.exports)
    resumed = cli(emulator, tmp_path, config, {"vouchers"}, state=last)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    upsert(table, messages(resumed.stdout))
    assert current(table, emulator) == [], "every row as it is now, none missing"
    lines = ignored_lines(resumed.stderr)
    assert len(lines) == 2, "each cursor's filter, said once"
    assert "on created_at" in lines[0]
    assert "on updated_at" in lines[1]
    assert max(keys(messages(resumed.stdout), "vouchers").values()) == 1, "no row twice"
    # Its one creation window; the change cursor's first window, then the rest in one export.
    assert len(exports_of(emulator, "voucher", since)) == 3
    assert "exp_" not in json.dumps(messages(resumed.stdout)[-1]["value"]["exports_on_voucherify"])


def test_a_whole_table_export_that_ends_in_error_stops_the_stream_instead_of_splitting(
    emulator: Emulator, tmp_path: Path
) -> None:
    # The filter is ignored: after 2021, one export covers 2022 up to the end, and it ends in
    # ERROR. Its halves would export the same whole table again, so the run stops, saying why.
    emulator.set_shape(ignore_filters=["voucher"])
    on_nth_create(emulator, 2, lambda: emulator.inject("job_error", exported_object="voucher"))
    run = cli(emulator, tmp_path, yearly(emulator), {"vouchers"})
    assert run.returncode == 1, run.stderr[-3000:]
    [failed] = exports_of(emulator, "voucher")[1:]
    [error] = error_lines(run.stderr)
    assert error.startswith(
        "vouchers: Voucherify ignores the export filter on created_at, so splitting the window "
        f"cannot make the export smaller: {failed.id} (voucher export (created_at window "
        "[2022-01-01T00:00:00.000Z, 2025-01-02T00:00:00.000Z))) ended in ERROR; result: "
    ), error
    assert "Splitting" not in run.stderr
    assert "Traceback" not in run.stderr
    assert len(exports_of(emulator, "voucher")) == 2, "no half window was exported"
    assert all(job.deleted for job in emulator.exports)
    states = [m["value"] for m in messages(run.stdout) if m["type"] == "STATE"]
    assert states[-1]["bookmarks"]["vouchers"]["replication_key_value"] == (
        "2022-01-01T00:00:00+00:00"
    ), "the first window's rows were synced; the run resumes after them"
