"""What one export asks Voucherify for: the object, its fields, and a window of one filter."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tap_voucherify_exports.fields import ExportedObjectTable
from tap_voucherify_exports.jobs.windows import Window


@dataclass(frozen=True)
class ExportRequest:
    """What one export job is asked for: the object, fields, order and window.

    `table` is the stream's field table (its object's, plus its `metadata_keys`): the one the
    stream's schema came from, carried here so the CSV is read against the very same table.
    """

    stream_name: str
    table: ExportedObjectTable
    fields: tuple[str, ...]
    window: Window | None = None
    filter_key: str | None = None
    # Fields never dropped when Voucherify refuses some: the stream's primary and replication keys.
    required: tuple[str, ...] = ()
    # The record property whose values the filter selects (`date` for a redemption's
    # `created_at`): rows outside the window are dropped by it (parsing/window_rows.py).
    cursor: str | None = None

    @property
    def exported_object(self) -> str:
        """The API's `exported_object` of this export."""
        return self.table.exported_object

    def body(self) -> dict[str, Any]:
        """The `POST /v1/exports` body."""
        parameters: dict[str, Any] = {"fields": list(self.fields)}
        if self.window is not None and self.filter_key:
            parameters["order"] = self.filter_key  # ascending: oldest first
            parameters["filters"] = self.window.filters(self.filter_key)
        return {"exported_object": self.exported_object, "parameters": parameters}

    def split(self) -> tuple[ExportRequest, ExportRequest]:
        """The same request over each half of the window."""
        assert self.window is not None
        first, second = self.window.halves()
        return replace(self, window=first), replace(self, window=second)

    def __str__(self) -> str:
        # The cursor is named: a stream's created-rows and changed-rows exports of one window
        # would otherwise log the same line.
        scope = f"{self.filter_key} window {self.window}" if self.window else "all rows"
        return f"{self.exported_object} export ({scope})"
