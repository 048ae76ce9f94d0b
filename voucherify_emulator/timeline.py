"""Row index <-> created_at timestamp, and ISO 8601 helpers.

Each exported object's rows live on a timeline made of segments. The first segment spreads the
configured rows over 2021-01-01 .. 2025-01-01; every `add_rows` call appends a segment between
the previous last row and the real current time. Within a segment rows come in groups of three
sharing one millisecond, and the timestamp is a pure arithmetic function of the row index, so a
created_at window is an index range found by binary search and no row is ever stored.
"""

from __future__ import annotations

import bisect
import functools
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

GROUP = 3  # rows sharing one created_at millisecond
INITIAL_START_MS = 1_609_459_200_000  # 2021-01-01T00:00:00Z
INITIAL_END_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
_DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Segment:
    """A run of rows [first, first + count) spread over [start_ms, end_ms)."""

    first: int
    count: int
    start_ms: int
    end_ms: int
    salt: int

    @property
    def groups(self) -> int:
        """Number of same-millisecond groups in the segment."""
        return -(-self.count // GROUP)

    def ms(self, i: int) -> int:
        """Timestamp of row `i` (which must fall in this segment)."""
        g = (i - self.first) // GROUP
        n = self.groups
        span = self.end_ms - self.start_ms
        step = span // n
        # Jitter below one step keeps the sequence non-decreasing while avoiding round numbers.
        jitter = ((g + self.salt) * 2_654_435_761 % 4_294_967_296) % step if step > 1 else 0
        return self.start_ms + g * span // n + jitter


class Timeline:
    """All segments of one exported object; thread-safe for concurrent add_rows."""

    def __init__(self, count: int, salt: int) -> None:
        self._lock = threading.Lock()
        self._salt = salt
        self._segments: list[Segment] = []
        self._firsts: list[int] = []
        if count > 0:
            self._append(Segment(0, count, INITIAL_START_MS, INITIAL_END_MS, salt))

    def _append(self, segment: Segment) -> None:
        self._segments.append(segment)
        self._firsts.append(segment.first)

    @property
    def count(self) -> int:
        """Total number of rows."""
        with self._lock:
            last = self._segments[-1] if self._segments else None
        return last.first + last.count if last else 0

    @property
    def added_segments(self) -> list[tuple[int, int, int]]:
        """(count, start_ms, end_ms) of every segment added after the initial one."""
        with self._lock:
            return [(s.count, s.start_ms, s.end_ms) for s in self._segments[1:]]

    def add(
        self,
        count: int,
        start_ms: int | None = None,
        end_ms: int | None = None,
        not_before_ms: int = 0,
    ) -> None:
        """Append `count` rows later than every existing row and not later than now.

        They are also later than `not_before_ms` (the last time anyone could have read the
        data), as in the real system: a row created after an export ran is dated after it, so
        a tap that synced up to then finds it past its bookmark, never behind it.
        """
        if count <= 0:
            return
        with self._lock:
            first = self._segments[-1].first + self._segments[-1].count if self._segments else 0
            last_ms = self._last_ms_locked()
            if start_ms is None or end_ms is None:
                start_ms = max(last_ms + 1, INITIAL_START_MS, not_before_ms + 1)
                end_ms = int(time.time() * 1000)
                while end_ms <= start_ms:  # the previous row is in this very millisecond
                    time.sleep(0.002)
                    end_ms = int(time.time() * 1000)
            self._append(Segment(first, count, start_ms, end_ms, self._salt + first))

    def _last_ms_locked(self) -> int:
        if not self._segments:
            return INITIAL_START_MS - 1
        last = self._segments[-1]
        return last.ms(last.first + last.count - 1)

    def snapshot(self) -> list[Segment]:
        """The segments as of now (immutable), for a job to iterate without locking."""
        with self._lock:
            return list(self._segments)

    def ms(self, i: int) -> int:
        """Timestamp of row `i`."""
        with self._lock:
            return self._segments[bisect.bisect_right(self._firsts, i) - 1].ms(i)

    def window(self, after_ms: int | None, before_ms: int | None, inclusive: bool) -> range:
        """Index range of rows inside the (after, before) window."""
        segments = self.snapshot()
        total = segments[-1].first + segments[-1].count if segments else 0
        firsts = [s.first for s in segments]

        def ms(i: int) -> int:
            return segments[bisect.bisect_right(firsts, i) - 1].ms(i)

        def first_index(pred_ms: int, strictly_after: bool) -> int:
            # First index whose timestamp is > pred_ms (or >= when not strictly_after).
            lo, hi = 0, total
            while lo < hi:
                mid = (lo + hi) // 2
                value = ms(mid)
                if value > pred_ms or (not strictly_after and value == pred_ms):
                    hi = mid
                else:
                    lo = mid + 1
            return lo

        lo = 0 if after_ms is None else first_index(after_ms, strictly_after=not inclusive)
        hi = total if before_ms is None else first_index(before_ms, strictly_after=inclusive)
        return range(lo, max(lo, hi))


def iter_ms(segments: list[Segment], rows: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Yield (index, ms) for `rows`: a step +1 or -1 range (one timestamp per group), or any
    sequence of indexes (rows picked by `updated_at`, one lookup each)."""
    if not rows:
        return
    if not isinstance(rows, range):
        firsts = [s.first for s in segments]
        for i in rows:
            yield i, segments[bisect.bisect_right(firsts, i) - 1].ms(i)
        return
    ordered = segments if rows.step > 0 else segments[::-1]
    low, high = min(rows[0], rows[-1]), max(rows[0], rows[-1]) + 1
    for seg in ordered:
        lo, hi = max(low, seg.first), min(high, seg.first + seg.count)
        if lo >= hi:
            continue
        part = range(lo, hi) if rows.step > 0 else range(hi - 1, lo - 1, -1)
        last_group, ms = -1, 0
        for i in part:
            group = (i - seg.first) // GROUP
            if group != last_group:
                last_group, ms = group, seg.ms(i)
            yield i, ms


@functools.lru_cache(maxsize=8192)
def _day(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * 86_400, tz=timezone.utc).strftime("%Y-%m-%d")


# "HH:MM:SS" for every second of a day: formatting a timestamp is then two divmods and a join,
# which matters when a million rows each carry several date-times.
_HMS = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))


def iso_ms(ms: int) -> str:
    """`2022-03-09T09:16:32.521Z` for an epoch-millisecond timestamp (UTC)."""
    day, rest = divmod(ms, _DAY_MS)
    seconds, millis = divmod(rest, 1000)
    return f"{_day(day)}T{_HMS[seconds]}.{millis:03d}Z"


@functools.lru_cache(maxsize=64)
def iso_group(ms: int) -> str:
    """iso_ms, cached: a row's own created_at repeats for the other rows of its group."""
    return iso_ms(ms)


def iso_date(ms: int) -> str:
    """`2022-06-30` for an epoch-millisecond timestamp (UTC)."""
    return _day(ms // _DAY_MS)


def parse_iso(value: str | datetime) -> int:
    """Epoch milliseconds of an ISO 8601 string or datetime (naive means UTC)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    # Integer arithmetic: float timestamps would round some milliseconds the wrong way.
    return (moment - _EPOCH) // timedelta(milliseconds=1)
