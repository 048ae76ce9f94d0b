"""The fast output path (msgspec writer, no SDK conformance, the RECORD fast path of
output/fastpath.py) writes what the SDK default writes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import pytest
from singer_sdk import Stream, metrics
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter

from tap_voucherify_exports.export_stream import VoucherifyExportStream
from tap_voucherify_exports.output.fastpath import BlockRecordWriter
from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.support.emulator import tap_config
from tests.support.sync import STREAM_OBJECTS, run_sync, spy_on_pieces, without_ledger
from tests.support.sync import records as records_of


def comparable(messages: list[dict]) -> list[dict]:
    # Extraction times and ACTIVATE_VERSION versions (the sync's start, in seconds) differ; the
    # SDK's writer writes no ledger of exports, and when one is created depends on the threads.
    return [
        {k: v for k, v in m.items() if k not in {"time_extracted", "version"}}
        for m in without_ledger(messages)
    ]


def record_counts(caplog: pytest.LogCaptureFixture) -> dict[str, int]:
    """Records counted per stream, summed over the SDK's `record_count` metric lines."""
    counts: dict[str, int] = {}
    for entry in caplog.records:
        if entry.name == metrics.METRICS_LOGGER_NAME and isinstance(entry.args, tuple):
            point = json.loads(str(entry.args[0]))
            if point["metric"] == "record_count":
                stream = point["tags"]["stream"]
                counts[stream] = counts.get(stream, 0) + point["value"]
    return counts


@pytest.mark.parametrize("state_every", [None, 7])
def test_fast_path_output_equals_the_sdk_default_output(emulator, monkeypatch, caplog, state_every):
    """Message for message (`time_extracted` aside), STATE at the same points, same counts.

    `state_every` = 7 has the SDK ask for a STATE every 7 records (its state writer drops the
    ones that repeat the last): the fast path cuts its chunks there and asks at the same counts."""
    config = tap_config(emulator, end_date="2026-01-01T00:00:00Z", full_refresh_days=0)
    if state_every:
        monkeypatch.setattr(VoucherifyExportStream, "STATE_MSG_FREQUENCY", state_every)
    chunks: list[int] = []
    original = BlockRecordWriter.write_all

    def spy(self: BlockRecordWriter, records: Iterable[dict]) -> int:
        chunks.append(written := original(self, records))
        return written

    monkeypatch.setattr(BlockRecordWriter, "write_all", spy)
    caplog.set_level(logging.INFO, logger=metrics.METRICS_LOGGER_NAME)
    fast = run_sync(config, streams=set(STREAM_OBJECTS))
    fast_counts = record_counts(caplog)
    assert sum(chunks) == sum(m["type"] == "RECORD" for m in fast), "not all on the fast path"

    caplog.clear()
    chunks.clear()
    monkeypatch.setattr(TapVoucherifyExports, "message_writer_class", SingerWriter)
    monkeypatch.setattr(
        VoucherifyExportStream, "TYPE_CONFORMANCE_LEVEL", TypeConformanceLevel.RECURSIVE
    )
    monkeypatch.setattr(
        VoucherifyExportStream, "_generate_record_messages", Stream._generate_record_messages
    )
    default = run_sync(config, streams=set(STREAM_OBJECTS))
    assert chunks == [], "the SDK default run took the fast path"

    assert len(fast) > 1000
    assert comparable(fast) == comparable(default)
    assert fast_counts == record_counts(caplog)
    assert fast_counts == {s: len(records_of(fast, s)) for s in STREAM_OBJECTS}


def test_a_stream_map_sends_records_through_the_sdk_loop(emulator, monkeypatch):
    """Any stream map (here an alias and a derived property) turns the fast path off."""
    written: list[int] = []

    def write_all(self: BlockRecordWriter, records: Any) -> int:
        written.append(1)
        return 0

    monkeypatch.setattr(BlockRecordWriter, "write_all", write_all)
    config = tap_config(
        emulator,
        end_date="2026-01-01T00:00:00Z",
        stream_maps={"vouchers": {"__alias__": "coupons", "code_upper": "code.upper()"}},
    )
    messages = run_sync(config, streams={"vouchers"})
    assert written == []
    coupons = records_of(messages, "coupons")
    assert coupons
    assert all(r["code_upper"] == r["code"].upper() for r in coupons)


@pytest.mark.parametrize("stream", sorted(STREAM_OBJECTS))
def test_every_record_validates_against_its_schema(emulator, stream):
    from jsonschema import Draft202012Validator, FormatChecker

    messages = run_sync(tap_config(emulator), streams={stream})
    schema = next(m["schema"] for m in messages if m["type"] == "SCHEMA")
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    for message in messages:
        if message["type"] == "RECORD":
            validator.validate(message["record"])


@pytest.mark.parametrize("state_every", [None, 7])
def test_two_workers_write_what_one_process_writes(emulator, monkeypatch, caplog, state_every):
    """`parallel_workers` 2: the same messages (`time_extracted` aside), STATE at the same
    points, the same record counts, with pieces small enough that every export is cut in many
    (a piece then straddles the STATE points and, in the emulator's data, multi-line cells)."""
    config = tap_config(emulator, end_date="2026-01-01T00:00:00Z", full_refresh_days=0)
    if state_every:
        monkeypatch.setattr(VoucherifyExportStream, "STATE_MSG_FREQUENCY", state_every)
    pieces = spy_on_pieces(monkeypatch, 2048)
    caplog.set_level(logging.INFO, logger=metrics.METRICS_LOGGER_NAME)
    one = run_sync(config, streams=set(STREAM_OBJECTS))
    one_counts = record_counts(caplog)

    caplog.clear()
    assert not pieces
    two = run_sync({**config, "parallel_workers": 2}, streams=set(STREAM_OBJECTS))

    assert len(pieces) > 2 * len(STREAM_OBJECTS), "the exports were not cut in pieces"
    assert len(one) > 1000
    assert comparable(two) == comparable(one)
    assert record_counts(caplog) == one_counts
