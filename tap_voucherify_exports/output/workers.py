"""`parallel_workers`: an export's CSV parsed, typed and encoded by worker processes.

The main process reads the download and cuts the body into pieces of whole records, about
`PIECE_BYTES` each; the workers turn a piece into its records' JSON lines (parsing/records.py's
`piece_records`, then msgspec's `encode_lines`: the same bytes as the one-process path); the
main process takes the results back in order and writes them (output/fastpath.py). The parsing, the
typing and the encoding, 85 % of the work (benchmarks/README.md), run on every core.

Where a record ends: at a line break with an even number of `"` since the record began (RFC
4180 quotes a cell holding `"`, a comma or a line break, and doubles each `"` inside it). An
export that breaks that rule (a bare `"` inside an unquoted cell: Python's csv module reads it as
text) would make a piece end inside a quoted cell: the worker's csv reader (strict) then reaches
the piece's end inside quotes and fails, naming the line. Never a silently wrong record.

A download that breaks is resumed after the last piece whose records were handed on, by byte
offset (a record boundary), not by counting rows again.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime as dt
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import requests
from singer_sdk.contrib.msgspec import encoder

from tap_voucherify_exports.errors import BROKEN_DOWNLOAD_ERRORS, CsvFormatError, VoucherifyError
from tap_voucherify_exports.fields import ExportedObjectTable
from tap_voucherify_exports.output.memory import keep_freed_memory
from tap_voucherify_exports.output.singer_lines import EncodedRows, Envelope, wrap_lines
from tap_voucherify_exports.parsing.columns import ColumnMap
from tap_voucherify_exports.parsing.evidence import EVIDENCE_ROWS
from tap_voucherify_exports.parsing.records import CsvRecordReader, count_lines, max_line_chars
from tap_voucherify_exports.parsing.window_rows import WindowBounds

LOGGER = logging.getLogger("tap_voucherify_exports")

# Bytes of CSV per piece: about 1,500 voucher rows, 40 ms of a worker's time, so the per-piece
# costs (a pickle, a pipe round trip, a future) vanish; small enough that a few pieces in flight
# per worker keep the memory of the whole process tree low.
PIECE_BYTES = 1 << 20
# Pieces in flight per worker: one being parsed, one queued for it, so no worker ever waits.
PIECES_PER_WORKER = 2
# A UTF-8 character is at most 4 bytes: the longest valid record, in bytes.
_UTF8_MAX = 4
_BOM = b"\xef\xbb\xbf"
# How soon a worker notices that the tap is gone.
PARENT_CHECK_SECONDS = 0.5


@dataclass(frozen=True)
class PieceSpec:
    """What a worker needs to read the rows of one export file's pieces."""

    key: str  # one per export file: a worker builds its reader once per file
    stream_name: str
    table: ExportedObjectTable
    fields: tuple[str, ...]
    column_map: ColumnMap
    width: int
    # (stream, version): the workers write RECORD messages; None: bare JSON lines (BATCH files).
    envelope: Envelope | None
    bounds: WindowBounds | None = None  # rows outside the export's window are dropped
    keep_keys: int = 0  # a piece of at most this many rows sends its `id` cells back


def record_end(data: bytes, start: int = 0, *, last: bool = True) -> int:
    """Where the last (or first, `last=False`) whole record in `data[start:]` ends, or 0.

    `data[start:]` begins at a record boundary; a record ends at a "\\n" outside quotes, that
    is with an even number of `"` since `start` (a "\\r\\n" ends at its "\\n").
    """
    if last:
        end = data.rfind(b"\n", start)
        quotes = data.count(b'"', start, end + 1)
        while end >= 0 and quotes % 2:
            before = data.rfind(b"\n", start, end)
            quotes -= data.count(b'"', before + 1, end + 1)
            end = before
        return end + 1
    end, quotes = start - 1, 0
    while (after := data.find(b"\n", end + 1)) >= 0:
        quotes += data.count(b'"', end + 1, after + 1)
        end = after
        if not quotes % 2:
            return end + 1
    return 0


