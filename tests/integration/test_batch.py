"""BATCH mode (`batch_config`): batch files hold the RECORD path's rows, and every STATE comes
after the BATCH messages of all the rows it covers, on the fast writer (output/batch.py) and on
singer-sdk's batcher (taken when a stream map is configured)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from singer_sdk import Stream

from tap_voucherify_exports.export_stream import VoucherifyExportStream
from tap_voucherify_exports.streams import STREAM_TYPES
from tests.support.ground_truth import key_of
from tests.support.sync import STREAM_OBJECTS, declared, run_sync, spy_on_pieces, without_ledger
from tests.support.sync import records as records_of

STREAMS = set(STREAM_OBJECTS)
REPLICATION_KEYS: dict[str, str] = {
    declared(s, "name"): declared(s, "replication_key")
    for s in STREAM_TYPES
    if declared(s, "replication_key")
}


def batch_config(root: Path, batch_size: int = 70) -> dict[str, Any]:
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": root.as_uri()},
        "batch_size": batch_size,
    }


def read_file(url: str) -> list[dict[str, Any]]:
    with gzip.open(urlparse(url).path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def batched(messages: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [
        row
        for m in messages
        if m["type"] == "BATCH" and m["stream"] == stream
        for url in m["manifest"]
        for row in read_file(url)
    ]


def assert_state_follows_its_batches(messages: list[dict[str, Any]]) -> None:
    """At every STATE, each bookmarked stream's rows before its bookmark are all in files of
    BATCH messages already written: a target that commits that STATE has them all."""
    for index, message in enumerate(messages):
        if message["type"] != "STATE":
            continue
        for stream, state in message["value"].get("bookmarks", {}).items():
            bookmark = state.get("replication_key_value")
            if not bookmark:
                continue
            key = REPLICATION_KEYS[stream]
            announced = {key_of(stream, row) for row in batched(messages[:index], stream)}
            later = batched(messages[index:], stream)
            lost = [row for row in later
                    if row[key] < bookmark.replace("+00:00", "Z")
                    and key_of(stream, row) not in announced]  # fmt: skip
            assert not lost, f"{stream}: STATE {bookmark} came before the BATCH of {len(lost)} rows"


def test_batch_files_hold_the_rows_the_record_route_would_emit_and_state_follows_them(
    emulator, tmp_path
):
    config = emulator.tap_config(end_date="2026-01-01T00:00:00Z", full_refresh_days=0)
    records = run_sync(config, streams=STREAMS)
    batches = run_sync({**config, "batch_config": batch_config(tmp_path)}, streams=STREAMS)

    assert not [m for m in batches if m["type"] == "RECORD"]
    urls = [url for m in batches if m["type"] == "BATCH" for url in m["manifest"]]
    assert all(url.endswith(".jsonl.gz") for url in urls), "not the tap's own batch writer"
    assert max(len(read_file(url)) for url in urls) == 70
    for stream in STREAMS:
        # json.loads of both sides: numbers as floats on either, compared exactly.
        assert batched(batches, stream) == records_of(records, stream), stream
    assert_state_follows_its_batches(batches)
    last = [m["value"] for m in records if m["type"] == "STATE"][-1]
    assert [m["value"] for m in batches if m["type"] == "STATE"][-1] == last


def test_a_stream_map_does_not_change_batch_files(emulator, tmp_path):
    # singer-sdk applies stream maps to RECORD messages only; its batch files hold the records
    # unmapped, and so do the tap's.
    config = emulator.tap_config(end_date="2026-01-01T00:00:00Z")
    plain = run_sync({**config, "batch_config": batch_config(tmp_path / "a")}, streams={"vouchers"})
    mapped = run_sync(
        {**config, "batch_config": batch_config(tmp_path / "b"),
         "stream_maps": {"vouchers": {"code_upper": "code.upper()"}}},
        streams={"vouchers"},
    )  # fmt: skip
    assert batched(mapped, "vouchers") == batched(plain, "vouchers")


@pytest.mark.parametrize("batch_size", [70, 10_000])
def test_the_sdk_batcher_path_writes_state_after_its_batch(
    emulator, tmp_path, monkeypatch, batch_size
):
    """A `post_process` (or partitions, or a dry-run limit) keeps singer-sdk's own batcher."""

    def post_process(self: Stream, row: dict, context: Any = None) -> dict:
        return {**row, "seen": True}

    monkeypatch.setattr(VoucherifyExportStream, "post_process", post_process)
    config = emulator.tap_config(
        end_date="2026-01-01T00:00:00Z", batch_config=batch_config(tmp_path, batch_size)
    )
    messages = run_sync(config, streams={"vouchers"})
    urls = [url for m in messages if m["type"] == "BATCH" for url in m["manifest"]]
    assert urls
    assert not [url for url in urls if url.endswith(".jsonl.gz")], "not the SDK's batcher"
    rows = batched(messages, "vouchers")
    assert len(rows) == len(emulator.ground_truth("voucher"))
    assert all(row["seen"] for row in rows)
    assert_state_follows_its_batches(messages)


def test_two_workers_write_the_same_batch_files(emulator, tmp_path, monkeypatch):
    """`parallel_workers` 2 in BATCH mode: the workers encode the rows, the tap fills the files
    to `batch_size` (pieces straddle files) and STATE still follows their BATCH messages."""
    pieces = spy_on_pieces(monkeypatch, 3000)
    config = emulator.tap_config(end_date="2026-01-01T00:00:00Z")
    one = run_sync({**config, "batch_config": batch_config(tmp_path / "one")}, streams=STREAMS)
    assert not pieces
    two = run_sync(
        {**config, "batch_config": batch_config(tmp_path / "two"), "parallel_workers": 2},
        streams=STREAMS,
    )
    assert len(pieces) > 2 * len(STREAMS)
    sizes = [len(read_file(url)) for m in two if m["type"] == "BATCH" for url in m["manifest"]]
    assert sizes == [len(read_file(url)) for m in one if m["type"] == "BATCH"
                     for url in m["manifest"]]  # fmt: skip
    for stream in STREAMS:
        assert batched(two, stream) == batched(one, stream), stream
    assert_state_follows_its_batches(two)
    # The same STATEs, but for the ledger of exports (ids and creation times differ).
    assert [m["value"] for m in without_ledger(two) if m["type"] == "STATE"] == [
        m["value"] for m in without_ledger(one) if m["type"] == "STATE"
    ]
