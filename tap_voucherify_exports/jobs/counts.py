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
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from tap_voucherify_exports.api.lists import ListsAPI
from tap_voucherify_exports.errors import CountMismatchError, VoucherifyAPIError
from tap_voucherify_exports.jobs.request import ExportRequest

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
# on their way to the list endpoints (inferred: Voucherify documents no delay either way), and a
# window that ends at the sync's start is compared by no run.
COUNT_SETTLE_SECONDS = 300.0


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

    def line(self, stream: str) -> str | None:
        """The stream's summary line, or None when it had no window to speak of."""
        if self.not_counted:
            return f"{stream}: row counts not verified: {self.not_counted}"
        if not (self.verified or self.still_open or self.no_total or self.failed):
            return None
        windows = "1 window" if self.verified == 1 else f"{self.verified} windows"
        line = (
            f"{stream}: row counts of {windows} verified against GET {self.endpoint}: "
            f"{self.matched} matched, {self.differed} differed"
        )
        if self.still_open:
            line += f"; {self.still_open} not compared (ending less than "
            line += f"{COUNT_SETTLE_SECONDS / 60:.0f} minutes before now)"
        if self.no_total:
            line += f"; {self.no_total} answered without a total"
        if self.failed:
            line += f"; {self.failed} not compared: the count call failed"
        return line


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

    def check(self, request: ExportRequest, rows: int) -> None:
        """Compare the `rows` an export of a window delivered with the list's `total`.

        A difference is one warning; with `verify_counts: fail`, fewer rows than the total
        raise `CountMismatchError` (the caller has not moved the bookmark past the window).
        More rows than the total warn only: a row deleted after the export (or, in an
        `updated_at` window, changed again) leaves the list's count.
        """
        total = self._total(request)
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
            if self.mode == "fail":
                raise CountMismatchError(message + "; verify_counts is fail.")
        else:
            message += " (rows deleted or changed since the export leave the count)"
        LOGGER.warning("%s", message)

    def _total(self, request: ExportRequest) -> int | None:
        """The list's `total` for the request's window, or None when it is not compared (the
        stream's tally says why)."""
        window, key = request.window, request.filter_key
        if self.mode == "off" or window is None or key is None:
            return None
        tally = self.tallies.setdefault(request.stream_name, CountTally())
        path, filters = COUNT_LISTS.get(request.exported_object, ("", frozenset()))
        if key not in filters:
            obj = request.exported_object
            tally.not_counted = NOT_COUNTED.get(obj, f"GET {path} has no {key} filter")
            return None
        tally.endpoint = path
        if window.end > self._now() - dt.timedelta(seconds=COUNT_SETTLE_SECONDS):
            tally.still_open += 1
            return None
        if path in self._refused:
            tally.failed += 1
            return None
        after, before = window.bounds()
        try:
            total = self.lists.total(path, {f"{key}[after]": after, f"{key}[before]": before})
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

    def lines(self) -> list[str]:
        """One summary line per stream that had windows to check."""
        return [
            line
            for stream, tally in self.tallies.items()
            if (line := tally.line(stream)) is not None
        ]
