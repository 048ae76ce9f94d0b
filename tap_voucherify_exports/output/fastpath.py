"""The RECORD fast path: an export's records encoded in blocks and written as bytes.

singer-sdk handles every record on its own: a `RecordMessage`, the stream-map pass, a clock
read, a writer call, a counter step, about a fifth of this tap's CPU (benchmarks/README.md).
When all of that is the identity (no stream maps, no flattening, no alias, this tap's writer:
`export_stream.py` decides), a block of records becomes its RECORD lines in one msgspec call: the
records are encoded with `encode_lines`, and each line is wrapped in the message envelope by
one `bytes.replace`. The bytes are those the SDK's msgspec writer writes for the same records
(`time_extracted` is read once per block instead of once per record).

What the SDK's loop does besides (count records, emit a STATE every `STATE_MSG_FREQUENCY`
records) the caller gets through `BlockRecordWriter`'s callbacks, at the same record counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import islice
from typing import Any

from singer_sdk.contrib.msgspec import encoder
from singer_sdk.mapper import SameRecordTransform, StreamMap

from tap_voucherify_exports.output.singer_lines import (
    EncodedRows,
    Envelope,
    split_lines,
    wrap_lines,
)

# Records per encode call: large enough that the per-block work (a clock read, a list, a join)
# vanishes per record, small enough that a block's bytes stay in the CPU cache (~40 KB).
BLOCK_RECORDS = 100


def maps_are_identity(stream_maps: list[StreamMap], stream: str) -> bool:
    """Whether the SDK's stream-map pass hands every record on unchanged, under its own name."""
    if len(stream_maps) != 1:
        return False
    (stream_map,) = stream_maps
    return (
        type(stream_map) is SameRecordTransform
        and stream_map.stream_alias == stream
        and not stream_map.flattening_enabled
    )


def record_lines(
    envelope: Envelope, records: list[dict[str, Any]], time_extracted: dt.datetime
) -> bytes:
    """The RECORD lines of `records`, byte for byte as the SDK's msgspec writer writes them."""
    return wrap_lines(envelope, encoder.encode_lines(records), time_extracted)


class BlockRecordWriter:
    """Writes one stream's records block by block, counting them as the SDK would."""

    def __init__(
        self,
        envelope: Envelope,
        write: Callable[[bytes], None],
        *,
        counted: Callable[[int], None],
        state_every: int,
        write_state: Callable[[], None],
    ) -> None:
        self.envelope = envelope
        self._write = write
        self._counted = counted
        self._state_every = state_every
        self._write_state = write_state
        self.records_written = 0  # across every export of the stream, like the SDK's index

    def emit(self, records: Iterable[dict[str, Any]]) -> Generator[Any, None, None]:
        """`write_all` as the generator export_stream.py's `_sync_window` takes; yields nothing."""
        self.write_all(records)
        yield from ()

    def emit_encoded(self, blocks: Iterable[EncodedRows]) -> Generator[Any, None, None]:
        """`write_encoded` as a generator, for `_sync_window` (export_stream.py); yields nothing."""
        self.write_encoded(blocks)
        yield from ()

    def write_encoded(self, blocks: Iterable[EncodedRows]) -> int:
        """Write RECORD messages the workers encoded (output/workers.py), with a STATE after each
        `state_every`-th record as `write_all`; return how many."""
        written = 0
        for block in blocks:
            messages, rows = block.body, block.rows
            written += rows
            while rows:
                until_state = self._state_every - self.records_written % self._state_every
                if rows > until_state:
                    head, messages = split_lines(messages, until_state)
                    self._emit_messages(head, until_state)
                    rows -= until_state
                else:
                    self._emit_messages(messages, rows)
                    rows = 0
        return written

    def write_all(self, records: Iterable[dict[str, Any]]) -> int:
        """Write every record; return how many. A STATE follows each `state_every`-th record.

        If reading a record fails (a bad cell, a broken download), the records read before it
        are written first, as the SDK's loop would have: the output up to an error is the same.
        """
        iterator: Iterator[dict[str, Any]] = iter(records)
        written = 0
        while True:
            until_state = self._state_every - self.records_written % self._state_every
            block: list[dict[str, Any]] = []
            try:
                # `list.extend` keeps what it took before an exception: see the docstring.
                block.extend(islice(iterator, min(BLOCK_RECORDS, until_state)))
            except BaseException:
                if block:
                    self._emit(block)
                raise
            if not block:
                return written
            self._emit(block)
            written += len(block)

    def _emit(self, block: list[dict[str, Any]]) -> None:
        self._emit_lines(encoder.encode_lines(block), len(block))

    def _emit_lines(self, body: bytes, rows: int) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self._emit_messages(wrap_lines(self.envelope, body, now), rows)

    def _emit_messages(self, messages: bytes, rows: int) -> None:
        self._write(messages)
        self._counted(rows)
        self.records_written += rows
        if self.records_written % self._state_every == 0:
            self._write_state()
