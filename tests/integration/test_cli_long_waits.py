"""Lines a run says only after long waits, through the CLI as a subprocess against the emulator:
a download URL older than 10 minutes asked for again first (jobs/download.py), and the rate
gate's notice of a wait over 30 s (api/rate_gate.py), each without the test waiting that long."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import TapRun, patched_tap, run_tap, wait_for
from tests.support.ground_truth import record_keys, truth_keys
from tests.support.sync import catalog_for
from voucherify_emulator import Emulator, RecordedRequest

pytestmark = pytest.mark.integration

WAIT_SECONDS = 120
# The tap's RESULT_URL_MAX_AGE_SECONDS in the test's run (600 s in production, which no setting
# changes): the test holds a download a few seconds, not ten minutes.
URL_MAX_AGE_SECONDS = 1.0
# How long the first download is held: the exports created ahead are DONE meanwhile, and their
# URLs grow older than URL_MAX_AGE_SECONDS (the emulator's tokens live 900 s, as Voucherify's).
HELD_SECONDS = 2.5


def yearly(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    """Vouchers in yearly windows over the emulator's rows (2021-2024), full refresh off."""
    return emu.tap_config(**{
        "start_date": "2021-01-01T00:00:00Z", "end_date": "2025-01-02T00:00:00Z",
        "window_days": 365, "backfill_window_days": 365, "full_refresh_days": 0,
        "export_timeout": 60, **overrides,
    })  # fmt: skip


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=11, rows={"voucher": 200}, job_latency_seconds=0.02) as emu:
        yield emu


def hold_first_download(emu: Emulator) -> None:
    """Hold the run's first download for HELD_SECONDS before it is answered."""
    held = {"done": False}

    def hold(request: RecordedRequest) -> None:
        if request.origin == "download" and not held["done"]:
            held["done"] = True
            time.sleep(HELD_SECONDS)

    emu.on_request(hold)


def info_lines(stderr: str) -> list[str]:
    return [line.split("| ", 3)[-1] for line in stderr.splitlines() if "| INFO" in line]


def test_the_cli_says_so_when_an_export_done_long_before_its_download_gets_a_fresh_url(
    emu: Emulator, tmp_path: Path
) -> None:
    # Three exports in flight: while the first one's download is held, the next two are DONE,
    # and by the time each is downloaded its URL is older than the tap's limit: the tap asks
    # Get Export for a fresh one first, and says so.
    hold_first_download(emu)
    config = yearly(emu, max_concurrent_exports=3)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, {"vouchers"})))
    tap = patched_tap(
        "tap_voucherify_exports.jobs.download", RESULT_URL_MAX_AGE_SECONDS=URL_MAX_AGE_SECONDS
    )
    result = run_tap(config, tmp_path, "--catalog", str(catalog), tap=tap)
    assert result.returncode == 0, result.stderr[-3000:]

    fresh = [
        line for line in info_lines(result.stderr) if "asking for a fresh download URL" in line
    ]
    # The second and third windows' exports (created at once, in any order).
    after = {job.parameters["filters"]["created_at"]["conditions"]["$after"][0]: job.id
             for job in emu.exports}  # fmt: skip
    second, third = after["2021-12-31T23:59:59.999Z"], after["2022-12-31T23:59:59.999Z"]
    for export_id in (second, third):
        [line] = [line for line in fresh if f": {export_id} finished " in line]
        assert line.startswith(f"vouchers: {export_id} finished "), line
        assert line.endswith(" s ago; asking for a fresh download URL"), line
        seconds = float(line.split(" finished ")[1].split(" s ago")[0])
        assert seconds >= URL_MAX_AGE_SECONDS
    # The Get Export that fetched it came before the export's one download (the download host
    # serves the export's file at the same path).
    calls = [(r.origin, r.method, r.path) for r in emu.requests]
    for export_id in (second, third):
        path = f"/v1/exports/{export_id}"
        assert calls.count(("download", "GET", path)) == 1
        assert calls.index(("api", "GET", path)) < calls.index(("download", "GET", path))
    assert "download token rejected" not in result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    got, want = record_keys(messages, "vouchers"), truth_keys(emu, "vouchers")
    assert got == want, "every row once"
    assert all(job.deleted for job in emu.exports)


def test_a_long_wait_for_max_requests_per_hour_is_said_and_a_stop_during_it_ends_cleanly(
    emu: Emulator, tmp_path: Path
) -> None:
    # Two requests an hour: the access check and the first export's create. The next request
    # would start an hour after the first: the gate says so once, and SIGTERM stops the wait.
    config = yearly(emu, max_requests_per_hour=2, max_concurrent_exports=1)
    run = TapRun(tmp_path, "capped", config, {"vouchers"})
    wait_for(lambda: "Requests wait " in run.stderr(), "the gate never said it waits", run)
    stopped_at = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    status = run.finish()
    took = time.monotonic() - stopped_at
    stderr = run.stderr()
    assert status == 143, stderr[-3000:]
    assert took < 30, f"the stop waited for the rate limit: {took:.0f} s"
    [notice] = [line for line in info_lines(stderr) if line.startswith("Requests wait ")]
    seconds = int(notice.split()[2])
    assert 3500 <= seconds <= 3600, notice
    assert notice == f"Requests wait {seconds} s for max_requests_per_hour (2)."
    assert "Stopped by SIGTERM: incomplete sync" in stderr
    assert "Traceback" not in stderr
    # Two calls reached Voucherify, no more: the delete the cap would hold an hour is dropped,
    # named in a warning, and the export is listed in the last STATE for the next run.
    assert [(r.method, r.path) for r in emu.requests] == [
        ("GET", "/v1/exports"),
        ("POST", "/v1/exports"),
    ]
    [left] = emu.exports
    assert not left.deleted
    assert f"Could not delete export {left.id}" in stderr
    last_state = run.states()[-1]
    assert last_state["exports_on_voucherify"] == [left.id]

    resumed = TapRun(tmp_path, "resumed", yearly(emu), {"vouchers"}, state=last_state)
    assert resumed.finish() == 0, resumed.stderr()[-3000:]
    assert f"Deleted 1 exports an earlier run left on Voucherify: {left.id}" in resumed.stderr()
    assert all(job.deleted for job in emu.exports)
