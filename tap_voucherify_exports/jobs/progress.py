"""Progress on stderr: a job's status changes and heartbeat, a download's running total, and a
summary per stream. Export jobs take minutes in production; these lines say the tap is alive.

At the default level (INFO) a job logs when its status changes and, while it waits, a heartbeat
every `HEARTBEAT_SECONDS`; a download logs its running total every `DOWNLOAD_REPORT_SECONDS` or
`DOWNLOAD_REPORT_ROWS`, whichever comes first, so a small sync stays a few lines per export.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from tap_voucherify_exports.jobs.export import ExportStatus

LOGGER = logging.getLogger("tap_voucherify_exports")

HEARTBEAT_SECONDS = 60.0
DOWNLOAD_REPORT_SECONDS = 10.0
DOWNLOAD_REPORT_ROWS = 100_000
# The download checks the clock once per this many rows: cheap enough per row, fine enough.
DOWNLOAD_CHECK_ROWS = 1_000


class JobWatch:
    """One export job's wait: logs each status change, and a heartbeat while it stays the same.

    Whatever polls the job (one get per job, or one list call for all) calls `observe` wherever
    it records the job's new status."""

    def __init__(self, stream: str, export_id: str, status: str, started: float) -> None:
        self.stream = stream
        self.export_id = export_id
        self.status = status
        self.started = started
        self._last_line = started

    def observe(self, status: str, now: float | None = None) -> None:
        """Record the status just read; log it if it changed, or if nothing was said for long."""
        now = time.monotonic() if now is None else now
        elapsed = now - self.started
        if status != self.status:
            self.status = status
            # A final status's arrival is logged elsewhere (DONE by the verbs, ERROR by its error).
            if not ExportStatus.is_final_status(status):
                LOGGER.info(
                    "%s: %s is %s after %.0f s", self.stream, self.export_id, status, elapsed
                )
                self._last_line = now
        elif now - self._last_line >= HEARTBEAT_SECONDS:
            LOGGER.info(
                "%s: %s still %s after %.0f s, waiting for Voucherify to generate it",
                self.stream, self.export_id, status or "pending", elapsed,
            )  # fmt: skip
            self._last_line = now


class DownloadProgress:
    """One export's download: a running total with rows/s and bytes read vs Content-Length."""

    def __init__(self, stream: str, export_id: str, started: float | None = None) -> None:
        self.stream = stream
        self.export_id = export_id
        self.started = time.monotonic() if started is None else started
        self.check_every = DOWNLOAD_CHECK_ROWS  # the caller calls `update` every this many rows
        self._last_time = self.started
        self._last_rows = 0

    def update(
        self,
        rows: int,
        bytes_read: int | None,
        content_length: int | None,
        now: float | None = None,
    ) -> None:
        """Log the running total if `DOWNLOAD_REPORT_SECONDS` or `_ROWS` passed since the last."""
        now = time.monotonic() if now is None else now
        if now - self._last_time < DOWNLOAD_REPORT_SECONDS and (
            rows - self._last_rows < DOWNLOAD_REPORT_ROWS
        ):
            return
        self._last_time, self._last_rows = now, rows
        elapsed = max(now - self.started, 1e-9)
        size = ""
        if bytes_read is not None:
            size = f", {bytes_read / 1e6:.1f} MB"
            if content_length:
                size += (
                    f" of {content_length / 1e6:.1f} MB ({100 * bytes_read / content_length:.0f} %)"
                )
        LOGGER.info(
            "%s: %s: %d rows so far, %.0f rows/s%s",
            self.stream, self.export_id, rows, rows / elapsed, size,
        )  # fmt: skip


def null_note(nulls: int) -> str:
    """The end of a summary line for `nulls` typed cells spelled `null`/`NULL` (read as null,
    parsing/converters.py); nothing when there were none."""
    if not nulls:
        return ""
    cells = "1 cell" if nulls == 1 else f"{nulls} cells"
    return f"; {cells} spelled null/NULL in typed columns read as null"


@dataclass
class StreamTotals:
    """What one stream's exports took, for the summary at the end of the sync."""

    exports: int = 0
    rows: int = 0
    waiting_seconds: float = 0.0
    downloading_seconds: float = 0.0
    nulls: int = 0  # typed cells spelled null/NULL, read as null

    def line(self, stream: str) -> str:
        """The stream's summary line."""
        exports = "1 export" if self.exports == 1 else f"{self.exports} exports"
        return (
            f"{stream}: {self.rows} rows from {exports}; "
            f"{self.waiting_seconds:.1f} s waiting for exports, "
            f"{self.downloading_seconds:.1f} s downloading and emitting{null_note(self.nulls)}"
        )
