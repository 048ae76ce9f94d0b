"""BATCH mode: a STATE message comes only after the BATCH message that holds its rows.

A target commits a STATE once it has read everything before it. If the tap wrote STATE before
the BATCH message covering those rows, a run killed between the two resumes past rows no
target ever loaded. Here the tap runs as a subprocess with `batch_config`; it is SIGKILLed the
moment a STATE line with a bookmark reaches us (what a target that commits and then crashes
saw), resumed from that STATE, and every ground-truth row must be in the batch files of the
BATCH messages the "target" read across both runs.
"""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.support.emulator import base_config
from tests.support.ground_truth import key_of, truth_keys
from tests.support.sync import catalog_for
from voucherify_emulator import Emulator

pytestmark = pytest.mark.integration

TAP = [sys.executable, "-m", "tap_voucherify_exports"]
# 400 vouchers over 4 yearly windows (~100 rows each): a batch of 150 rows spans two windows.
BATCH_SIZE = 150


def batch_config(root: Path) -> dict[str, Any]:
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": root.as_uri()},
        "batch_size": BATCH_SIZE,
    }


def run_tap(
    workdir: Path, config: dict[str, Any], state: dict[str, Any] | None, kill_at_state: int | None
) -> list[dict[str, Any]]:
    """Run the tap; with `kill_at_state` = n, SIGKILL it as soon as its n-th bookmarked STATE
    is read and return the messages up to that one (all a target read)."""
    config_path, catalog_path = workdir / "config.json", workdir / "catalog.json"
    config_path.write_text(json.dumps(config))
    catalog_path.write_text(json.dumps(catalog_for(config, {"vouchers"})))
    args = [*TAP, "--config", str(config_path), "--catalog", str(catalog_path)]
    if state is not None:
        state_path = workdir / "state.json"
        state_path.write_text(json.dumps(state))
        args += ["--state", str(state_path)]
    messages: list[dict[str, Any]] = []
    bookmarked = 0
    log_path = workdir / "tap.log"
    with (
        log_path.open("wb") as log,
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log) as process,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            message = json.loads(line)
            messages.append(message)
            if message["type"] == "STATE" and _bookmark(message):
                bookmarked += 1
                if bookmarked == kill_at_state:
                    process.send_signal(signal.SIGKILL)
                    break
        killed = bookmarked == kill_at_state
        process.wait(timeout=120)
    assert killed or process.returncode == 0, log_path.read_text(errors="replace")[-3000:]
    return messages


def _bookmark(message: dict[str, Any]) -> str | None:
    stream_state = message["value"].get("bookmarks", {}).get("vouchers", {})
    return stream_state.get("replication_key_value")


def batch_rows(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for message in messages:
        assert message["type"] != "RECORD", "BATCH mode wrote a RECORD message"
        if message["type"] == "BATCH":
            for url in message["manifest"]:
                with gzip.open(urlparse(url).path, "rt", encoding="utf-8") as handle:
                    rows.extend(json.loads(line) for line in handle)
    return rows


@pytest.mark.parametrize("kill_at_state", [1, 2, 3])
def test_a_kill_right_after_a_state_then_resume_loses_no_batched_row(
    tmp_path: Path, kill_at_state: int
) -> None:
    with Emulator(seed=5, rows={"voucher": 400}, job_latency_seconds=0.02) as emu:
        config = base_config(emu, batch_config=batch_config(tmp_path / "batches"))
        first = run_tap(tmp_path, config, None, kill_at_state)
        last_state = next(m["value"] for m in reversed(first) if m["type"] == "STATE")
        assert _bookmark(first[-1]), "the run was not killed at a bookmarked STATE"
        resumed = run_tap(tmp_path, config, last_state, None)
        want = truth_keys(emu, "vouchers")
    got = {key_of("vouchers", row) for row in batch_rows(first) + batch_rows(resumed)}
    missing = set(want) - got
    assert not missing, f"{len(missing)} rows lost by the kill after STATE {_bookmark(first[-1])}"
    # The run before the kill committed real progress: the resumed run did not start over.
    assert len(batch_rows(resumed)) < len(want)
