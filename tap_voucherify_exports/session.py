"""One sync: its settings, where it ends, the HTTP client, the export verbs, the job pipeline and
the list endpoints (the bin, the counts).

The tap opens one `SyncSession` around the SDK's `sync_all` (and its `--test` dry run) and hands
it to every stream, the way singer-sdk's SQL taps hand each stream the tap's connector. Export
streams ask it for a window's records (`records(request)`); list streams for a list endpoint's
items (`list_entries(path)`). Everything a sync holds open
(threads polling jobs, pooled connections, exports on Voucherify) is released when it closes,
whether the sync completed, failed or was interrupted.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TextIO, TypeVar, cast

from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.api.lists import ListsAPI
from tap_voucherify_exports.config.settings import Settings, parse_settings
from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.jobs.counts import CountVerifier, OpenCount
from tap_voucherify_exports.jobs.download import PartReader, RecordPart, read_export
from tap_voucherify_exports.jobs.export import Export, result_urls
from tap_voucherify_exports.jobs.exports_api import ExportsAPI
from tap_voucherify_exports.jobs.ledger import ExportLedger
from tap_voucherify_exports.jobs.pipeline import ExportPipeline
from tap_voucherify_exports.jobs.polling import ExportPoller
from tap_voucherify_exports.jobs.progress import StreamTotals
from tap_voucherify_exports.jobs.refused import RefusedFields
from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.jobs.windows import Window
from tap_voucherify_exports.output.memory import keep_freed_memory
from tap_voucherify_exports.output.singer_lines import EncodedRows, Envelope
from tap_voucherify_exports.output.workers import ParallelParser, ParallelPart
from tap_voucherify_exports.parsing.columns import ColumnMap
from tap_voucherify_exports.parsing.records import CsvRecordReader
from tap_voucherify_exports.parsing.window_rows import WindowBounds
from tap_voucherify_exports.redaction import redact_secrets_in_logs

LOGGER = logging.getLogger("tap_voucherify_exports")
Record = dict[str, Any]
T = TypeVar("T")

# `--test`'s export: voucher ids created in the first second of start_date, most often none.
CONNECTION_TEST_NAME = "connection test"
CONNECTION_TEST_OBJECT = "voucher"
CONNECTION_TEST_WINDOW = dt.timedelta(seconds=1)
# `--test` is a check: a host it cannot connect to (refused, no DNS, no answer within the connect
# timeout) fails it after this many tries, a second apart, not after a sync's 8 (two minutes);
# and one that never answers is waited for this long each try, not a sync's 30 s.
CONNECTION_TEST_CONNECT_TRIES = 2
CONNECTION_TEST_CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Sample:
    """What the probe sees of one export: its id, column mapping, first record, and that
    record's cells as Voucherify wrote them (None without a row); how many files its result
    lists, and how many rows outside its window were read (and dropped) before that first row,
    or in the whole file without one: any means Voucherify ignored the export's filter."""

    export_id: str
    column_map: ColumnMap | None
    first: Record | None
    first_cells: list[str] | None
    files: int = 1
    outside: int = 0


# Characters of an export's beginning `Sample` keeps to show its first row as sent.
SAMPLE_KEPT_CHARS = 1 << 20


class _Beginning:
    """A text stream that keeps the first `SAMPLE_KEPT_CHARS` read from it."""

    def __init__(self, text: TextIO) -> None:
        self._text = text
        self.kept: list[str] = []
        self._size = 0

    def read(self, size: int = -1) -> str:
        """What the stream reads, kept while the beginning is short."""
        chunk = self._text.read(size)
        if self._size < SAMPLE_KEPT_CHARS:
            self.kept.append(chunk)
            self._size += len(chunk)
        return chunk


