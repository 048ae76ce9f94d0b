"""The fast output path (msgspec writer, no SDK conformance) writes what the SDK default writes."""

from __future__ import annotations

import pytest
from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter

from tap_voucherify_exports.streams import VoucherifyExportStream
from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.helpers import STREAM_OBJECTS, run_sync
from tests.integration.conftest import tap_config


def comparable(messages: list[dict]) -> list[dict]:
    # Extraction times and ACTIVATE_VERSION versions (the sync's start, in seconds) differ.
    return [
        {k: v for k, v in m.items() if k not in {"time_extracted", "version"}} for m in messages
    ]


def test_fast_path_output_equals_the_sdk_default_output(emulator, monkeypatch):
    config = tap_config(emulator, end_date="2026-01-01T00:00:00Z")
    fast = run_sync(config, streams=set(STREAM_OBJECTS))

    monkeypatch.setattr(TapVoucherifyExports, "message_writer_class", SingerWriter)
    monkeypatch.setattr(
        VoucherifyExportStream, "TYPE_CONFORMANCE_LEVEL", TypeConformanceLevel.RECURSIVE
    )
    monkeypatch.setattr(
        VoucherifyExportStream, "_generate_record_messages", Stream._generate_record_messages
    )
    default = run_sync(config, streams=set(STREAM_OBJECTS))

    assert len(fast) > 1000
    assert comparable(fast) == comparable(default)


@pytest.mark.parametrize("stream", sorted(STREAM_OBJECTS))
def test_every_record_validates_against_its_schema(emulator, stream):
    from jsonschema import Draft202012Validator, FormatChecker

    messages = run_sync(tap_config(emulator), streams={stream})
    schema = next(m["schema"] for m in messages if m["type"] == "SCHEMA")
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    for message in messages:
        if message["type"] == "RECORD":
            validator.validate(message["record"])
