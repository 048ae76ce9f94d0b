"""The tap: its streams share one session, opened only around a sync or a dry run."""

import pytest

from tap_voucherify_exports.export_stream import VoucherifyExportStream
from tap_voucherify_exports.list_stream import VoucherifyListStream
from tap_voucherify_exports.streams import LIST_STREAM_TYPES, STREAM_TYPES
from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.support.fake_api import voucher
from tests.support.sync import catalog_for, records, run_sync


def test_every_stream_gets_the_taps_one_session(config):
    tap = TapVoucherifyExports(config=config)
    assert {type(stream) for stream in tap.streams.values()} == {
        *STREAM_TYPES,
        *LIST_STREAM_TYPES,
    }
    assert all(
        isinstance(stream, VoucherifyExportStream | VoucherifyListStream)
        and stream.session is tap.session
        for stream in tap.streams.values()
    )


def test_the_session_is_closed_after_a_sync_and_after_a_failed_one(config, fake):
    fake.rows["voucher"] = [voucher(1, "2024-01-02T00:00:00.000Z")]
    tap = TapVoucherifyExports(config=config, catalog=catalog_for(config, {"vouchers"}))
    tap.sync_all()
    with pytest.raises(RuntimeError, match="No sync is open"):
        _ = tap.session.sync_end
    fake.final_status = "ERROR"
    config["min_window_seconds"] = 86400 * 30
    failing = TapVoucherifyExports(config=config, catalog=catalog_for(config, {"vouchers"}))
    with pytest.raises(Exception, match="ended in ERROR"):
        failing.sync_all()
    with pytest.raises(RuntimeError, match="No sync is open"):
        _ = failing.session.sync_end


def test_every_selected_streams_exports_are_planned_before_the_first_download(config, fake):
    config["max_concurrent_exports"] = 4
    fake.rows["voucher"] = [voucher(1, "2024-01-02T00:00:00.000Z")]
    messages = run_sync(config, streams={"vouchers", "customers"})
    objects = [body["exported_object"] for body in fake.created]
    # Two windows each (window_days 30 over two months), in the order the SDK syncs streams.
    order = [
        stream.exported_object
        for stream in TapVoucherifyExports(config=config).streams.values()
        if isinstance(stream, VoucherifyExportStream) and stream.name in {"vouchers", "customers"}
    ]
    assert objects == [order[0], order[0], order[1], order[1]]
    assert [r["id"] for r in records(messages)] == ["v_1"]


def test_a_dry_run_runs_inside_its_own_session(config, fake):
    tap = TapVoucherifyExports(config=config, catalog=catalog_for(config, {"vouchers"}))
    fake.rows["voucher"] = [voucher(1, "2024-01-02T00:00:00.000Z")]
    assert tap.run_sync_dry_run(dry_run_record_limit=1, streams=[tap.streams["vouchers"]])
    assert {body["exported_object"] for body in fake.created} == {"voucher"}
    with pytest.raises(RuntimeError, match="No sync is open"):
        _ = tap.session.sync_end
