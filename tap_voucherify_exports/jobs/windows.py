"""Pure window arithmetic for `created_at` filters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

# Voucherify timestamps carry milliseconds. Whether `$after`/`$before` include their edge is not
# documented, so every `$after` is moved back by one millisecond: with exclusive edges a row at
# exactly the window start (or the bookmark) is still exported, with inclusive ones it is exported
# twice, and targets upsert on the primary key. A row may repeat; it can never fall in a gap.
EDGE_OVERLAP = dt.timedelta(milliseconds=1)


def iso_ms(moment: dt.datetime) -> str:
    """Format as Voucherify writes timestamps: `2018-05-30T22:00:00.000Z` (UTC, milliseconds)."""
    utc = moment.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Window:
    """A half-open `created_at` range [start, end) that one export job covers."""

    start: dt.datetime
    end: dt.datetime

    @property
    def span(self) -> dt.timedelta:
        """How much time the window covers."""
        return self.end - self.start

    def bounds(self) -> tuple[str, str]:
        """The window's `after` and `before` as sent: the start moved back by EDGE_OVERLAP.
        An export's filter and a list endpoint's count (jobs/counts.py) use the same ones."""
        return iso_ms(self.start - EDGE_OVERLAP), iso_ms(self.end)

    def filters(self, key: str = "created_at") -> dict[str, Any]:
        """The export `parameters.filters` selecting this window (documented shape)."""
        after, before = self.bounds()
        return {"junction": "and", key: {"conditions": {"$after": [after], "$before": [before]}}}

    def halves(self) -> tuple[Window, Window]:
        """Split in two at the millisecond nearest the middle."""
        middle = self.start + (self.span / 2)
        middle -= dt.timedelta(microseconds=middle.microsecond % 1000)
        return Window(self.start, middle), Window(middle, self.end)

    def __str__(self) -> str:
        return f"[{iso_ms(self.start)}, {iso_ms(self.end)})"


def plan_windows(start: dt.datetime, end: dt.datetime, size: dt.timedelta) -> list[Window]:
    """Cut [start, end) into consecutive windows of at most `size`, oldest first."""
    windows = []
    cursor = start
    while cursor < end:
        window_end = min(cursor + size, end)
        windows.append(Window(cursor, window_end))
        cursor = window_end
    return windows
