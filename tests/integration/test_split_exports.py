"""An export split into several files (Voucherify: a large export "can split into multiple
chunks", shape undocumented): every file read, in order, in each shape the tap recognises, on
one process and on the workers; a shape it does not recognise stops the sync loudly instead of
reading one part. Over real HTTP, through the CLI, as a user runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import TapRun
from tests.support.ground_truth import record_keys, truth_keys
from voucherify_emulator import Emulator, RecordedRequest

pytestmark = pytest.mark.integration

TAP = [sys.executable, "-m", "tap_voucherify_exports"]
VOUCHERS = 250


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=11, rows={"voucher": VOUCHERS}, job_latency_seconds=0.05) as emulator:
        yield emulator


def run_tap(
    emulator: Emulator, tmp_path: Path, **overrides: Any
) -> subprocess.CompletedProcess[str]:
    config = emulator.tap_config(start_date="2020-01-01T00:00:00Z", window_days=3650, **overrides)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    catalog = subprocess.run(
        [*TAP, "--config", str(config_path), "--discover"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    selected = json.loads(catalog)
    for entry in selected["streams"]:
        chosen = entry["tap_stream_id"] == "vouchers"
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = chosen
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(selected))
    return subprocess.run(
        [*TAP, "--config", str(config_path), "--catalog", str(catalog_path)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def voucher_records(stdout: str) -> list[dict[str, Any]]:
    messages = [json.loads(line) for line in stdout.splitlines()]
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "vouchers"]


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "2-workers"])
@pytest.mark.parametrize("result", ["url", "urls", "parts"])
def test_a_split_export_is_read_whole_and_in_order_in_each_recognised_shape(
    emulator: Emulator, tmp_path: Path, result: str, workers: int
) -> None:
    whole = run_tap(emulator, tmp_path)
    assert whole.returncode == 0, whole.stderr
    emulator.set_shape(parts=3, result=result)
    split = run_tap(emulator, tmp_path, parallel_workers=workers)
    assert split.returncode == 0, split.stderr
    records = voucher_records(split.stdout)
    assert len(records) == VOUCHERS
    assert records == voucher_records(whole.stdout)
    assert "has 3 files; reading them in order" in split.stderr
    assert all(job.deleted for job in emulator.exports), "every export deleted, split or not"


def test_a_split_export_in_a_shape_the_tap_does_not_know_stops_naming_its_keys(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.set_shape(parts=3, result="unknown")
    run = run_tap(emulator, tmp_path)
    assert run.returncode == 1
    assert voucher_records(run.stdout) == [], "no part read when not all can be"
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, run.stderr
    assert "3 download URL(s)" in errors[0]
    assert "keys ['next_parts', 'url']" in errors[0]
    assert "token=" not in run.stderr, "download tokens never reach the log"
    assert all(job.deleted for job in emulator.exports), "the refused export is deleted too"


def test_a_split_export_stopped_by_ctrl_c_mid_download_resumes_with_every_row_once(
    tmp_path: Path,
) -> None:
    # Yearly windows, each export in 3 files. Ctrl-C (SIGINT) arrives while the second window's
    # second file downloads: the run stops after the first window's STATE, and the next run
    # from that STATE syncs the rest, the second window again from its first file.
    with Emulator(seed=11, rows={"voucher": VOUCHERS}, job_latency_seconds=0.02) as emu:
        emu.set_shape(parts=3, result="parts")
        config = emu.tap_config(
            start_date="2021-01-01T00:00:00Z", end_date="2025-01-02T00:00:00Z", window_days=365,
            backfill_window_days=365, full_refresh_days=0, max_concurrent_exports=1,
        )  # fmt: skip
        runs: dict[str, TapRun] = {}
        downloads = {"seen": 0}

        def ctrl_c_in_the_second_windows_second_file(request: RecordedRequest) -> None:
            if request.origin != "download":
                return
            downloads["seen"] += 1
            if downloads["seen"] == 5:  # the first window's 3 files, then the second's 2nd
                runs["stopped"].process.send_signal(signal.SIGINT)
                time.sleep(0.5)  # answered while the tap stops, as a file still in flight

        remove = emu.on_request(ctrl_c_in_the_second_windows_second_file)
        runs["stopped"] = stopped = TapRun(tmp_path, "stopped", config, {"vouchers"})
        assert stopped.finish() == 130, stopped.stderr()[-3000:]
        remove()
        stderr = stopped.stderr()
        assert "has 3 files; reading them in order" in stderr
        assert "Stopped by SIGINT: incomplete sync" in stderr
        assert "Traceback" not in stderr
        assert all(job.deleted for job in emu.exports), "the stopped run's exports deleted"
        messages = stopped.messages()
        state = stopped.states()[-1]  # written as the run ended: the exports it deleted gone
        bookmark = state["bookmarks"]["vouchers"]["replication_key_value"]
        assert bookmark == "2022-01-01T00:00:00+00:00", "the first window, whole, and no more"
        assert state["exports_on_voucherify"] == []
        # The STATE that moved the bookmark there: rows before it are covered by it, rows
        # after it (part of the second window) are not, and come again.
        moved = next(
            n for n, m in enumerate(messages)
            if m["type"] == "STATE"
            and m["value"]["bookmarks"].get("vouchers", {}).get("replication_key_value") == bookmark
        )  # fmt: skip
        covered = record_keys(messages[:moved], "vouchers")
        after_state = record_keys(messages[moved:], "vouchers")
        assert after_state, "the stop came mid-window, after some of its rows"

        resumed = TapRun(tmp_path, "resumed", config, {"vouchers"}, state=state)
        assert resumed.finish() == 0, resumed.stderr()[-3000:]
        again = record_keys(resumed.messages(), "vouchers")
        assert covered + again == truth_keys(emu, "vouchers"), "every row once, none lost"
        assert set(after_state) <= set(again), "rows after the last STATE come again"
        assert all(job.deleted for job in emu.exports)
