"""output/fastpath.py: RECORD lines byte for byte as the SDK's msgspec writer writes them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib.messages import RecordMessage

from tap_voucherify_exports.output.fastpath import BlockRecordWriter, record_lines
from tap_voucherify_exports.output.singer_lines import Envelope

NOW = dt.datetime(2026, 12, 1, 19, 0, 0, 123456, tzinfo=dt.timezone.utc)
RECORDS: list[dict[str, Any]] = [
    {"id": "v1", "value": Decimal("2000.00"), "note": 'line\nbreak \u2028 "quoted"', "n": None},
    {"id": "v2", "value": Decimal("200000"), "metadata": {"a": [1, 2], "b": "é"}, "n": 3},
    {"id": "v3", "value": None, "metadata": {}, "n": True},
]


@pytest.mark.parametrize("version", [None, 1764615600])
def test_record_lines_are_the_sdk_writers_bytes(version: int | None) -> None:
    writer = MsgSpecWriter()
    expected = b"".join(
        bytes(writer.format_message(RecordMessage("vouchers", r, version, NOW))) for r in RECORDS
    )
    assert record_lines(Envelope("vouchers", version), RECORDS, NOW) == expected


def _writer(out: list[bytes], states: list[int], every: int) -> BlockRecordWriter:
    writer: BlockRecordWriter

    def write_state() -> None:
        states.append(writer.records_written)

    writer = BlockRecordWriter(
        Envelope("s", None),
        out.append,
        counted=lambda n: None,
        state_every=every,
        write_state=write_state,
    )
    return writer


def test_a_state_is_asked_for_at_every_multiple_across_exports() -> None:
    out: list[bytes] = []
    states: list[int] = []
    writer = _writer(out, states, every=7)
    assert writer.write_all({"i": i} for i in range(10)) == 10
    assert writer.write_all({"i": i} for i in range(12)) == 12
    assert states == [7, 14, 21]
    assert b"".join(out).count(b"\n") == 22


def test_records_read_before_an_error_are_written_then_the_error_raised() -> None:
    def records() -> Any:
        yield {"i": 1}
        yield {"i": 2}
        raise ValueError("bad cell")

    out: list[bytes] = []
    with pytest.raises(ValueError, match="bad cell"):
        _writer(out, [], every=10_000).write_all(records())
    assert b"".join(out).count(b'"record":') == 2
