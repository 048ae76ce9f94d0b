"""The export stream: plan windows → read each window → split on ERROR → move the bookmark.

Which way the records leave (SDK loop, RECORD fast path, BATCH files, workers) is routing.py's
decision; what a window's export is and how it is read, jobs/ and session.py's.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

from singer_sdk import Stream, Tap, metrics
from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context, Record
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE
from singer_sdk.singerlib.messages import RecordMessage

from tap_voucherify_exports.config.values import parse_metadata_keys, parse_timestamp
from tap_voucherify_exports.errors import ExportFailedError, IgnoredFilterExportError
from tap_voucherify_exports.fields import ExportedObjectTable, stream_table
from tap_voucherify_exports.jobs.counts import OpenCount
from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.jobs.windows import Window, plan_windows
from tap_voucherify_exports.output.batch import BatchFileWriter
from tap_voucherify_exports.output.fastpath import BlockRecordWriter
from tap_voucherify_exports.output.singer_lines import Envelope
from tap_voucherify_exports.output.writer import StateFlushingWriter
from tap_voucherify_exports.routing import (
    Route,
    fast_path_fits,
    pass_on,
    sdk_loop_is_identity,
    workers_read,
    workers_unused_warning,
)
from tap_voucherify_exports.schemas import schema_for
from tap_voucherify_exports.session import SyncSession

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


T = TypeVar("T")


# Where a stream keeps its change cursor in its STATE entry, beside the SDK's own
# `replication_key`/`replication_key_value` (the creation cursor, shaped as it always was, so a
# state written before change replication existed resumes as is).
CHANGES_STATE_KEY = "changes"
# Whether the stream's first sync, its backfill, reached the end of a sync: False from the
# backfill's start to the end of its last window, then True. A run stopped mid-backfill resumes
# in backfill-sized windows. Absent in a state written before this key existed: a bookmark then
# means the backfill was done (set to True, not removed, as meltano merges partial states).
BACKFILL_STATE_KEY = "backfill_complete"
# A stream that refreshes (`full_refresh`) keeps its table version here: `version`, the one its
# records carry; `started_at`, the end of the run that began that version's refresh (the next
# is due `full_refresh_days` later); `complete`, whether its ACTIVATE_VERSION was written; and
# `replication_key_value`, how far the refresh's `created_at` windows reached.
REFRESH_STATE_KEY = "full_refresh"
# Windows whose row count a run could not compare yet (they ended minutes before it did,
# jobs/counts.py), for the next run to compare: `filter_key`, `start`, `end` and the `rows` the
# export delivered. Never removed once written, `[]` when none: meltano merges a stream's state
# into the one it stored, so a key left out would come back.
COUNTS_STATE_KEY = "counts_left_open"


class VoucherifyExportStream(Stream):
    """One exported object, synced window by window through export jobs.

    A windowed stream has a creation cursor: windows of `filter_key` (`created_at`) from its
    bookmark to the sync's end. A stream with a `change_key` has a second one: windows of
    `updated_at` from its own bookmark, so rows changed since the last sync are exported again.
    Each cursor advances only after a whole window's rows were written (`_advance_bookmark`).
    """

    exported_object: ClassVar[str]
    # The export filter that selects a window; None means one full export per run.
    filter_key: ClassVar[str | None] = "created_at"
    # The filter that finds changed rows; None for objects that are never changed (append-only).
    change_key: ClassVar[str | None] = None
    # Whether the stream exports every row again every `full_refresh_days` under a new table
    # version, closed by ACTIVATE_VERSION, so the target drops rows Voucherify no longer has.
    full_refresh: ClassVar[bool] = False

    # Bookmarks are set by this class at window ends (see `_advance_bookmark`), never from record
    # values, so the SDK may treat the stream as sorted: state is resumable and values are real.
    is_sorted = True
    check_sorted = False
    # parsing/records.py already produces JSON-ready values of the schema's types (see
    # `_generate_record_messages` below; a test compares the output with the SDK's).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: Tap, session: SyncSession) -> None:
        # The object's field table plus this stream's `metadata_keys`, so schema, request and
        # CSV mapping share one table. The tap validated them before building any stream, even
        # for `--discover` (tap.py's `_validate_config`).
        metadata_keys = parse_metadata_keys(tap.config).get(self.name, {})
        self.table: ExportedObjectTable = stream_table(self.exported_object, metadata_keys)
        super().__init__(tap, schema=schema_for(self.table))
        self.session = session
        self._writer = tap.message_writer
        self._record_counter: metrics.Counter | None = None
        self._block_writer: BlockRecordWriter | None = None
        self._said_workers_unused = False
        self._state_waits_for_sdk_batch = False
        # Windows an earlier run left open, found short now: exported again first (planned once a
        # run: the session plans every stream, then the stream plans again as it syncs).
        self._exported_again: list[ExportRequest] | None = None

    @property
    def requested_fields(self) -> tuple[str, ...]:
        """Selected fields in table order; keys are always selected (`inclusion: automatic`)."""
        mask = self.mask
        return tuple(
            field.key
            for field in self.table.fields
            if mask.get(("properties", field.property_name), False)
        )

    @property
    def replicates_changes(self) -> bool:
        """Whether rows updated since the last sync are exported too (not `creation_only`)."""
        creation_only = self.session.settings.creation_only_streams
        return self.change_key is not None and self.name not in creation_only

    def export_requests(self) -> list[ExportRequest]:
        """Every export this sync needs: created rows' windows, then changed rows' windows."""
        if not self.filter_key:
            return [self.export_request()]
        session = self.session
        # A backfill (the first sync, and any run resuming it) goes in larger windows: fewer
        # jobs and API calls; one that ends in ERROR is split in half like any other.
        creation = session.settings.backfill_window if self.backfilling else session.settings.window
        cursors = [(self.filter_key, self.bookmark_start(), creation)]
        if self.refreshing:
            # A refresh is a backfill again: every row created since start_date, in windows of
            # backfill_window_days, from where an earlier run stopped it. It covers the creation
            # cursor's windows, so they are not exported besides.
            cursors = [(self.filter_key, self.refresh_start(), session.settings.backfill_window)]
        if self.replicates_changes:
            assert self.change_key
            cursors.append((self.change_key, self.change_bookmark_start(), session.settings.window))
        return [
            *self._short_earlier_windows(),
            *(
                self.export_request(window, filter_key)
                for filter_key, start, size in cursors
                for window in plan_windows(start, session.sync_end, size)
            ),
        ]

    def _short_earlier_windows(self) -> list[ExportRequest]:
        """The windows an earlier run left open (`COUNTS_STATE_KEY`), compared now; those found
        short are exported again, before this run's windows. Those still open stay in the state,
        with those found short until their export is written (`_count_left_open`)."""
        if self._exported_again is not None:
            return self._exported_again
        earlier = [
            count
            for entry in self.stream_state.get(COUNTS_STATE_KEY) or []
            if (count := OpenCount.from_state(entry)) is not None
            # A refresh exports every created_at window again, each counted as it is read.
            and not (self.refreshing and count.filter_key == self.filter_key)
        ]
        short, still_open = self.session.recheck_counts(
            [(self.export_request(count.window, count.filter_key), count) for count in earlier]
        )
        if earlier or COUNTS_STATE_KEY in self.stream_state:
            kept = [*still_open, *(count for _, count in short)]
            self.stream_state[COUNTS_STATE_KEY] = [count.to_state() for count in kept]
            self.state_manager.is_flushed = False
        self._exported_again = [request for request, _ in short]
        return self._exported_again

    def export_request(
        self, window: Window | None = None, filter_key: str | None = None
    ) -> ExportRequest:
        """One export of the selected fields over `window` of `filter_key` (default: the
        creation filter; no window: every row, unfiltered).

        The primary and replication keys are `required`: if Voucherify refuses one, the stream
        fails rather than sync rows without it.
        """
        replication = (self.replication_key,) if self.replication_key else ()
        key = (filter_key or self.filter_key) if window is not None else None
        # The property holding the filtered date: `updated_at` in a change export, else the
        # replication key (`date` for a redemption's `created_at`).
        changes = key is not None and key == self.change_key
        return ExportRequest(
            self.name,
            self.table,
            self.requested_fields,
            window,
            key,
            required=(*self.primary_keys, *replication),
            cursor=self.change_key if changes else self.replication_key,
        )

    @property
    def backfilling(self) -> bool:
        """Whether the creation cursor is still in its backfill: no bookmark yet, or a backfill
        started and not finished (`BACKFILL_STATE_KEY`)."""
        state = self.stream_state
        return not state.get("replication_key_value") or state.get(BACKFILL_STATE_KEY) is False

    def bookmark_start(self) -> dt.datetime:
        """Where the creation cursor resumes: its bookmark, or `start_date` if later or unset.

        Read from the state itself, not `get_starting_timestamp`: the SDK fills that in only
        when the stream's own sync begins, and the session plans every stream before then.
        """
        start = self.session.settings.start_date
        bookmark = self.stream_state.get("replication_key_value")
        if bookmark:
            start = max(start, parse_timestamp("state", bookmark))
        return start

    def change_bookmark_start(self) -> dt.datetime:
        """Where the change cursor resumes.

        From its own bookmark once it has one. The first sync (no bookmark at all) starts it at
        the sync's end, which is where the backfill started: the backfill exports every row as
        it is then, and any change made while it runs is dated later. A state with only a
        creation bookmark (written before change replication existed, or while the stream was
        `creation_only`) starts it at that bookmark, the end of the last sync: every change
        since then is exported, and nothing is backfilled again.
        """
        changes = self.stream_state.get(CHANGES_STATE_KEY) or {}
        bookmark = changes.get("replication_key_value") or self.stream_state.get(
            "replication_key_value"
        )
        if not bookmark:
            return self.session.sync_end
        return max(self.session.settings.start_date, parse_timestamp("state", bookmark))

    @property
    def versioned(self) -> bool:
        """Whether this stream's records carry a table version: it refreshes, `full_refresh_days`
        is not 0, and the run writes RECORD messages (a BATCH file's rows carry no version, so a
        target would take them all for an older one at ACTIVATE_VERSION)."""
        return (
            self.full_refresh
            and self.filter_key is not None
            and self.session.settings.full_refresh is not None
            and self.get_batch_config(self.config) is None
        )

    @property
    def refreshing(self) -> bool:
        """Whether this run exports every row under a new version, or finishes one that an
        earlier run began: never refreshed, refresh not activated yet, or the last one began
        `full_refresh_days` before this run's end."""
        if not self.versioned:
            return False
        refresh = self.stream_state.get(REFRESH_STATE_KEY)
        if not refresh or refresh.get("complete") is False:
            return True
        every = self.session.settings.full_refresh
        assert every is not None
        return self.session.sync_end >= parse_timestamp("state", refresh["started_at"]) + every

    def refresh_start(self) -> dt.datetime:
        """Where a refresh's windows resume: `start_date`, or where an earlier run stopped it."""
        refresh = self.stream_state.get(REFRESH_STATE_KEY) or {}
        reached = refresh.get("replication_key_value") if refresh.get("complete") is False else None
        start = self.session.settings.start_date
        return max(start, parse_timestamp("state", reached)) if reached else start

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        self._begin_backfill()
        self._begin_change_cursor()
        self._begin_version()
        yield from self._sync_windows(self._record_route(context))
        self._end_full_table()
        self._end_refresh()

    def _begin_version(self) -> None:
        """Set the version this run's records carry: the stream's current one, or a new one when
        a refresh is due (written with the first STATE; the SDK sets `_stream_version` only for
        full-table streams, docs/architecture.md's seams)."""
        if not self.versioned:
            return
        refresh = self.stream_state.get(REFRESH_STATE_KEY)
        if self.refreshing and (not refresh or refresh.get("complete") is not False):
            last = refresh["version"] if refresh else 0
            self.stream_state[REFRESH_STATE_KEY] = {
                # Seconds since the epoch, as the SDK's full-table versions; greater than the
                # last, which a target's `_sdc_table_version < version` compares with.
                "version": max(int(time.time()), last + 1),
                "started_at": self.session.sync_end.isoformat(),
                "replication_key": self.filter_key,
                "replication_key_value": None,
                "complete": False,
            }
            self.state_manager.is_flushed = False
        self._stream_version = self.stream_state[REFRESH_STATE_KEY]["version"]

    def _end_refresh(self) -> None:
        """After every window of the run: a refresh whose windows all reached the run's end is
        activated. ACTIVATE_VERSION comes before the STATE that says so: a run killed between
        them exports the last window again and activates again (harmless), never skips it."""
        refresh = self.stream_state.get(REFRESH_STATE_KEY)
        if not self.versioned or not refresh or refresh.get("complete") is not False:
            return
        self.logger.info(
            "%s: full refresh done, every row written under version %s: ACTIVATE_VERSION.",
            self.name, refresh["version"],
        )  # fmt: skip
        self._write_activate_version_message(refresh["version"])
        self.stream_state[REFRESH_STATE_KEY] = {**refresh, "complete": True}
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _begin_backfill(self) -> None:
        """A first sync marks its backfill as begun, written with its first STATE, so a run
        stopped before its last window resumes in backfill-sized windows."""
        if self.filter_key and not self.stream_state.get("replication_key_value"):
            self.stream_state[BACKFILL_STATE_KEY] = False

    def _begin_change_cursor(self) -> None:
        """A stream replicating changes starts its change cursor in its state (first sync)."""
        if self.replicates_changes and CHANGES_STATE_KEY not in self.stream_state:
            # Recorded now, written with the first window's STATE: a run killed mid-backfill
            # resumes its change cursor where the first run started, not where the next starts.
            self.stream_state[CHANGES_STATE_KEY] = {
                "replication_key": self.change_key,
                "replication_key_value": self.change_bookmark_start().isoformat(),
            }

    def _end_full_table(self) -> None:
        """After a full-table stream's last row: the closing ACTIVATE_VERSION."""
        if self.replication_method == REPLICATION_FULL_TABLE and self._stream_version:
            # Every row of the full export is written: the target may drop rows of older
            # versions (the SDK sent the opening ACTIVATE_VERSION before the first record).
            self._write_activate_version_message(self._stream_version)

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # Full-table streams version their rows, so a target that honours ACTIVATE_VERSION
        # (meltanolabs target-postgres) removes rows that no longer exist on Voucherify.
        return True

    @override
    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        # singer-sdk batches the records `_sync_records` yields, before any stream map (the
        # maps apply to RECORD messages only): the batch files hold those records as they are.
        if not self._loop_is_identity(context, maps=False) or (
            batch_config.encoding.format != "jsonl"
        ):
            # singer-sdk's batcher reads `get_records` (see `_advance_bookmark`).
            self._state_waits_for_sdk_batch = True
            self._say_if_workers_unused()
            yield from super().get_batches(batch_config, context)
            return
        self._begin_backfill()
        self._begin_change_cursor()
        self._begin_version()
        with self.get_record_counter() as counter:
            writer = BatchFileWriter(batch_config, self.tap_name, self.name, counter.increment)
            for manifest in self._sync_windows(self._batch_route(writer)):
                yield batch_config.encoding, manifest
        self._end_full_table()  # after the last BATCH message: the SDK wrote it at the yield

    def _sync_windows(self, route: Route[T]) -> Iterator[T]:
        """Every export this sync needs, window after window (`_sync_window`); a window that
        ended in ERROR is replaced by its halves.

        Once Voucherify is seen to ignore a cursor's filter (an export held rows outside its
        window, parsing/window_rows.py), windowing that cursor only exports the whole table
        again and again: its remaining windows become one export up to the sync's end, whose
        rows outside it are dropped (`_one_export_for_the_rest`).
        """
        pending = deque(self.export_requests())
        while pending:
            request = pending.popleft()
            halves = yield from self._sync_window(request, route)
            pending.extendleft(reversed(halves))
            if self.session.filter_ignored(request):
                self._one_export_for_the_rest(request, pending)

    def _one_export_for_the_rest(self, done: ExportRequest, pending: deque[ExportRequest]) -> None:
        """Replace the pending windows of `done`'s cursor by one export over all of them (the
        session already withdrew them from the pipeline: none is created ahead any more)."""
        rest = [r for r in pending if r.filter_key == done.filter_key and r.window is not None]
        if len(rest) < 2:  # noqa: PLR2004 - one export left already, or none
            return
        windows = [r.window for r in rest if r.window is not None]
        merged = replace(rest[0], window=Window(windows[0].start, windows[-1].end))
        at = pending.index(rest[0])
        others = [r for r in pending if r not in rest]
        pending.clear()
        pending.extend([*others[:at], merged, *others[at:]])

    def _sync_window(
        self, request: ExportRequest, route: Route[T]
    ) -> Generator[T, None, tuple[ExportRequest, ...]]:
        """Emit one window's records, then move its cursor to the window's end; on ERROR, return
        its halves instead (`_sync_windows` syncs them next).

        `route.emit(records)` yields what this yields (records, or nothing when it writes them
        itself, or batch manifests) and may return one last item, yielded after the bookmark
        moved: the window's last BATCH file (see `_advance_bookmark`).
        """
        try:
            records = route.read(request)
        except ExportFailedError as exc:
            window = request.window
            if window is not None and self.session.filter_ignored(request):
                # Voucherify ignores this cursor's filter (an earlier export held rows outside
                # its window): each half would export the same whole table again and fail alike,
                # down to min_window_seconds, so the sync stops now, saying why.
                raise IgnoredFilterExportError(
                    f"{self.name}: Voucherify ignores the export filter on "
                    f"{request.filter_key}, so splitting the window cannot make the export "
                    f"smaller: {str(exc).removeprefix(f'{self.name}: ')}"
                ) from None
            if window is None or window.span / 2 < self.session.settings.min_window:
                raise
            self.logger.warning("%s Splitting %s in half and retrying.", exc, window)
            return request.split()
        last = yield from route.emit(records)
        if request.window is not None:
            self._advance_bookmark(request, write_state=last is None)
        if last is not None:
            yield last
        return ()

    def _advance_bookmark(self, request: ExportRequest, *, write_state: bool) -> None:
        """Every row of the request's window has been written: move its cursor to the window's
        end, and emit STATE when asked and no written row waits for a BATCH message.

        The contract, stated here once: a STATE never covers a row the target has not been
        given. A bookmark moves only at a window's end. In BATCH mode the SDK writes STATE right
        after each BATCH message (`_sync_batches`), so a window's last file is handed over only
        after its bookmark moved, and its STATE follows its BATCH message; when singer-sdk's own
        batcher writes the files, STATE waits for its BATCH. The cursors never move back
        (windows are planned from them)."""
        assert request.window is not None
        window_end = request.window.end.isoformat()
        self._count_left_open(request)
        if request.filter_key == self.change_key:
            changes = self.stream_state.get(CHANGES_STATE_KEY) or {}
            reached = changes.get("replication_key_value")
            if not reached or parse_timestamp("state", reached) < request.window.end:
                self.stream_state[CHANGES_STATE_KEY] = {
                    "replication_key": self.change_key,
                    "replication_key_value": window_end,
                }
        else:
            assert self.replication_key
            refresh = self.stream_state.get(REFRESH_STATE_KEY)
            if self.versioned and refresh and refresh.get("complete") is False:
                # A refresh window: every row created in it was written, so the creation
                # bookmark may move there too, but never back.
                self.stream_state[REFRESH_STATE_KEY] = {
                    **refresh,
                    "replication_key_value": window_end,
                }
            bookmark = self.stream_state.get("replication_key_value")
            if not bookmark or parse_timestamp("state", bookmark) < request.window.end:
                self.state_manager.increment_state(
                    {self.replication_key: window_end}, replication_key=self.replication_key
                )
            if self.stream_state.get(BACKFILL_STATE_KEY) is False and (
                request.window.end >= self.session.sync_end
            ):
                self.stream_state[BACKFILL_STATE_KEY] = True  # its last window is done
        self.state_manager.is_flushed = False
        if write_state and not self._state_waits_for_sdk_batch:
            self._write_state_message()

    def _count_left_open(self, request: ExportRequest) -> None:
        """Keep in the state a window whose count this run left for the next one, and drop an
        earlier one whose export this window wrote again (it ends inside this one, after its
        start: this run's own windows begin where the earlier run's last ended)."""
        assert request.window is not None
        window = request.window
        entries = self.stream_state.get(COUNTS_STATE_KEY)
        kept = [
            entry
            for entry in entries or []
            if (count := OpenCount.from_state(entry)) is None
            or count.filter_key != request.filter_key
            or not window.start < count.window.end <= window.end
        ]
        left = self.session.count_left_open(request)
        if left is not None:
            kept.append(left.to_state())
        if kept != (entries or []):
            self.stream_state[COUNTS_STATE_KEY] = kept

    @override
    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> Iterable[Context | None]:
        # Export streams have no child streams: no per-record child context to build (and copy).
        return ()

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> Any:
        return None

    # --- the way out (routing.py decides) --------------------------------------------------------

    def _record_route(self, context: Context | None) -> Route[Any]:
        """RECORD messages: the fast path when it writes what the SDK would, on the workers when
        there are any; else the SDK's loop (the records are handed on as they are read)."""
        fast = self._fast_record_writer(context)
        if fast is None:
            self._say_if_workers_unused()
            return Route(pass_on, self.session.records)
        if self._workers_read():
            envelope = Envelope(self.name, self._stream_version)
            return Route(
                fast.emit_encoded,
                lambda request: self.session.encoded_records(request, envelope=envelope),
            )
        return Route(fast.emit, self.session.records)

    def _batch_route(self, writer: BatchFileWriter) -> Route[list[str]]:
        """The tap's BATCH files, their rows encoded on the workers when there are any."""
        if self._workers_read():
            return Route(writer.write_encoded_export, self.session.encoded_records)
        return Route(writer.write_export, self.session.records)

    def _workers_read(self) -> bool:
        return workers_read(self.session.settings.parallel_workers)

    def _say_if_workers_unused(self) -> None:
        warning = workers_unused_warning(self.session.settings.parallel_workers, self.name)
        if warning and not self._said_workers_unused:
            self._said_workers_unused = True
            self.logger.warning("%s", warning)

    def _loop_is_identity(self, context: Context | None, *, maps: bool = True) -> bool:
        return sdk_loop_is_identity(
            context=context,
            record_limit=self.ABORT_AT_RECORD_COUNT,
            post_process_overridden=type(self).post_process is not Stream.post_process,
            stream_maps=self.stream_maps if maps else None,
            stream=self.name,
        )

    def _fast_record_writer(self, context: Context | None) -> BlockRecordWriter | None:
        """output/fastpath.py's writer when it fits (routing.py's `fast_path_fits`), else None:
        the SDK's loop writes the records."""
        if not fast_path_fits(
            loop_is_identity=self._loop_is_identity(context),
            writer_is_ours=type(self._writer) is StateFlushingWriter,
            counter_open=self._record_counter is not None,
            batch_mode=self.get_batch_config(self.config) is not None,
        ):
            return None
        if self._block_writer is None:
            counter, writer = self._record_counter, self._writer
            assert counter is not None
            assert isinstance(writer, StateFlushingWriter)

            def counted(records: int) -> None:
                counter.increment(records)
                self.state_manager.is_flushed = False  # as the SDK's `_write_record_message`

            self._block_writer = BlockRecordWriter(
                Envelope(self.name, self._stream_version), writer.write_record_lines,
                counted=counted, state_every=self.STATE_MSG_FREQUENCY,
                write_state=self._write_state_message,
            )  # fmt: skip
        return self._block_writer

    # --- singer-sdk seams: each is a row of docs/architecture.md's table, with its canary test ----

    @override
    def get_record_counter(
        self, *, endpoint: str | None = None, log_interval: float = metrics.DEFAULT_LOG_INTERVAL
    ) -> metrics.Counter:
        """The counter the SDK's loop opens around `get_records`: the fast path counts on it."""
        self._record_counter = super().get_record_counter(
            endpoint=endpoint, log_interval=log_interval
        )
        return self._record_counter

    @override
    def _generate_record_messages(self, record: Record) -> Generator[RecordMessage, None, None]:
        """The SDK's RECORD messages without its per-record deselection and re-conformance,
        no-ops here by construction: the export asked only for the selected fields, and
        parsing/records.py emits the schema's types (a test proves the output identical)."""
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=dt.datetime.now(dt.timezone.utc),
                )

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        # Record values never move the bookmark: Voucherify documents no sort guarantee and a
        # killed run must resume at the window it was in. `_advance_bookmark` does it instead.
        return
