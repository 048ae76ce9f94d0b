"""Overlapping export jobs: upcoming windows are generated on Voucherify while one downloads.

Voucherify builds export files on its own servers, so waiting for jobs one after another wastes
wall time. The pipeline knows every export the sync will need, in output order, and keeps up to
`max_concurrent_exports` of them in flight: the one downloading and the next ones, created and
waited for in worker threads (so 1 means strictly one after another); one poller checks all
of them with a single list call per interval (jobs/polling.py). Streams still
download and emit one export at a time, in order, so records and STATE keep the sequential
guarantees; only the waiting overlaps.

Every export created is listed in the ledger (jobs/ledger.py) until it is deleted, so a run
killed before it could delete its exports leaves their ids in its STATE, and the next run
deletes them first (`delete_left_exports`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from tap_voucherify_exports.errors import ExportCancelledError
from tap_voucherify_exports.jobs.export import Export
from tap_voucherify_exports.jobs.exports_api import DeleteOutcome
from tap_voucherify_exports.jobs.ledger import ExportLedger
from tap_voucherify_exports.jobs.request import ExportRequest

LOGGER = logging.getLogger("tap_voucherify_exports")


class ExportJobs(Protocol):
    """The export verbs the pipeline drives (jobs/exports_api.py's `ExportsAPI`)."""

    def create_export(self, request: ExportRequest) -> Export:
        """Create the job."""
        ...

    def interrupt_waits(self) -> None:
        """End the waits of requests held back by the rate limit (the sync is stopping)."""
        ...

    def delete_export(self, export_id: str, *, quiet: bool = False) -> DeleteOutcome:
        """Delete the job; never raises. UNREACHABLE when its host could not be reached at all
        (each further delete would wait out the same retries)."""
        ...


class JobWaiter(Protocol):
    """Waits for created jobs (jobs/polling.py's `ExportPoller`, one poller for all of them)."""

    def wait(self, export: Export, request: ExportRequest) -> Export:
        """Block until the job is DONE and return it."""
        ...

    def abandon(self, export_id: str) -> None:
        """Stop waiting for one job: its wait (now or later) ends with `ExportCancelledError`."""
        ...

    def close(self) -> None:
        """Stop waiting: every wait still going ends with `ExportCancelledError`."""
        ...


@dataclass(eq=False)
class _Ahead:
    """A planned export started ahead: its request, the thread creating and waiting for it, the
    export's id once created, and whether the stream no longer needs it (`withdraw`)."""

    request: ExportRequest
    future: Future[Export] | None = None
    export_id: str | None = None
    withdrawn: bool = False


class ExportPipeline:
    """Runs planned export requests ahead of the stream that will download them."""

    def __init__(
        self,
        api: ExportJobs,
        waiter: JobWaiter,
        max_in_flight: int,
        *,
        delete_exports: bool,
        ledger: ExportLedger | None = None,
    ) -> None:
        self.api = api
        self.waiter = waiter
        self.max_in_flight = max_in_flight
        self.delete_exports = delete_exports
        self._executor = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="export")
        self._planned: deque[ExportRequest] = deque()
        self._started: deque[_Ahead] = deque()
        self._downloading = False
        self._lock = threading.Lock()
        self._created: set[str] = set()  # export ids whose rows are not all emitted yet
        self._kept: list[str] = []  # downloaded, left on Voucherify (delete_exports off)
        # Created and not deleted, written into every STATE (jobs/ledger.py).
        self.ledger = ExportLedger() if ledger is None else ledger

    def delete_left_exports(self, left: list[str]) -> None:
        """Delete the exports a killed run left on Voucherify (its STATE listed them), and say
        so in one line; with `delete_exports` off, say they are kept, once (they are then
        forgotten). Never any export the STATE does not list. One not deleted stays listed, for
        the next run."""
        if not left:
            return
        if not self.delete_exports:
            for export_id in left:
                self.ledger.discard(export_id)
            LOGGER.warning(
                "%d exports an earlier run left on Voucherify are kept because delete_exports is "
                "false: %s",
                len(left),
                ", ".join(left),
            )
            return
        deleted: list[str] = []
        for export_id in left:
            outcome = self.api.delete_export(export_id, quiet=True)
            if outcome.gone:
                deleted.append(export_id)
                self.ledger.discard(export_id)
            elif outcome is DeleteOutcome.UNREACHABLE:
                break
        if deleted:
            LOGGER.warning(
                "Deleted %d exports an earlier run left on Voucherify: %s",
                len(deleted),
                ", ".join(deleted),
            )
        kept = [export_id for export_id in left if export_id not in deleted]
        if kept:
            LOGGER.warning(
                "Could not delete %d exports an earlier run left on Voucherify; they stay in the "
                "STATE and the next run tries again: %s",
                len(kept),
                ", ".join(kept),
            )

    def plan(self, requests: Iterable[ExportRequest]) -> None:
        """Queue the requests the sync will ask for, in the order it will ask."""
        self._planned.extend(requests)
        self._top_up()

    def _top_up(self) -> None:
        limit = self.max_in_flight - (1 if self._downloading else 0)
        while self._planned and len(self._started) < limit:
            ahead = _Ahead(self._planned.popleft())
            ahead.future = self._executor.submit(self._run, ahead.request, ahead)
            self._started.append(ahead)

    def _run(self, request: ExportRequest, ahead: _Ahead | None = None) -> Export:
        export = self.api.create_export(request)
        with self._lock:
            self._created.add(export.id)
            if ahead is not None:
                ahead.export_id = export.id
        # Listed, and a STATE written, before it is waited for. Should the STATE fail (a closed
        # pipe), `close` still deletes the export: it is in `_created` already.
        self.ledger.add(export.id)
        try:
            if ahead is not None and ahead.withdrawn:
                raise ExportCancelledError(f"{export.id} is no longer needed.")
            export = self.waiter.wait(export, request)
            if ahead is not None and ahead.withdrawn:
                raise ExportCancelledError(f"{export.id} is no longer needed.")
        except Exception:
            if ahead is not None and ahead.withdrawn:
                self._release(export.id)
            raise
        return export

    def export_for(self, request: ExportRequest) -> Export:
        """The DONE export for `request`: prefetched if it was planned next, else run now."""
        self._downloading = True
        if self._started and self._started[0].request == request:
            future = self._started.popleft().future
            assert future is not None
            self._top_up()
            export = future.result()
        else:
            self._top_up()
            export = self._run(request)
        return export

    def create_again(self, dead: Export, request: ExportRequest) -> Export:
        """The export for `request` once more, DONE (`dead`'s download URL stays refused,
        jobs/download.py): `dead` is released (deleted, or kept with `delete_exports` off), the
        new one created, listed and deleted after its rows like any other."""
        self._release(dead.id)
        return self._run(request)

    def withdraw(self, unneeded: Callable[[ExportRequest], bool]) -> None:
        """Planned requests the sync will not ask for after all (a stream whose filter
        Voucherify ignored asks for one export of the rest instead): they are not created, and
        those created already are deleted as soon as their creation returns (`delete_exports`
        off: kept, and reported at `close`)."""
        self._planned = deque(r for r in self._planned if not unneeded(r))
        abandoned: list[str] = []
        stream = ""
        with self._lock:
            for ahead in [a for a in self._started if unneeded(a.request)]:
                self._started.remove(ahead)
                ahead.withdrawn = True
                if ahead.future is not None and ahead.future.cancel():
                    continue  # never started: nothing was created
                if ahead.export_id is not None:
                    abandoned.append(ahead.export_id)
                    stream = ahead.request.stream_name
        for export_id in abandoned:
            self.waiter.abandon(export_id)  # `_run` then deletes it
        if abandoned:
            LOGGER.info(
                "%s: %d exports created ahead are no longer needed: %s",
                stream, len(abandoned), ", ".join(abandoned),
            )  # fmt: skip
        self._top_up()

    def done_downloading(self, export: Export) -> None:
        """Called once an export's rows are all emitted: free its slot, delete it if asked."""
        self._downloading = False
        self._top_up()
        self._release(export.id)

    def _release(self, export_id: str) -> None:
        """An export nobody reads any more: deleted when asked (else kept, and reported)."""
        # Forgotten only once deleted: a stop (Ctrl-C) that interrupts this DELETE leaves the
        # export to `close`, which deletes what is still listed.
        if self.delete_exports and self.api.delete_export(export_id).gone:
            self.ledger.discard(export_id)
        with self._lock:
            if not self.delete_exports:
                self._kept.append(export_id)
            self._created.discard(export_id)

    def close(self) -> None:
        """Stop waiting for jobs nobody will download; delete them when `delete_exports` is on."""
        self._planned.clear()
        # Threads held back by a rate-limit pause (polls, creates) give up first, so neither the
        # poller nor a worker keeps the shutdown waiting for the pause to end.
        self.api.interrupt_waits()
        self.waiter.close()
        for ahead in self._started:
            if ahead.future is not None:
                ahead.future.cancel()
        self._executor.shutdown(wait=True)
        self._started.clear()
        if self.delete_exports:
            left = sorted(self._created)
            for index, export_id in enumerate(left):
                outcome = self.api.delete_export(export_id)
                if outcome.gone:
                    self.ledger.discard(export_id)
                if outcome is DeleteOutcome.UNREACHABLE:
                    # Unreachable after the retries: every further delete would wait as long.
                    LOGGER.warning(
                        "Voucherify cannot be reached: not trying to delete the %d other "
                        "exports left on it: %s",
                        len(left) - index - 1,
                        ", ".join(left[index + 1 :]) or "none",
                    )
                    break
        else:
            # Each one is a downloadable file of customer data on the account: say so loudly.
            left = [*self._kept, *sorted(self._created)]
            if left:
                LOGGER.warning(
                    "%d exports left on Voucherify because delete_exports is false: %s",
                    len(left),
                    ", ".join(left),
                )
            for export_id in left:  # said once, here: the next run does not repeat it
                self.ledger.discard(export_id)
        self._created.clear()
        self._kept.clear()