class _TextKept:
    """A record reader that keeps the beginning of the text it reads (the probe only)."""

    def __init__(self, reader: CsvRecordReader) -> None:
        self.reader = reader
        self._beginning: _Beginning | None = None

    @property
    def nulls(self) -> int:
        """The reader's count of null spellings read as null."""
        return self.reader.nulls

    @property
    def outside(self) -> int:
        """The reader's count of rows dropped outside the export's window."""
        return self.reader.outside

    def records(self, text: TextIO, *, skip_rows: int = 0) -> Iterator[Record]:
        """The reader's records of `text`, whose beginning is kept."""
        self._beginning = _Beginning(text)
        return self.reader.records(cast("TextIO", self._beginning), skip_rows=skip_rows)

    def first_row(self, width: int) -> list[str] | None:
        """The first row's cells as sent, if the kept text holds all of it."""
        if self._beginning is None:
            return None
        text = "".join(self._beginning.kept)
        rows = csv.reader(io.StringIO(text, newline=""))
        try:
            next(rows, None)  # the header
            first = next((row for row in rows if row), None)
        except csv.Error:
            return None
        return first if first is not None and len(first) == width else None


@dataclass(frozen=True)
class _OpenSync:
    """What exists only while a sync runs."""

    sync_end: dt.datetime
    client: VoucherifyClient
    api: ExportsAPI
    pipeline: ExportPipeline
    parser: ParallelParser | None  # the `parallel_workers` processes, when more than one
    exports_left: tuple[str, ...]  # by an earlier run, as its STATE lists them
    lists: ListsAPI
    counts: CountVerifier


