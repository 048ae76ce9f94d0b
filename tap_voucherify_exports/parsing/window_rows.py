"""Rows outside the window their export was asked for: the sign that Voucherify ignored the filter.

An export of a window sends `$after` start - `EDGE_OVERLAP` and `$before` end (jobs/windows.py),
so every row it may hold has its cursor in [start - `EDGE_OVERLAP`, end], whichever way
Voucherify treats the edges. Voucherify ignores filter conditions it does not understand (PHP SDK
5.1.0 changelog: conditions "ignored by the API"), and a Dashboard bug let voucher exports ignore
their date filters (fixed 2026-06-22): a row outside those bounds means the filter was ignored.
The reader drops such a row before it becomes a record and counts it (parsing/records.py); the
session says so once and the stream stops windowing that cursor (export_stream.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tap_voucherify_exports.jobs.windows import EDGE_OVERLAP, Window, iso_ms
from tap_voucherify_exports.parsing.converters import NULL_SPELLINGS

# Voucherify's own timestamp form, `2022-03-09T09:16:32.521Z`: such cells compare as text.
CANONICAL_CHARS = len("2022-03-09T09:16:32.521Z")


@dataclass(frozen=True)
class WindowBounds:
    """The cursor values an export of one window may hold, and the record property holding
    them (`created_at`, `date` or `updated_at`)."""

    cursor: str
    low: str  # iso_ms(start - EDGE_OVERLAP): canonical cells compare with these as text
    high: str  # iso_ms(end)
    low_at: dt.datetime
    high_at: dt.datetime

    @classmethod
    def of(cls, window: Window, cursor: str) -> WindowBounds:
        """The bounds of `window`'s filter, checked on the property `cursor`."""
        low_at, high_at = window.start - EDGE_OVERLAP, window.end
        return cls(cursor, iso_ms(low_at), iso_ms(high_at), low_at, high_at)

    def inside(self, cell: str) -> bool:
        """Whether a cursor cell, as exported, lies inside the bounds.

        An empty or null cell is outside: no filter on the cursor selects a row without one
        (a row never updated has no `updated_at`). An unreadable cell counts as inside: it is
        the converter's to name (parsing/converters.py)."""
        if len(cell) == CANONICAL_CHARS and cell[-1] == "Z":
            return self.low <= cell <= self.high
        text = cell.strip()
        if not text or text in NULL_SPELLINGS:
            return False
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return True
        if moment.tzinfo is None:  # "exported date and times are always provided in UTC"
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return self.low_at <= moment <= self.high_at