def record_pieces(
    read: Callable[[int], bytes], *, skip: int, header: bool, max_record: int
) -> Iterator[bytes]:
    """The body `read` returns, after its first `skip` bytes, as pieces of whole records.

    With `header`, the first piece is the first record alone. The last piece is what remains
    at the end, whole or not (the reader decides). A piece longer than `max_record` bytes
    without a record end cannot be part of a valid export and fails.
    """
    while skip > 0:
        dropped = read(min(skip, PIECE_BYTES))
        if not dropped:
            return  # shorter than before: the reader of the rest says it is cut short
        skip -= len(dropped)
    carry = b""
    while block := read(PIECE_BYTES):
        data = carry + block if carry else block
        if header:
            end = record_end(data, last=False)
            if end:
                header = False
                yield data[:end]
                data = data[end:]
        end = record_end(data) if not header else 0
        if end:
            yield data[:end]
        carry = data[end:]
        if len(carry) > max_record:
            raise CsvFormatError(
                f"no record ends within {len(carry)} bytes: longer than any valid record of "
                'this export can be (or a `"` without its pair, which parallel_workers cannot '
                "read; set parallel_workers to 1)."
            )
    if carry:
        yield carry


# --- in each worker process ---------------------------------------------------------------------

_readers: dict[str, CsvRecordReader] = {}
_READERS_KEPT = 8  # the files of a sync's last few exports


def _start_worker(tap_pid: int) -> None:
    # Ctrl-C reaches every process of the terminal's group: the main process decides what a stop
    # means (tap.py), and a worker killed mid-piece would only break the pool under it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The tap's stdout is the pipe to the target: a worker holding it open would keep the target
    # waiting for its end after the tap is gone. Workers write nothing there.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    threading.Thread(target=_outlive_no_tap, args=(tap_pid,), daemon=True).start()
    keep_freed_memory()  # and the tap's own process: session.py


def _outlive_no_tap(tap_pid: int) -> None:
    """Exit as soon as the tap is gone (killed with SIGKILL, say: it could not stop us)."""
    while os.getppid() == tap_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _encode_piece(spec: PieceSpec, data: bytes) -> EncodedRows:
    reader = _readers.get(spec.key)
    if reader is None:
        if len(_readers) >= _READERS_KEPT:
            _readers.clear()  # readers of files long finished
        reader = CsvRecordReader(
            spec.stream_name, spec.table, spec.fields, bounds=spec.bounds, keep_keys=spec.keep_keys
        )
        reader.use_columns(spec.column_map, spec.width)
        _readers[spec.key] = reader
    nulls, outside = reader.nulls, reader.outside
    if spec.keep_keys and reader.keys is not None:
        reader.keys = []  # this piece's keys: the tap's process gathers the export's
    try:
        records = reader.piece_records(data)
    except CsvFormatError as exc:
        if not (data.endswith(b"\n") and "unexpected end of data" in exc.message):
            raise
        # Cut at a line break the quote count put outside quotes, inside a quoted cell: only a
        # `"` in an unquoted cell (text to Python's csv module) makes the count lie.
        raise CsvFormatError(
            f"{exc.message}. The piece cut here for parallel_workers ends inside a quoted cell: "
            'the export has a `"` inside an unquoted cell, which parallel_workers cannot cut '
            "around; with parallel_workers 1 the tap reads it as text.",
            exc.line,
        ) from None
    body = encoder.encode_lines(records)
    if spec.envelope is not None and records:
        body = wrap_lines(spec.envelope, body, dt.datetime.now(dt.timezone.utc))
    return EncodedRows(
        body,
        len(records),
        count_lines(data),
        reader.nulls - nulls,
        reader.outside - outside,
        reader.keys,
    )


# --- in the tap's process ----------------------------------------------------------------------


