"""`parallel_workers` as the user sees it: the CLI as a subprocess, its stderr, its exit status
and the worker processes it leaves (none), on a bad cell, Ctrl-C and SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.cli import TAP, error_lines, run_tap
from voucherify_emulator import Emulator

# About 10 MB of CSV: several 1 MiB pieces, a second or two of work for the workers.
ROWS = 25_000
WAIT_SECONDS = 120


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=11, rows={"voucher": ROWS}, job_latency_seconds=0.05) as emu:
        yield emu


def config(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    return emu.tap_config(
        **{"start_date": "2020-01-01T00:00:00Z", "window_days": 3650,
           "backfill_window_days": 3650, "parallel_workers": 2, **overrides}
    )  # fmt: skip


class Watched:
    """A tap subprocess, with every process it starts noted while it runs."""

    def __init__(self, emu_config: dict[str, Any], tmp_path: Path, **popen: Any) -> None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(emu_config))
        self.stderr_path = tmp_path / "stderr.txt"
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(TAP), "--config", str(path)], stdout=subprocess.PIPE, stderr=stderr, **popen
            )
        self.children: set[psutil.Process] = set()
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        parent = psutil.Process(self.process.pid)
        while not self._done.wait(0.02):
            try:
                self.children.update(parent.children(recursive=True))
            except psutil.Error:
                return

    def first_record(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(b'{"type":"RECORD"'):
                return
        raise AssertionError("the tap ended before its first record")

    def finish(self) -> tuple[int, str]:
        """Read stdout to its end (nothing may hold the pipe open), then the exit status."""
        stdout = self.process.stdout
        assert stdout is not None
        drained = threading.Thread(target=stdout.read, daemon=True)
        drained.start()
        drained.join(WAIT_SECONDS)
        assert not drained.is_alive(), "the tap's stdout is still open after the tap ended"
        stdout.close()
        status = self.process.wait(timeout=WAIT_SECONDS)
        self._done.set()
        self._watcher.join()
        return status, self.stderr_path.read_text()

    def leftovers(self) -> list[psutil.Process]:
        """Processes the tap started that still run, after a moment to notice the tap is gone."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = [p for p in self.children if _running(p)]
            if not alive:
                return []
            time.sleep(0.1)
        return alive


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_a_bad_cell_read_by_a_worker_is_the_same_one_line_error(emu, tmp_path):
    emu.inject("malformed_row", kind="bad_number", exported_object="voucher")
    one = run_tap(config(emu, parallel_workers=1), tmp_path)
    emu.inject("malformed_row", kind="bad_number", exported_object="voucher")
    tap = Watched(config(emu), tmp_path)
    status, stderr = tap.finish()

    assert one.returncode == status == 1
    [line] = [e for e in error_lines(one.stderr) if "cannot read" in e]
    assert "vouchers: line " in line
    assert "'12.3.4x'" in line
    assert line in error_lines(stderr)
    assert "Traceback" not in stderr
    assert len(tap.children) >= 2, "no worker processes ran"
    assert tap.leftovers() == []


@pytest.mark.parametrize(
    ("signum", "to_group", "status"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c-to-the-group", "sigterm-to-the-tap"],
)
def test_a_stop_ends_the_tap_and_its_workers(emu, tmp_path, signum, to_group, status):
    # Ctrl-C in a terminal signals the whole process group: the workers ignore it, the tap stops
    # the sync, and the workers with it. meltano stops a tap with SIGTERM to the tap alone.
    tap = Watched(config(emu), tmp_path, start_new_session=True)
    tap.first_record()
    if to_group:
        os.killpg(tap.process.pid, signum)
    else:
        tap.process.send_signal(signum)
    exit_status, stderr = tap.finish()

    assert exit_status == status
    assert f"Stopped by {signal.Signals(signum).name}" in stderr
    assert "Traceback" not in stderr
    assert len(tap.children) >= 2
    assert tap.leftovers() == []


def test_a_killed_tap_leaves_no_worker_holding_its_output(emu, tmp_path):
    # SIGKILL gives the tap no chance to stop anything: the workers notice it is gone, and never
    # held its stdout, so a target reading it sees the end of it at once.
    tap = Watched(config(emu), tmp_path)
    tap.first_record()
    tap.process.kill()
    started = time.monotonic()
    status, _ = tap.finish()

    assert status == -signal.SIGKILL
    assert time.monotonic() - started < 30
    assert len(tap.children) >= 2
    assert tap.leftovers() == []


def test_a_stream_the_workers_cannot_take_says_so(emu, tmp_path):
    maps = {"vouchers": {"code_upper": "code.upper()"}}
    result = run_tap(config(emu, stream_maps=maps, end_date="2021-02-01T00:00:00Z"), tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "| WARNING" in line]
    assert sum("parallel_workers is 2, but vouchers is read in the tap's own process" in w
               for w in warnings) == 1  # fmt: skip
