"""One poller for every export job in flight: one `GET /v1/exports` list call per interval.

Polling each job with its own `GET /v1/exports/{id}` costs N calls per interval with N jobs in
flight. The list endpoint (newest first, up to 100 a page) shows every job this run started
moments ago on its first page, so one call answers for all of them. A job the list does not show
(a busy project created 100 exports since) is read with its own get; if the list call itself is
refused (a 4xx), the poller falls back to per-id gets for the rest of the run, and says so.

Each job keeps its own schedule — the first check 1 s after creation, then 1.5 times longer up to
`poll_interval_max` — and a list call is made when the earliest job is due; every job it shows
counts as checked, so jobs fall into step and one call per interval serves them all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import backoff

from tap_voucherify_exports.errors import (
    ExportCancelledError,
    ExportTimeoutError,
    VoucherifyAPIError,
    VoucherifyError,
)
from tap_voucherify_exports.jobs.export import Export, ExportStatus
from tap_voucherify_exports.jobs.exports_api import ExportsAPI
from tap_voucherify_exports.jobs.progress import JobWatch
from tap_voucherify_exports.jobs.request import ExportRequest

LOGGER = logging.getLogger("tap_voucherify_exports")

POLL_INTERVAL_MIN_SECONDS = 1.0
POLL_INTERVAL_GROWTH = 1.5
LIST_PAGE_SIZE = 100  # the list endpoint's maximum `limit`


@dataclass
class _Waiter:
    export: Export
    request: ExportRequest
    started: float
    deadline: float
    intervals: Iterator[float]
    due: float
    watch: JobWatch  # logs status changes and the heartbeat (jobs/progress.py)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class ExportPoller:
    """Waits for many export jobs at once, from one background thread."""

    def __init__(self, api: ExportsAPI) -> None:
        self.api = api
        self.settings = api.settings
        self.use_list = True
        self._cond = threading.Condition()
        self._waiters: list[_Waiter] = []
        self._closed = False
        self._thread: threading.Thread | None = None
        self._unknown_statuses: set[str] = set()
        self._abandoned: set[str] = set()  # export ids nobody waits for any more (`abandon`)

    def wait(self, export: Export, request: ExportRequest) -> Export:
        """Block until `export` is DONE and return it; raise `ExportFailedError` on ERROR,
        `ExportTimeoutError` after `export_timeout`, `ExportCancelledError` on close."""
        now = time.monotonic()
        if not export.is_pending:
            return self.api.finished(export, request, now)
        intervals = backoff.expo(
            base=POLL_INTERVAL_GROWTH,
            factor=POLL_INTERVAL_MIN_SECONDS,
            max_value=self.settings.poll_interval_max_seconds,
        )
        next(intervals)  # backoff.expo yields 0 first (its send() primer)
        waiter = _Waiter(
            export, request, now, now + self.settings.export_timeout_seconds, intervals,
            due=now + next(intervals),
            watch=JobWatch(request.stream_name, export.id, export.status, now),
        )  # fmt: skip
        with self._cond:
            if self._closed:
                raise ExportCancelledError(f"{export.id} abandoned: the sync is stopping.")
            if export.id in self._abandoned:
                raise ExportCancelledError(f"{export.id} abandoned: no longer needed.")
            self._waiters.append(waiter)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="export-poller", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
        waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error
        return self.api.finished(waiter.export, request, now)

    def abandon(self, export_id: str) -> None:
        """Stop waiting for one job (no longer needed): its wait, now or later, raises
        `ExportCancelledError`."""
        with self._cond:
            self._abandoned.add(export_id)
            for waiter in [w for w in self._waiters if w.export.id == export_id]:
                self._remove(
                    waiter, ExportCancelledError(f"{export_id} abandoned: no longer needed.")
                )
            self._cond.notify_all()

    def close(self) -> None:
        """Stop polling; every job still waited for raises `ExportCancelledError`."""
        with self._cond:
            self._closed = True
            for waiter in self._waiters:
                self._finish(waiter, ExportCancelledError(
                    f"{waiter.export.id} abandoned: the sync is stopping."
                ))  # fmt: skip
            self._waiters.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # --- the poller thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                batch = self._due_batch()
                if batch is None:
                    return
            if batch:
                self._poll(batch)

    def _due_batch(self) -> list[_Waiter] | None:
        """Wait (holding the condition) until some job is due; None once closed."""
        while not self._closed:
            now = time.monotonic()
            for waiter in list(self._waiters):
                if now >= waiter.deadline:
                    self._remove(waiter, ExportTimeoutError(
                        f"{waiter.request.stream_name}: {waiter.export.id} ({waiter.request}) "
                        f"did not finish within {self.settings.export_timeout_seconds:g} s "
                        f"(export_timeout); last status {waiter.export.status or 'unknown'}."
                    ))  # fmt: skip
            if not self._waiters:
                self._cond.wait()
                continue
            due = min(waiter.due for waiter in self._waiters)
            if due <= now:
                return list(self._waiters)
            deadline = min(waiter.deadline for waiter in self._waiters)
            self._cond.wait(min(due, deadline) - now)
        return None

    def _poll(self, batch: list[_Waiter]) -> None:
        """One round: a list call for all (a get when one job is pending or the list fails)."""
        now = time.monotonic()
        seen: dict[str, Export] = {}
        if self.use_list and len(batch) > 1:
            try:
                seen = {export.id: export for export in self.api.list_exports(LIST_PAGE_SIZE)}
            except VoucherifyAPIError as exc:
                LOGGER.warning(
                    "Listing exports failed (%s); polling each export by id from now on", exc
                )
                self.use_list = False
            except VoucherifyError as exc:
                self._fail_all(batch, exc)
                return
        for waiter in batch:
            export = seen.get(waiter.export.id)
            if export is None and waiter.due <= now:
                try:
                    export = self.api.get_export(waiter.export.id)
                except VoucherifyError as exc:
                    with self._cond:
                        self._remove(waiter, exc)
                    continue
            if export is None:
                continue  # not due, and not on the list's first page: its own turn will come
            with self._cond:
                # Seen now, due or not: its next check follows its own schedule from here, so
                # the jobs fall into step and share every later list call.
                waiter.export = export
                waiter.due = time.monotonic() + next(waiter.intervals)
                LOGGER.debug("%s is %s", export.id, export.status)
                waiter.watch.observe(export.status)
                self._note_unknown_status(export, waiter.request)
                if not export.is_pending:
                    self._remove(waiter, None)

    def _note_unknown_status(self, export: Export, request: ExportRequest) -> None:
        # Waited on like IN_PROGRESS (jobs/export.py), but said once a run: a new status may
        # mean the API changed, and a job that never leaves it ends at export_timeout.
        if ExportStatus.is_known(export.status) or export.status in self._unknown_statuses:
            return
        self._unknown_statuses.add(export.status)
        LOGGER.warning(
            "%s: %s has the status %r, which this tap does not know; it is waited on like "
            "IN_PROGRESS, until export_timeout.", request.stream_name, export.id, export.status,
        )  # fmt: skip

    def _fail_all(self, batch: list[_Waiter], error: BaseException) -> None:
        with self._cond:
            for waiter in batch:
                self._remove(waiter, error)

    def _remove(self, waiter: _Waiter, error: BaseException | None) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
            self._finish(waiter, error)

    @staticmethod
    def _finish(waiter: _Waiter, error: BaseException | None) -> None:
        waiter.error = error
        waiter.done.set()