class SyncSession:
    """Owns one sync from `open()` to its close; built from the tap's config, opened lazily."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config
        self._open: _OpenSync | None = None
        self._warned: set[str] = set()
        # (stream, filter key) whose export filter Voucherify ignored in this run.
        self._filters_ignored: set[tuple[str, str]] = set()
        self._totals: dict[str, StreamTotals] = {}
        # Fields Voucherify refused in this session's run: later exports leave them out.
        self.refused_fields = RefusedFields()

    @cached_property
    def settings(self) -> Settings:
        """The validated config; raises `ConfigValidationError` naming the bad setting."""
        return parse_settings(self._config)

    @property
    def sync_end(self) -> dt.datetime:
        """Where the last window of every stream ends: `end_date`, else when the sync opened."""
        return self._running().sync_end

    @property
    def ledger(self) -> ExportLedger:
        """The exports this sync created (and those an earlier run left) not yet deleted."""
        return self._running().pipeline.ledger

    def delete_left_exports(self) -> None:
        """Delete the exports an earlier run left on Voucherify (listed in its STATE, given to
        `open`), before this sync creates any (jobs/pipeline.py)."""
        running = self._running()
        running.pipeline.delete_left_exports(list(running.exports_left))

    @contextlib.contextmanager
    def open(
        self, exports_left: Iterable[str] = (), *, check: bool = False
    ) -> Iterator[SyncSession]:
        """Run one sync inside this block; everything it started is stopped when it ends.

        `exports_left`: export ids an earlier run's STATE lists as created and not deleted; the
        ledger starts with them, and `delete_left_exports` deletes them. `check` (`--test`): a
        host that cannot be connected to fails it in seconds (`CONNECTION_TEST_CONNECT_TRIES`,
        `CONNECTION_TEST_CONNECT_TIMEOUT_SECONDS`).
        """
        if self._open is not None:
            raise RuntimeError("A sync is already open on this session.")
        settings = self.settings
        # Installed here, once per sync, before the first request can log a URL or a body.
        redact_secrets_in_logs(settings.secrets)
        keep_freed_memory()
        if check:
            client = VoucherifyClient(
                settings,
                connect_tries=CONNECTION_TEST_CONNECT_TRIES,
                connect_timeout_seconds=CONNECTION_TEST_CONNECT_TIMEOUT_SECONDS,
            )
        else:
            client = VoucherifyClient(settings)
        api = ExportsAPI(client, settings, self.refused_fields)
        left = tuple(exports_left)
        pipeline = ExportPipeline(
            api,
            ExportPoller(api),
            settings.max_concurrent_exports,
            delete_exports=settings.delete_exports,
            ledger=ExportLedger(left),
        )
        sync_end = settings.end_date or dt.datetime.now(dt.timezone.utc)
        workers = settings.parallel_workers
        parser = ParallelParser(workers) if workers > 1 else None
        lists = ListsAPI(client)
        counts = CountVerifier(lists, settings.verify_counts)
        self._open = _OpenSync(sync_end, client, api, pipeline, parser, left, lists, counts)
        self._totals = {}
        try:
            yield self
        finally:
            self._open = None
            for stream, totals in self._totals.items():
                LOGGER.info("%s", totals.line(stream))
            for line in counts.lines():
                LOGGER.info("%s", line)
            # Abandoned jobs stop being polled (and are deleted when delete_exports is on)
            # before connections close; a later sync opens anew.
            pipeline.close()
            client.close()
            if parser is not None:
                parser.close()

    def plan(self, requests: Iterable[ExportRequest]) -> None:
        """Every export the sync will ask for, in the order it will ask: generated ahead."""
        self._running().pipeline.plan(requests)

    def records(self, request: ExportRequest) -> Iterator[dict[str, Any]]:
        """The typed records of one export: create → wait → download → CSV → records.

        Waits here, before returning, until the job is DONE, so an `ExportFailedError` (the job
        ended in ERROR) comes before any record and the caller may retry a smaller window. The
        returned iterator streams the download; once it is exhausted the export's slot is freed
        (and the export deleted when delete_exports is on), and a closed window's rows are
        counted against the list endpoint's `total` (jobs/counts.py), which in
        `verify_counts: fail` may raise `CountMismatchError` from the iterator's end.
        """
        return self._read(request, RecordPart)

    def encoded_records(
        self, request: ExportRequest, envelope: Envelope | None = None
    ) -> Iterator[EncodedRows]:
        """`records`, parsed and encoded by the `parallel_workers` processes (output/workers.py): as
        RECORD messages of `envelope`, or bare JSON lines without one."""
        parser = self._running().parser
        assert parser is not None, "encoded_records needs parallel_workers > 1"
        return self._read(request, lambda reader: ParallelPart(parser, reader, envelope))

    def _read(
        self, request: ExportRequest, new_part: Callable[[CsvRecordReader], PartReader[T]]
    ) -> Iterator[T]:
        running = self._running()
        totals = self._totals.setdefault(request.stream_name, StreamTotals())
        asked = time.monotonic()
        export = running.pipeline.export_for(request)
        totals.waiting_seconds += time.monotonic() - asked
        # Created without the fields Voucherify refused (jobs/exports_api.py): the file has none
        # of them.
        sent = running.api.as_sent(request)
        reader = self.reader(sent, keep_keys=running.counts.keys_to_keep(request))

        current = export  # the one created again when its download URL stays refused

        def create_again(dead: Export) -> Export:
            nonlocal current
            current = running.pipeline.create_again(dead, sent)
            return current

        def stream() -> Iterator[T]:
            started = time.monotonic()
            counts = yield from read_export(
                running.api, export, sent, lambda: new_part(reader), create_again
            )
            totals.downloading_seconds += time.monotonic() - started
            totals.exports += 1
            totals.rows += counts.rows
            totals.nulls += counts.nulls
            if counts.outside:  # before the pipeline starts the next window's export
                self._filter_was_ignored(request, current.id, counts.outside)
            running.pipeline.done_downloading(current)
            # Every row of the window was handed on and no bookmark moved yet: the window's
            # count is checked here, whichever way the rows left (routing.py).
            running.counts.check(request, counts.rows, reader.keys)

        return stream()

    def _filter_was_ignored(self, request: ExportRequest, export_id: str, outside: int) -> None:
        """An export held rows outside its window: say so, once per stream and filter, and
        create no more exports of that stream's windows of that filter ahead: the stream asks
        for one export of the rest instead (export_stream.py)."""
        stream, key = request.stream_name, request.filter_key
        assert key is not None
        if (stream, key) in self._filters_ignored:
            return
        self._filters_ignored.add((stream, key))
        self._running().pipeline.withdraw(
            lambda planned: planned.stream_name == stream and planned.filter_key == key
        )
        LOGGER.warning(
            "%s: Voucherify ignored the export filter on %s: %s (%s) held %d rows outside that "
            "window, dropped by the tap. For the rest of this run the %s range is exported "
            "once, its rows outside each window dropped (docs/incremental.md).",
            request.stream_name, request.filter_key, export_id, request, outside,
            request.filter_key,
        )  # fmt: skip

    def filter_ignored(self, request: ExportRequest) -> bool:
        """Whether Voucherify ignored the filter of `request`'s stream and cursor in this run
        (an export of it held rows outside its window)."""
        key = request.filter_key
        return key is not None and (request.stream_name, key) in self._filters_ignored

    def recheck_counts(
        self, earlier: Sequence[tuple[ExportRequest, OpenCount]]
    ) -> tuple[list[tuple[ExportRequest, OpenCount]], list[OpenCount]]:
        """Compare the windows an earlier run left open (jobs/counts.py `recheck`): those found
        short, to export again, and the counts of those still open."""
        return self._running().counts.recheck(earlier)

    def count_left_open(self, request: ExportRequest) -> OpenCount | None:
        """The count of `request`'s window when this run left it for the next run to compare."""
        return self._running().counts.left_open(request)

    def list_entries(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint paged by `starting_after_id` (`GET /v1/trash-bin`),
        through the run's client and rate gate."""
        return self._running().lists.entries(path)

    def sample(self, request: ExportRequest) -> Sample:
        """One export's id, column mapping and first record, the export then released (the
        probe's view: the rest of the file is not read)."""
        running = self._running()
        export = running.pipeline.export_for(request)
        sent = running.api.as_sent(request)
        reader = self.reader(sent)
        kept = _TextKept(reader)
        rows = read_export(running.api, export, sent, lambda: RecordPart(kept))
        try:
            first = next(rows, None)
        finally:
            rows.close()
            running.pipeline.done_downloading(export)
        cells = kept.first_row(reader.width) if first is not None else None
        # read_export checked the result's shape before reading: this cannot raise any more.
        files = len(result_urls(export.result, export.id))
        return Sample(export.id, reader.column_map, first, cells, files, reader.outside)

    def check_access(self) -> None:
        """`GET /v1/exports?limit=1`: the app keys and the region work (one call, counted in
        the run's quota like any other). Raises what the call raised: a 401 names the settings."""
        self._running().api.list_exports(1)
        LOGGER.info("%s accepted the app keys (GET /v1/exports).", self.settings.api_origin)

    def check_connection(self) -> None:
        """`--test`: is this tap able to sync? One cheap call, then one tiny export, deleted.

        `check_access` checks the app keys and the region; then an export of voucher
        ids created in the first second after `start_date` is created, waited for, downloaded
        (which checks the download host) and deleted whatever `delete_exports` says. Raises
        the error of the first step that fails, in seconds for a host it cannot connect to.
        """
        with self.open(check=True):
            running = self._running()
            settings = self.settings
            self.check_access()
            start = settings.start_date
            request = ExportRequest(
                CONNECTION_TEST_NAME,
                TABLES[CONNECTION_TEST_OBJECT],
                TABLES[CONNECTION_TEST_OBJECT].keys,
                Window(start, start + CONNECTION_TEST_WINDOW),
                "created_at",
                cursor="created_at",
            )
            export = running.api.create_export(request)
            try:
                export = running.pipeline.waiter.wait(export, request)
                reader = self.reader(request)
                records = read_export(running.api, export, request, lambda: RecordPart(reader))
                rows = sum(1 for _ in records)
            finally:
                running.api.delete_export(export.id)
            LOGGER.info(
                "Connection test OK: export %s was created, generated, downloaded from %s "
                "(%d rows) and deleted.",
                export.id,
                settings.download_origin,
                rows,
            )

    def reader(self, request: ExportRequest, *, keep_keys: int = 0) -> CsvRecordReader:
        """The CSV reader for one export of `request`, against the table the request carries;
        it keeps the `id` of up to `keep_keys` rows (parsing/records.py)."""
        window, cursor = request.window, request.cursor
        return CsvRecordReader(
            request.stream_name,
            request.table,
            request.fields,
            self._warn_once,
            trust_order=self.settings.trust_column_order,
            bounds=WindowBounds.of(window, cursor) if window and cursor else None,
            keep_keys=keep_keys,
        )

    def _warn_once(self, message: str) -> None:
        # The same header of every window would repeat the same warning: say it once a run.
        if message not in self._warned:
            self._warned.add(message)
            LOGGER.warning("%s", message)

    def _running(self) -> _OpenSync:
        if self._open is None:
            raise RuntimeError("No sync is open: the tap opens one around sync_all.")
        return self._open