class ParallelParser:
    """The worker processes of one sync, started on first use, stopped with the sync."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def submit(self, spec: PieceSpec, data: bytes) -> concurrent.futures.Future[EncodedRows]:
        """Hand one piece to the next free worker."""
        if self._pool is None:
            # "spawn": the tap runs threads (polling, downloads), which a fork would copy
            # mid-state; each worker imports only what reading a piece needs.
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers,
                multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._pool.submit(_encode_piece, spec, data)

    def close(self) -> None:
        """Stop every worker: pieces not yet started are dropped, running ones end first."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class ParallelPart:
    """Reads one download part of an export through the workers, as `EncodedRows` in order.

    Called again after a broken download, it resumes after the last piece handed on.
    """

    def __init__(
        self,
        parser: ParallelParser,
        reader: CsvRecordReader,
        envelope: Envelope | None,
    ) -> None:
        self.parser = parser
        self.reader = reader
        self.envelope = envelope
        self.rows = 0  # records handed on
        self.nulls = 0  # typed cells spelled null among them, read as null
        self.outside = 0  # rows read and dropped: outside the export's window
        self._announced = False  # the mapping's warning said, its evidence checked
        self._spec: PieceSpec | None = None
        self._offset = 0  # bytes of the body handed on (header included): a record boundary
        self._lines = 0  # physical lines in them

    def read(self, response: requests.Response) -> Iterator[EncodedRows]:
        """The records of the body, resuming after what an earlier call handed on."""
        raw = response.raw
        raw.decode_content = True
        width = len(self.reader.fields)
        pieces = record_pieces(
            raw.read,
            skip=self._offset,
            header=self._spec is None,
            max_record=_UTF8_MAX * max_line_chars(width),
        )
        if self._spec is None:
            self._read_header(next(pieces, b""))
        if not self._announced:
            pieces = self._check_first_rows(pieces)
        pending: collections.deque[tuple[concurrent.futures.Future[EncodedRows], int]] = (
            collections.deque()
        )
        window = self.parser.workers * PIECES_PER_WORKER
        spec = self._spec
        assert spec is not None  # set from the header, on this read or an earlier one
        try:
            try:
                for piece in pieces:
                    pending.append((self.parser.submit(spec, piece), len(piece)))
                    if len(pending) > window:
                        yield self._take(pending.popleft())
            except BROKEN_DOWNLOAD_ERRORS:
                # The pieces cut before the break are whole records: hand them on, so the
                # restart resumes after them.
                while pending:
                    yield self._take(pending.popleft())
                raise
            while pending:
                yield self._take(pending.popleft())
        finally:
            for future, _ in pending:
                future.cancel()

    def _read_header(self, header: bytes) -> None:
        """Map the header's columns (errors and warnings as the one-process reader's)."""
        try:
            text = header.removeprefix(_BOM).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CsvFormatError(
                f"{self.reader.stream_name}: the export is not valid UTF-8 near line 1: "
                f"{exc.reason}"
            ) from None
        self.reader.header(text)
        column_map = self.reader.column_map
        assert column_map is not None
        self._spec = PieceSpec(
            uuid.uuid4().hex,
            self.reader.stream_name,
            self.reader.table,
            self.reader.fields,
            column_map,
            self.reader.width,
            self.envelope,
            self.reader.bounds,
            self.reader.keep_keys if self.reader.keys is not None else 0,
        )
        self._offset = len(header)
        self._lines = count_lines(header)

    def _check_first_rows(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        """Check the columns mapped by position against the first rows (parsing/evidence.py)
        before any piece is handed on, as the one-process reader checks them before its first
        record; then say the mapping's warning. Returns `pieces`, those read here first."""
        reader = self.reader
        head: list[bytes] = []
        if reader.needs_evidence:
            rows: list[tuple[list[str], int]] = []
            for piece in pieces:
                head.append(piece)
                try:
                    rows = reader.evidence_rows(b"".join(head))
                except CsvFormatError as exc:
                    raise exc.moved(self._lines) from None
                if len(rows) >= EVIDENCE_ROWS:
                    break
            try:
                reader.check_evidence(rows)
            except CsvFormatError as exc:
                raise exc.moved(self._lines) from None
        reader.announce()
        self._announced = True
        return itertools.chain(head, pieces)

    def _take(self, item: tuple[concurrent.futures.Future[EncodedRows], int]) -> EncodedRows:
        future, size = item
        try:
            encoded: EncodedRows = future.result()
        except CsvFormatError as exc:
            raise exc.moved(self._lines) from None  # the piece's line numbers, in the file
        except BrokenProcessPool as exc:
            raise VoucherifyError(
                f"{self.reader.stream_name}: a parallel_workers process stopped unexpectedly "
                f"({exc}); nothing after the last complete STATE was lost."
            ) from None
        self._offset += size
        self._lines += encoded.lines
        self.rows += encoded.rows
        self.nulls += encoded.nulls
        self.outside += encoded.outside
        self._gather_keys(encoded.keys)
        return encoded

    def _gather_keys(self, keys: list[str] | None) -> None:
        """The export's `id` cells so far, on the reader, while there are few enough to keep."""
        kept = self.reader.keys
        if kept is None:
            return
        if keys is None or len(kept) + len(keys) > self.reader.keep_keys:
            self.reader.keys = None
        else:
            kept.extend(keys)
