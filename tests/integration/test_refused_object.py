"""An account that cannot export `voucher_transactions` (the spec's captured 400 lists the
exportable objects without it; Loyalty v2 has no export): a default sync never asks for it,
and one that selects it stops with Voucherify's message and a hint to deselect it. Over real
HTTP, through the CLI as a subprocess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import error_lines, run_tap
from tests.support.sync import catalog_for
from voucherify_emulator import Emulator

pytestmark = pytest.mark.integration


def config(emulator: Emulator) -> dict[str, Any]:
    return emulator.tap_config(
        start_date="2020-01-01T00:00:00Z", window_days=3650, backfill_window_days=3650
    )


def test_discovery_leaves_voucher_transactions_unselected_and_a_default_sync_never_asks_for_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.set_shape(refuse_objects=["voucher_transactions"])
    discovered = run_tap(config(emulator), tmp_path, "--discover")
    assert discovered.returncode == 0, discovered.stderr
    defaults = {
        stream["tap_stream_id"]: entry["metadata"]
        for stream in json.loads(discovered.stdout)["streams"]
        for entry in stream["metadata"]
        if entry["breadcrumb"] == []
    }
    assert defaults["voucher_transactions"]["selected-by-default"] is False
    assert defaults["voucher_transactions"]["selected"] is False
    assert all(defaults[name]["selected"] for name in defaults if name != "voucher_transactions")

    run = run_tap(config(emulator), tmp_path)  # no catalog: the tap's default selection
    assert run.returncode == 0, run.stderr[-3000:]
    streams = {
        json.loads(line)["stream"]
        for line in run.stdout.splitlines()
        if json.loads(line)["type"] == "RECORD"
    }
    # Every stream selected by default wrote records; bin_entries (an empty bin here) none.
    assert streams == set(defaults) - {"voucher_transactions", "bin_entries"}
    assert {job.exported_object for job in emulator.exports} == {
        "voucher", "redemption", "publication", "customer", "order", "points_expiration",
    }  # fmt: skip


def test_a_selected_object_the_account_refuses_stops_the_sync_with_its_message_and_a_hint(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.set_shape(refuse_objects=["voucher_transactions"])
    catalog = tmp_path / "catalog.json"
    settings = config(emulator)
    catalog.write_text(json.dumps(catalog_for(settings, {"voucher_transactions"})))
    run = run_tap(settings, tmp_path, "--catalog", str(catalog))
    assert run.returncode == 1
    (error,) = error_lines(run.stderr)
    assert error.startswith("voucher_transactions: Voucherify refuses to export")
    assert "Property .exported_object should be equal to one of the allowed values" in error
    assert "Deselect the stream voucher_transactions" in error
    assert "!voucher_transactions.*" in error
    assert emulator.exports == [], "nothing was created"
