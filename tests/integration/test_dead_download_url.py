"""A download token that stays expired: Get Export answers the same URL that was just refused.
The export for that window is created again, once, tracked like any other (listed in the
STATE, deleted after its rows, the dead one deleted); a second dead URL fails loudly. Over real
HTTP, through the CLI as a subprocess, one export at a time and three in flight."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import error_lines, run_tap
from tests.support.ground_truth import key_of, truth_keys
from tests.support.sync import catalog_for
from voucherify_emulator import Emulator

pytestmark = pytest.mark.integration


def sync(emulator: Emulator, tmp_path: Path, **overrides: Any) -> tuple[int, list[Any], str]:
    config = emulator.tap_config(**{
        "start_date": "2021-01-01T00:00:00Z", "end_date": "2025-01-02T00:00:00Z",
        "window_days": 365, "backfill_window_days": 365, "export_timeout": 60, **overrides,
    })  # fmt: skip
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, {"vouchers", "customers"})))
    run = run_tap(config, tmp_path, "--catalog", str(catalog))
    messages = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    return run.returncode, messages, run.stderr


def downloads_of(emulator: Emulator, export_id: str) -> int:
    return sum(1 for r in emulator.requests if r.origin == "download" and export_id in r.path)


@pytest.mark.parametrize("concurrent", [1, 3])
def test_a_dead_download_url_is_replaced_by_the_export_created_again(
    emulator: Emulator, tmp_path: Path, concurrent: int
) -> None:
    emulator.inject("dead_url", times=1, exported_object="voucher")
    status, messages, stderr = sync(emulator, tmp_path, max_concurrent_exports=concurrent)
    assert status == 0, stderr[-3000:]
    for stream in ("vouchers", "customers"):
        got = Counter(
            key_of(stream, m["record"])
            for m in messages
            if m["type"] == "RECORD" and m["stream"] == stream
        )
        assert set(got) == set(truth_keys(emulator, stream)), stream
        assert max(got.values()) == 1, f"{stream}: the dead file yielded no row; none repeats"

    vouchers = [job for job in emulator.exports if job.exported_object == "voucher"]
    dead = vouchers[0]
    (again,) = [job for job in vouchers[1:] if job.parameters == dead.parameters]
    assert len(vouchers) == 6, "5 yearly windows, and the first one created again"
    assert downloads_of(emulator, dead.id) == 1, "the dead URL is not tried five times"
    lines = [line for line in stderr.splitlines() if "that was just refused" in line]
    assert len(lines) == 1
    assert f"vouchers: Get Export answers the download URL of {dead.id}" in lines[0]
    assert "| WARNING" in lines[0]
    listed = [set(m["value"]["exports_on_voucherify"]) for m in messages if m["type"] == "STATE"]
    assert any(again.id in ids for ids in listed), "the export created again is in the ledger"
    assert listed[-1] == set(), "and nothing is left"
    assert all(job.deleted for job in emulator.exports), "the dead one and the new one deleted"


def test_an_export_created_again_whose_url_is_dead_too_stops_the_sync_loudly(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.inject("dead_url", times=2, exported_object="voucher")
    status, messages, stderr = sync(emulator, tmp_path, max_concurrent_exports=1)
    assert status == 1
    (error,) = error_lines(stderr)
    assert "Voucherify refuses the download URL" in error
    assert "for the export created again too" in error
    assert "token=" not in stderr, "download tokens never reach the log"
    first, second = [job for job in emulator.exports if job.exported_object == "voucher"]
    assert downloads_of(emulator, first.id) == downloads_of(emulator, second.id) == 1
    assert all(job.deleted for job in emulator.exports)
    assert [m for m in messages if m["type"] == "STATE"][-1]["value"]["exports_on_voucherify"] == []
