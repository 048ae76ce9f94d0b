"""`tap-voucherify-exports --probe` as a user runs it: a subprocess against the emulator, in
each shape the real API might answer in (voucherify_emulator/shapes.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.emulator import tap_config
from tests.support.sync import catalog_for
from voucherify_emulator import Emulator

PROBE_TIMEOUT_SECONDS = 180
STREAMS = {"vouchers", "redemptions", "points_expirations"}


def probe(emulator, tmp_path, **overrides):
    config = tap_config(emulator, **overrides)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_for(config, STREAMS)))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tap_voucherify_exports",
            "--probe",
            "--config",
            str(config_path),
            "--catalog",
            str(catalog_path),
        ],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_SECONDS,
        check=False,
    )


def section(stdout: str, stream: str) -> str:
    return stdout.split(f"\n{stream} (", 1)[1].split("\n\n", 1)[0]


def assert_all_exports_deleted(emulator):
    jobs = emulator.exports_summary()
    assert jobs
    assert all(job["deleted"] for job in jobs), jobs


def test_the_probe_says_its_cost_shows_each_header_and_first_row_and_deletes_its_exports(
    emulator, tmp_path
):
    result = probe(emulator, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Probe: one small export per selected stream (3: ")
    assert "often minutes" in out
    vouchers = section(out, "vouchers")
    assert "'ID' → id (label, confirmed)" in vouchers
    assert "'Discount Type' → discount_type (label, dashboard)" in vouchers
    assert "refused by Voucherify: none" in vouchers
    assert 'first row, typed: {"' in vouchers
    assert "'Expires At' → expires_at (label, inferred)" in section(out, "points_expirations")
    assert "Probe: 3 of 3 streams OK." in out
    assert '"type":' not in out  # no Singer message: nothing for a target
    assert_all_exports_deleted(emulator)


def test_the_probe_shows_columns_matched_by_key_in_another_order(emulator, tmp_path):
    emulator.set_shape(header="keys", order="reversed")
    result = probe(emulator, tmp_path, metadata_keys={"vouchers": {"count": "integer"}})
    assert result.returncode == 0, result.stderr
    vouchers = section(result.stdout, "vouchers")
    assert "  1  'metadata.count' → metadata.count (key)" in vouchers
    assert "'id' → id (key)" in vouchers


def test_the_probe_shows_a_split_metadata_folded_into_the_object(emulator, tmp_path):
    emulator.set_shape(metadata="split")
    result = probe(emulator, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "'Metadata region' → metadata['region'] (metadata key)" in section(
        result.stdout, "vouchers"
    )


def test_the_probe_names_a_refused_field_and_still_passes(emulator, tmp_path):
    emulator.set_shape(reject={"redemption": ["order_id"]})
    result = probe(emulator, tmp_path)
    assert result.returncode == 0, result.stderr
    redemptions = section(result.stdout, "redemptions")
    assert "refused by Voucherify: order_id" in redemptions
    assert "Order ID" not in redemptions


def test_the_probe_exits_1_naming_a_stream_whose_columns_cannot_be_told_apart(emulator, tmp_path):
    emulator.set_shape(relabel={"discount_type": "Rabatt"}, order="reversed")
    result = probe(emulator, tmp_path)
    assert result.returncode == 1
    vouchers = section(result.stdout, "vouchers")
    assert "FAILED: vouchers: cannot tell which column holds which field" in vouchers
    assert "Rabatt" in vouchers
    assert "would fail: vouchers." in result.stdout
    assert_all_exports_deleted(emulator)


@pytest.mark.parametrize("shape", [{"relabel": {"discount_type": "Rabatt"}}])
def test_the_probe_shows_a_column_matched_by_position_with_its_warning(emulator, tmp_path, shape):
    emulator.set_shape(**shape)
    result = probe(emulator, tmp_path)
    assert result.returncode == 0, result.stderr
    vouchers = section(result.stdout, "vouchers")
    assert "'Rabatt' → discount_type (position)" in vouchers
    assert "warning: vouchers: header cell(s) Rabatt match no field key or label" in vouchers
    assert "Free text, which no check can tell apart: discount_type." in vouchers


def test_the_probe_shows_each_amount_as_sent_beside_its_typed_value(emulator, tmp_path):
    result = probe(emulator, tmp_path)
    assert result.returncode == 0, result.stderr
    vouchers = section(result.stdout, "vouchers")
    head = "  amounts, as sent → typed (passed through unscaled; the unit is your account's):"
    assert head in vouchers
    amounts = vouchers.split(head + "\n", 1)[1].splitlines()[:-1]  # up to "  OK"
    keys = ["value", "gift_balance", "discount_amount_limit"]
    assert [line.split(":")[0].strip() for line in amounts] == keys
    for line in amounts:
        match = re.fullmatch(r"    \w+: '([^']*)' → (.*)", line)
        assert match, line
        sent, typed = match.groups()
        assert typed == (sent or "null"), line  # unscaled: the digits as sent
    assert "    order_amount: '" in section(result.stdout, "redemptions")
    assert "amounts, as sent" not in section(result.stdout, "points_expirations")


def test_the_probe_exits_1_naming_a_column_by_position_that_does_not_fit(emulator, tmp_path):
    emulator.set_shape(
        swap=["code", "campaign_id"], relabel={"code": "Kod", "campaign_id": "Kampania"}
    )
    result = probe(emulator, tmp_path)
    assert result.returncode == 1
    vouchers = section(result.stdout, "vouchers")
    assert "FAILED: vouchers: column 8 ('Kod') matches no field key or label" in vouchers
    assert "would fail: vouchers." in result.stdout
    assert_all_exports_deleted(emulator)


def test_the_probe_shows_bare_metadata_keys_folded_with_the_warning(emulator, tmp_path):
    emulator.set_shape(metadata="bare")
    result = probe(emulator, tmp_path)
    assert result.returncode == 0, result.stderr
    vouchers = section(result.stdout, "vouchers")
    assert "'region' → metadata['region'] (metadata key)" in vouchers
    assert "warning: vouchers: the export's header has no `metadata` column" in vouchers


def test_the_probe_looks_back_one_backfill_window_at_a_time_never_the_whole_history(
    emulator, tmp_path
):
    # The emulator's rows end in early 2025; the probe runs "now", so its last day and last 30
    # days are empty: it steps back a year at a time and stops at the first window with a row.
    result = probe(emulator, tmp_path, backfill_window_days=365)
    assert result.returncode == 0, result.stderr
    notice = result.stdout.splitlines()[0]
    assert "then 365 days at a time back to start_date, up to " in notice
    vouchers = [job for job in emulator.exports if job.exported_object == "voucher"]
    assert len(vouchers) >= 3, "the last day and 30 days held no row"
    day_ms = 86_400_000
    spans = [(job.spec.before_ms - job.spec.after_ms) / day_ms for job in vouchers]
    assert max(spans) <= 365 + 1, spans  # no export of the whole history
    assert "first row, typed: {" in section(result.stdout, "vouchers")
    assert_all_exports_deleted(emulator)


def test_the_probe_says_when_voucherify_ignored_the_filter_and_stops_looking_back(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.set_shape(ignore_filters=["voucher"])
    result = probe(emulator, tmp_path)
    assert result.returncode == 0, result.stderr
    vouchers = section(result.stdout, "vouchers")
    [voucher_export] = [job for job in emulator.exports if job.exported_object == "voucher"]
    assert f"  export {voucher_export.id} (voucher export (created_at window [" in vouchers
    assert "): no row; 400 rows outside the window\n" in vouchers
    assert (
        f"  filter ignored: Voucherify ignored the export filter on created_at: "
        f"{voucher_export.id} held 400 rows outside ["
    ) in vouchers
    assert "A sync drops such rows and exports the rest of the range once" in vouchers
    assert "first row, typed: none inside the window (older windows not tried: the filter is " in (
        vouchers
    )
    assert "filter ignored" not in section(result.stdout, "redemptions")
    assert "Probe: 3 of 3 streams OK." in result.stdout
    assert_all_exports_deleted(emulator)


def test_the_probe_says_when_an_export_came_in_several_files(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.set_shape(parts=3, result="parts")
    result = probe(emulator, tmp_path)
    assert result.returncode == 0, result.stderr
    for stream in STREAMS:
        lines = section(result.stdout, stream).splitlines()
        [note] = [line for line in lines if line.startswith("  split result: ")]
        assert note.endswith(" came in 3 files; a sync reads every file, in order "
                             "(docs/reliability.md)."), note  # fmt: skip
        assert any(line.endswith(", in 3 files") for line in lines if "  export " in line)
        assert 'first row, typed: {"' in "\n".join(lines)
    assert_all_exports_deleted(emulator)
