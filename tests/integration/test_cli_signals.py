"""A sync stopped by SIGINT or SIGTERM: the CLI as a subprocess, stopped mid-sync."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.support.cli import TAP, wait_for
from voucherify_emulator import Emulator

WAIT_SECONDS = 120
ROWS = {"customer": 40, "order": 40}


@dataclass
class RunningTap:
    """A tap syncing in a subprocess: its stdout read line by line, its stderr to a file."""

    process: subprocess.Popen[str]
    stderr_path: Path
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def read_until_schema_of(self, stream: str) -> None:
        while True:
            line = self.lines.get(timeout=WAIT_SECONDS)
            assert line is not None, f"the tap ended before it reached the {stream} stream"
            self.messages.append(json.loads(line))
            if self.messages[-1]["type"] == "SCHEMA" and self.messages[-1]["stream"] == stream:
                return

    def finish(self) -> str:
        """Wait for the exit; read the rest of stdout; return stderr."""
        self.process.wait(timeout=WAIT_SECONDS)
        while (line := self.lines.get(timeout=WAIT_SECONDS)) is not None:
            self.messages.append(json.loads(line))
        assert self.process.stdout is not None
        self.process.stdout.close()
        return self.stderr_path.read_text()


def _pump(stream: IO[str], into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def start_waiting_on_orders(emu: Emulator, tmp_path: Path) -> RunningTap:
    """Start a sync of every stream and return once the tap waits on the first orders export.

    Streams sync in name order: customers completes, then orders' jobs never finish."""
    emu.inject("never_finish", times=None, exported_object="order")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(emu.tap_config(export_timeout=600)))
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [str(TAP), "--config", str(config)], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    tap = RunningTap(process, stderr_path)
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, tap.lines), daemon=True).start()
    tap.read_until_schema_of("orders")
    return tap


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_sync_exits_128_plus_the_signal_after_its_last_complete_state(
    tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    with Emulator(seed=9, rows=ROWS, job_latency_seconds=0.05) as emu:
        tap = start_waiting_on_orders(emu, tmp_path)
        tap.process.send_signal(signum)
        stderr = tap.finish()
        exports = emu.exports

    assert tap.process.returncode == status, stderr
    [stopped] = [line for line in stderr.splitlines() if "Stopped by" in line]
    assert stopped.endswith(
        f"Stopped by {signum.name}: incomplete sync, the last STATE written covers every row "
        f"before it; exiting with status {status}."
    )
    assert "Traceback" not in stderr
    states = [m["value"] for m in tap.messages if m["type"] == "STATE"]
    assert "customers" in json.dumps(states[-1])
    assert not [m for m in tap.messages if m["type"] == "RECORD" and m["stream"] == "orders"]
    # Every export the run created, the abandoned orders jobs too, is deleted as it ends.
    assert exports
    assert all(job.deleted for job in exports)


def test_a_second_signal_during_the_cleanup_lets_it_finish(tmp_path: Path) -> None:
    # meltano answers a Ctrl-C with its own SIGTERM right after the terminal's SIGINT.
    with Emulator(seed=9, rows=ROWS, job_latency_seconds=0.05) as emu:
        tap = start_waiting_on_orders(emu, tmp_path)
        # Two 500s on the first DELETE: the cleanup takes at least 1 + 2 s of backoff.
        emu.inject("server_error", phase="delete", times=2)
        tap.process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        tap.process.send_signal(signal.SIGTERM)
        stderr = tap.finish()
        exports = emu.exports
    assert tap.process.returncode == 130, stderr
    assert "Already stopping (SIGTERM ignored)." in stderr
    assert "Traceback" not in stderr
    assert exports
    assert all(job.deleted for job in exports)


def test_a_stop_during_a_long_rate_limit_pause_ends_at_once_and_names_what_is_left(
    tmp_path: Path,
) -> None:
    # Rate limits meet signals: every poll of the orders jobs is answered 429 "retry in 10 min".
    with Emulator(seed=9, rows=ROWS, job_latency_seconds=0.05) as emu:
        tap = start_waiting_on_orders(emu, tmp_path)
        emu.inject("rate_limit", phase="poll", times=None, retry_after=600)
        wait_for(
            lambda: any(request.status == 429 for request in emu.requests),
            "the tap never met the rate limit",
        )
        stopped_at = time.monotonic()
        tap.process.send_signal(signal.SIGTERM)
        stderr = tap.finish()
        took = time.monotonic() - stopped_at
    assert tap.process.returncode == 143, stderr
    assert took < 60, f"the stop waited for the rate limit: {took:.0f} s\n{stderr}"
    assert "Traceback" not in stderr
    # The deletes the pause would have held are dropped, and each is named in a warning.
    assert "Could not delete export" in stderr
    assert "the sync is stopping and the rate limit would hold it" in stderr
