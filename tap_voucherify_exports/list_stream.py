"""A stream read from a list endpoint, not an export: every page of `GET <path>` through the
run's client, the rows at or after the stream's bookmark.

`bin_entries` (`GET /v1/trash-bin`) is the one such stream. Its list has no date filter
(documentation/openapi/bin.json: `limit`, `order` by `id`, `starting_after_id`, and `filters` on
`id`, `resource_type`, `resource_name`, `resource_id`), so every run reads the whole bin, a
call per 100 entries, and emits the entries moved to the bin at or after the bookmark.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from singer_sdk import Stream, Tap
from singer_sdk.helpers.types import Context, Record

from tap_voucherify_exports.errors import VoucherifyError
from tap_voucherify_exports.session import SyncSession

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class VoucherifyListStream(Stream):
    """The items of one list endpoint, incremental on a date-time `replication_key`.

    The bookmark is singer-sdk's own: the list is ordered by `id`, not by the replication key
    (`is_sorted` False), so the SDK moves the bookmark to the greatest value emitted only once
    the stream's last record was written, and a run stopped before that resumes from the
    previous bookmark: no entry is skipped, some may be emitted again (targets upsert on `id`).
    A singer-sdk seam (docs/architecture.md), with its canary test.
    """

    path: ClassVar[str]
    declared_schema: ClassVar[Mapping[str, Any]]
    is_sorted = False

    def __init__(self, tap: Tap, session: SyncSession) -> None:
        super().__init__(tap, schema=dict(self.declared_schema))
        self.session = session

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        assert self.replication_key
        start = self.get_starting_timestamp(context)
        properties = self.schema["properties"]
        for item in self.session.list_entries(self.path):
            if start is None or self._replication_value(item) >= start:
                yield {key: item.get(key) for key in properties}

    def _replication_value(self, item: Mapping[str, Any]) -> dt.datetime:
        assert self.replication_key
        value = item.get(self.replication_key)
        try:
            # Python 3.10 reads no `Z`; Voucherify writes `2024-03-27T19:24:26.142Z` (bin.json).
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise VoucherifyError(
                f"{self.name}: GET {self.path} answered an item without a valid "
                f"{self.replication_key}: {str(dict(item))[:200]}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment
