"""Completeness: a closed window's rows, as its export delivered them, against the `total` the
matching list endpoint gives for the same bounds (docs/reliability.md#completeness).

Which list endpoint can count which export, from Voucherify's OpenAPI spec
(voucherifyio/voucherify-openapi, `documentation/openapi/`):

| exported object | list endpoint | its date filters | verified |
|---|---|---|---|
| voucher | `GET /v1/vouchers` (vouchers.json) | `created_at`, `updated_at` | both cursors |
| customer | `GET /v1/customers` (customers.json) | `created_at`, `updated_at` | both cursors |
| redemption | `GET /v1/redemptions` (redemptions.json) | `created_at` | created |
| publication | `GET /v1/publications` (publications.json) | none | no |
| order | `GET /v1/orders` (orders.json) | none: only `limit`, `page`, `order` | no |
| voucher_transactions | none: only `GET /v1/vouchers/{code}/transactions` | - | no |
| points_expiration | (full table, no window) | - | no |

Each filter is a pair of query parameters, `created_at[after]` and `created_at[before]` (a
deepObject in vouchers.json and redemptions.json, four named parameters in customers.json).

The list endpoints' `total` counts the rows that "meet the limits defined by the query
parameter definitions" (vouchers.json; customers.json, redemptions.json: "Total number of …").
Whether `after`/`before` include their edge is not documented for lists either: the count is
asked with the export's own bounds (`Window.bounds`), so both count the same rows (inferred).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from tap_voucherify_exports.api.lists import ListsAPI
from tap_voucherify_exports.errors import CountMismatchError, VoucherifyAPIError, VoucherifyError
from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.jobs.windows import Window

LOGGER = logging.getLogger("tap_voucherify_exports")

# exported object → (list endpoint, the window filters it takes)
COUNT_LISTS: dict[str, tuple[str, frozenset[str]]] = {
    "voucher": ("/v1/vouchers", frozenset({"created_at", "updated_at"})),
    "customer": ("/v1/customers", frozenset({"created_at", "updated_at"})),
    "redemption": ("/v1/redemptions", frozenset({"created_at"})),
}
# exported object → why its windows are not verified
NOT_COUNTED: dict[str, str] = {
    "publication": "GET /v1/publications has no created_at filter (publications.json)",
    "order": "GET /v1/orders takes no date filter (orders.json)",
    "voucher_transactions": "no list endpoint spans every voucher's transactions "
    "(vouchers.json: GET /v1/vouchers/{code}/transactions only)",
}
REFUSED_STATUSES = frozenset({HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN})
# A window is compared only once it ended this long ago: rows of the last minutes may still be
# on their way to the list endpoints (inferred: Voucherify documents no delay either way). A
# run's last window ends at the run's start, so it is left open: its row count goes into the
# state, and the next run compares it (`recheck`).
COUNT_SETTLE_SECONDS = 300.0
# A window that differs names its first keys to check when it has at most this many rows: the
# reader keeps their `id` cells (parsing/records.py), the list endpoint gives its own in
# ceil(total / 100) calls (at most 10), made only for a window that differs.
KEYS_COMPARED_MAX = 1000
KEYS_NAMED = 5
# With `verify_counts: warn`, a window found short is compared again by the next run and exported
# again while still short, at most this many times: a shortfall Voucherify repeats (rows its
# exports never hold) costs a few exports, then one warning, not one export every run forever.
EXPORTS_OF_A_SHORT_WINDOW = 3


@dataclass
class CountTally:
    """One stream's windows: verified (matched or differed), and those left uncompared."""

    endpoint: str = ""
    verified: int = 0
    matched: int = 0
    differed: int = 0
    still_open: int = 0
    no_total: int = 0
    not_counted: str = ""  # why this stream's windows cannot be verified
    failed: int = 0  # windows whose count call failed (or whose list refused an earlier one)
    earlier: int = 0  # of the verified, windows an earlier run left open (`recheck`)

    def line(self, stream: str) -> str | None:
        """The stream's summary line, or None when it had no window to speak of."""
        if self.not_counted:
            return f"{stream}: row counts not verified: {self.not_counted}"
        if not (self.verified or self.still_open or self.no_total or self.failed):
            return None
        windows = "1 window" if self.verified == 1 else f"{self.verified} windows"
        earlier = f" ({self.earlier} left open by an earlier run)" if self.earlier else ""
        line = (
            f"{stream}: row counts of {windows}{earlier} verified against GET {self.endpoint}: "
            f"{self.matched} matched, {self.differed} differed"
        )
        if self.still_open:
            line += f"; {self.still_open} compared by the next run (ending less than "
            line += f"{COUNT_SETTLE_SECONDS / 60:.0f} minutes before now)"
        if self.no_total:
            line += f"; {self.no_total} answered without a total"
        if self.failed:
            line += f"; {self.failed} not compared: the count call failed"
        return line


