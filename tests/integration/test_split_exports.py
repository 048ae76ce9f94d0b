"""An export split into several files (Voucherify: a large export "can split into multiple
chunks", shape undocumented): every file read, in order, in each shape the tap recognises, on
one process and on the workers; a shape it does not recognise stops the sync loudly instead of
reading one part. Over real HTTP, through the CLI, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voucherify_emulator import Emulator

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
