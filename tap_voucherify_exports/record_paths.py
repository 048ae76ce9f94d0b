"""Which way a stream's records leave the tap, and on which processes.

Three ways: singer-sdk's own per-record loop; the RECORD fast path (fastpath.py), whenever
that loop would hand every record on unchanged; the tap's BATCH writer (batch.py). The fast
ways read an export on the tap's process, or on the `parallel_workers` processes (parallel.py)
when there are any. `streams.VoucherifyExportStream` takes the way `_record_path` or
`_batch_path` chooses.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from singer_sdk import Stream, Tap, metrics
from singer_sdk.helpers.types import Context, Record
from singer_sdk.singerlib.messages import RecordMessage

from tap_voucherify_exports.batch import BatchFileWriter
from tap_voucherify_exports.exports import ExportRequest
from tap_voucherify_exports.fastpath import ChunkedRecordWriter, maps_are_identity
from tap_voucherify_exports.output import StateFlushingWriter
from tap_voucherify_exports.session import SyncSession

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

T = TypeVar("T")
# What `streams._sync_window` hands a window's records (or their encoded lines) to (see there).
Emit = Callable[[Iterator[Any]], Generator[T, None, T | None]]
# Where it takes them from: the session's `records` or `encoded_records`.
Read = Callable[[ExportRequest], Iterator[Any]]


def _pass_on(records: Iterator[Record]) -> Generator[Record, None, None]:
    yield from records


class RecordPaths(Stream):
    """The choice of a way out for the records of `streams.VoucherifyExportStream`."""

    session: SyncSession

    def _init_paths(self, tap: Tap) -> None:
        self._writer = tap.message_writer
        self._record_counter: metrics.Counter | None = None
        self._chunk_writer: ChunkedRecordWriter | None = None
        self._said_not_parallel = False

    def _record_path(self, context: Context | None) -> tuple[Emit[Any], Read]:
        """RECORD messages: the fast path when it writes what the SDK would, on the workers when
        there are any; else the SDK's loop (the records are handed on as they are read)."""
        fast = self._fast_record_writer(context)
        if fast is None:
            self._parallel(fast_path=False)
            return _pass_on, self.session.records
        if self._parallel(fast_path=True):
            envelope = (self.name, self._stream_version)
            return fast.emit_encoded, functools.partial(
                self.session.encoded_records, envelope=envelope
            )
        return fast.emit, self.session.records

    def _batch_path(self, writer: BatchFileWriter) -> tuple[Emit[list[str]], Read]:
        """The tap's BATCH files, their rows encoded on the workers when there are any."""
        if self._parallel(fast_path=True):
            return writer.write_encoded_export, self.session.encoded_records
        return writer.write_export, self.session.records

    def _parallel(self, *, fast_path: bool) -> bool:
        """Whether the `parallel_workers` processes read this stream: only the fast paths
        (RECORD or BATCH) take their encoded lines; otherwise say once why they do not."""
        if self.session.settings.parallel_workers == 1:
            return False
        if not fast_path and not self._said_not_parallel:
            self._said_not_parallel = True
            self.logger.warning(
                "parallel_workers is %d, but %s is read in the tap's own process: its records go "
                "through singer-sdk's per-record path (stream maps, flattening, an alias, "
                "partitions, a dry run or a batch format other than jsonl).",
                self.session.settings.parallel_workers, self.name,
            )  # fmt: skip
        return fast_path

    def _sdk_loop_is_identity(self, context: Context | None, *, maps: bool = True) -> bool:
        """Whether the SDK's per-record loop hands every record on unchanged: no partition keys
        to add, no dry-run record limit, no `post_process`, and (`maps`) no stream map,
        flattening or alias."""
        return not (
            context
            or self.ABORT_AT_RECORD_COUNT is not None
            or type(self).post_process is not Stream.post_process
            or (maps and not maps_are_identity(self.stream_maps, self.name))
        )

    def _fast_record_writer(self, context: Context | None) -> ChunkedRecordWriter | None:
        """fastpath.py's writer when the SDK's per-record loop would write the very same
        messages (see `_sdk_loop_is_identity`; this tap's writer; not BATCH mode), else None:
        the SDK's loop writes them."""
        if (
            not self._sdk_loop_is_identity(context)
            or type(self._writer) is not StateFlushingWriter
            or self._record_counter is None
            or self.get_batch_config(self.config) is not None
        ):
            return None
        if self._chunk_writer is None:
            counter, writer = self._record_counter, self._writer

            def counted(records: int) -> None:
                counter.increment(records)
                self.state_manager.is_flushed = False  # as the SDK's `_write_record_message`

            self._chunk_writer = ChunkedRecordWriter(
                self.name, self._stream_version, writer.write_record_lines, counted=counted,
                state_every=self.STATE_MSG_FREQUENCY, write_state=self._write_state_message,
            )  # fmt: skip
        return self._chunk_writer

    @override
    def get_record_counter(
        self, *, endpoint: str | None = None, log_interval: float = metrics.DEFAULT_LOG_INTERVAL
    ) -> metrics.Counter:
        # The counter the SDK's loop opens around `get_records`: the fast path counts on it.
        self._record_counter = super().get_record_counter(
            endpoint=endpoint, log_interval=log_interval
        )
        return self._record_counter

    # --- singer-sdk private hooks (more in streams.py, with the rules) ---------------------------
    # Relied on by the RECORD fast path (`_fast_record_writer`, fastpath.py), which writes the
    # records itself and hands the SDK's `_sync_records` loop none: that loop opens the record
    # counter through the public `get_record_counter` before it calls `get_records` (the fast
    # path counts on that counter), emits STATE every `STATE_MSG_FREQUENCY` records (the fast
    # path does the same at the same counts) and has no other per-record effect for this tap.
    # Called: `_stream_version` (the version RECORD messages carry), `_write_state_message()`.

    @override
    def _generate_record_messages(self, record: Record) -> Generator[RecordMessage, None, None]:
        # The SDK's version first walks every record (into nested objects) popping deselected
        # properties, then re-conforms types: a third of this tap's CPU on wide exports
        # (benchmarks/). Here both are no-ops by construction: the export requested only the
        # selected fields and records.py already emits the schema's types. What remains is the
        # SDK's own path; a test proves the output identical to the SDK default.
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=dt.datetime.now(dt.timezone.utc),
                )