@dataclass(frozen=True)
class OpenCount:
    """A window compared by a later run: its cursor, bounds and the rows its export delivered,
    as the stream's state keeps it (`COUNTS_STATE_KEY` in export_stream.py)."""

    filter_key: str
    window: Window
    rows: int
    exports: int = 1  # of the window so far: more than 1 once it was found short and exported again

    def to_state(self) -> dict[str, Any]:
        """The entry in the stream's state."""
        return {
            "filter_key": self.filter_key,
            "start": self.window.start.isoformat(),
            "end": self.window.end.isoformat(),
            "rows": self.rows,
            "exports": self.exports,
        }

    @classmethod
    def from_state(cls, entry: Any) -> OpenCount | None:
        """The entry read back; None for one this version cannot read (it is dropped)."""
        try:
            start = dt.datetime.fromisoformat(entry["start"])
            end = dt.datetime.fromisoformat(entry["end"])
            rows, key, exports = entry["rows"], entry["filter_key"], entry.get("exports", 1)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        whole = all(isinstance(n, int) and n >= 0 for n in (rows, exports))
        if not (whole and isinstance(key, str) and start.tzinfo and end.tzinfo):
            return None
        return cls(key, Window(start, end), rows, exports)


class CountVerifier:
    """Checks each closed window of the run, keeps a tally per stream (`verify_counts`)."""

    def __init__(
        self,
        lists: ListsAPI,
        mode: str,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ) -> None:
        self.lists = lists
        self.mode = mode
        self._now = now
        self.tallies: dict[str, CountTally] = {}
        # List endpoints that refused a count call (401/403: a scope or a permission): not asked
        # again in this run, so a refusal costs one call (and, with OAuth, one renewal), not one
        # per window.
        self._refused: set[str] = set()
        # Windows this run leaves for the next to compare, by (stream, filter, window): too recent
        # to compare, or found short (`verify_counts: warn`).
        self._left_open: dict[tuple[str, str, Window], OpenCount] = {}
        # Windows an earlier run left that this run exports again: how many exports that makes.
        self._exported_again: dict[tuple[str, str, Window], int] = {}

    def keys_to_keep(self, request: ExportRequest) -> int:
        """How many `id` cells a reader of `request`'s export keeps for `check` (0: none)."""
        return KEYS_COMPARED_MAX if self._list_for(request) else 0

    def check(self, request: ExportRequest, rows: int, keys: Sequence[str] | None = None) -> None:
        """Compare the `rows` an export of a window delivered with the list's `total`.

        A difference is one warning, naming the first keys to check when the window is small
        enough (`keys`: the export's `id` cells, or None when not kept); with
        `verify_counts: fail`, fewer rows than the total raise `CountMismatchError` (the caller
        has not moved the bookmark past the window). More rows than the total warn only: a row
        deleted after the export (or, in an `updated_at` window, changed again) leaves the
        list's count.
        """
        total = self._total(request, rows)
        if total is None:
            return
        tally = self.tallies[request.stream_name]
        tally.verified += 1
        if total == rows:
            tally.matched += 1
            return
        tally.differed += 1
        path, _ = COUNT_LISTS[request.exported_object]
        message = (
            f"{request.stream_name}: {request.filter_key} window {request.window}: the export "
            f"delivered {rows} rows, GET {path} counts {total} for the same bounds"
        )
        if rows < total:
            message += f" ({total - rows} missing from the export)"
        else:
            message += " (rows deleted or changed since the export leave the count)"
        message += self._keys_to_check(request, total, keys)
        if rows < total and self.mode == "fail":
            raise CountMismatchError(message + "; verify_counts is fail.")
        if rows < total:
            message += self._compare_again(request, rows)
        LOGGER.warning("%s", message)

    def _compare_again(self, request: ExportRequest, rows: int) -> str:
        """Leave a short window for the next run to compare (and export again while short), up
        to `EXPORTS_OF_A_SHORT_WINDOW` exports of it; the warning's last words say which."""
        assert request.window is not None
        assert request.filter_key is not None
        at = (request.stream_name, request.filter_key, request.window)
        exports = self._exported_again.get(at, 1)
        if exports >= EXPORTS_OF_A_SHORT_WINDOW:
            return f"; exported {exports} times, short each time: not exported again"
        self._left_open[at] = OpenCount(request.filter_key, request.window, rows, exports)
        return "; the next run compares it again, and exports it again if still short"

    def left_open(self, request: ExportRequest) -> OpenCount | None:
        """The count of `request`'s window when this run left it for the next (`recheck`)."""
        window, key = request.window, request.filter_key
        if window is None or key is None:
            return None
        return self._left_open.pop((request.stream_name, key, window), None)

    def recheck(
        self, earlier: Sequence[tuple[ExportRequest, OpenCount]]
    ) -> tuple[list[tuple[ExportRequest, OpenCount]], list[OpenCount]]:
        """Compare windows an earlier run left open (each a request of its window, and its count
        from the stream's state) now that they closed: (those found short, to export again;
        the counts of those still open).

        Compared a run later, a window can only have lost rows (deleted, or in an `updated_at`
        window changed again): fewer rows than the export delivered is no difference here; more
        is a warning, and the window is exported again by this run, its export counted in turn.
        """
        short: list[tuple[ExportRequest, OpenCount]] = []
        still_open: list[OpenCount] = []
        for request, count in earlier:
            if not self._list_for(request):
                continue
            if self._settling(count.window):
                still_open.append(count)
                continue
            total = self._total(request, count.rows)
            if total is None:
                continue
            tally = self.tallies[request.stream_name]
            tally.verified += 1
            tally.earlier += 1
            if total <= count.rows:
                tally.matched += 1
                continue
            tally.differed += 1
            path, _ = COUNT_LISTS[request.exported_object]
            LOGGER.warning(
                "%s: %s window %s: an earlier run's export delivered %d rows, GET %s now counts "
                "%d for the same bounds (%d missing): this run exports the window again.",
                request.stream_name, count.filter_key, count.window, count.rows, path, total,
                total - count.rows,
            )  # fmt: skip
            window = (request.stream_name, count.filter_key, count.window)
            self._exported_again[window] = count.exports + 1
            short.append((request, count))
        return short, still_open

    def _list_for(self, request: ExportRequest) -> str | None:
        """The list endpoint counting `request`'s window, or None when none is compared."""
        path, filters = COUNT_LISTS.get(request.exported_object, ("", frozenset()))
        if self.mode == "off" or request.window is None or request.filter_key not in filters:
            return None
        return path

    def _settling(self, window: Window) -> bool:
        return window.end > self._now() - dt.timedelta(seconds=COUNT_SETTLE_SECONDS)

    def _total(self, request: ExportRequest, rows: int) -> int | None:
        """The list's `total` for the request's window, or None when it is not compared (the
        stream's tally says why; a window too recent is kept, with its `rows`, for `left_open`)."""
        window, key = request.window, request.filter_key
        if self.mode == "off" or window is None or key is None:
            return None
        tally = self.tallies.setdefault(request.stream_name, CountTally())
        path = self._list_for(request)
        if path is None:
            obj = request.exported_object
            listed, _ = COUNT_LISTS.get(obj, ("", frozenset()))
            tally.not_counted = NOT_COUNTED.get(obj, f"GET {listed} has no {key} filter")
            return None
        tally.endpoint = path
        if self._settling(window):
            tally.still_open += 1
            self._left_open[(request.stream_name, key, window)] = OpenCount(key, window, rows)
            return None
        if path in self._refused:
            tally.failed += 1
            return None
        try:
            total = self.lists.total(path, self._bounds(request))
        except VoucherifyAPIError as exc:
            if self.mode == "fail":
                raise
            if exc.status in REFUSED_STATUSES:
                self._refused.add(path)
            tally.failed += 1
            if tally.failed == 1:
                LOGGER.warning("%s: row counts cannot be verified: %s", request.stream_name, exc)
            return None
        if total is None:
            tally.no_total += 1
        return total

    @staticmethod
    def _bounds(request: ExportRequest) -> dict[str, str]:
        """The list's filter for the window: the export's own bounds (`Window.bounds`)."""
        assert request.window is not None
        after, before = request.window.bounds()
        key = request.filter_key
        return {f"{key}[after]": after, f"{key}[before]": before}

    def _keys_to_check(self, request: ExportRequest, total: int, keys: Sequence[str] | None) -> str:
        """The first keys the export and the list disagree on, as the warning's last words; or
        why they are not named."""
        if keys is None or total > KEYS_COMPARED_MAX:
            return f"; keys not compared (more than {KEYS_COMPARED_MAX} rows)"
        path, _ = COUNT_LISTS[request.exported_object]
        try:
            listed = self.lists.ids(path, self._bounds(request), total)
        except VoucherifyError as exc:
            return f"; keys not compared: {exc}"
        exported = set(keys)
        missing = [key for key in listed if key not in exported]
        if missing:
            return f"; first keys to check: {_named(missing)} (listed, not in the export)"
        listed_set = set(listed)
        extra = [key for key in keys if key not in listed_set]
        if extra:
            return f"; first keys to check: {_named(extra)} (in the export, not listed)"
        return "; the export and the list name the same keys"

    def lines(self) -> list[str]:
        """One summary line per stream that had windows to check."""
        return [
            line
            for stream, tally in self.tallies.items()
            if (line := tally.line(stream)) is not None
        ]


def _named(keys: Sequence[str]) -> str:
    more = len(keys) - KEYS_NAMED
    return ", ".join(keys[:KEYS_NAMED]) + (f" and {more} more" if more > 0 else "")
