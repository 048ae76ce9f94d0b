"""The bin: vouchers moved there by `Emulator.remove_rows(..., to_bin=True)`, listed by
`GET /v1/trash-bin` as `documentation/openapi/bin.json` (voucherifyio/voucherify-openapi)
describes it.

Entries are listed in `id` order, paged by `limit` (1-100, default 10) and `starting_after_id`;
`total` is the number of entries in the page, not of all entries (bin.json says so of
`TrashBinListResponseBody.total`). *Inference*: entry ids grow with the time an entry was made
(the spec's examples do), so `id` order is also `created_at` order here.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class BinEntry:
    """One `TrashBinItem` (bin.json): a resource moved to the bin, and when."""

    id: str
    created_at: str
    resource_id: str
    resource_name: str
    resource_parent_id: str | None
    resource_type: str = "voucher"
    deleted_by_user_id: str | None = None  # null: deleted through the API (bin.json)

    def to_json(self) -> dict[str, Any]:
        """The entry as the API lists it (`object` equals `resource_type`)."""
        return {**asdict(self), "object": self.resource_type}


def entry_id(moved_ms: int, serial: int) -> str:
    """`tbe_` and 18 hex digits that sort as (moved_ms, serial) do."""
    return f"tbe_{moved_ms:012x}{serial:06x}"


class TrashBin:
    """Every entry in the bin, in id order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[BinEntry] = []

    def add(self, entry: BinEntry) -> None:
        """Put an entry in the bin (its id sorts after every earlier one)."""
        with self._lock:
            self._entries.append(entry)
            self._entries.sort(key=lambda e: e.id)

    def purge(self, count: int) -> int:
        """Delete the `count` oldest entries permanently (bin.json's Delete Bin Entry)."""
        with self._lock:
            gone = min(count, len(self._entries))
            del self._entries[:gone]
            return gone

    def entries(self) -> list[BinEntry]:
        """Every entry, in id order."""
        with self._lock:
            return list(self._entries)

    def page(self, limit: int, starting_after_id: str | None, descending: bool) -> dict[str, Any]:
        """One page of `GET /v1/trash-bin`, shaped as `TrashBinListResponseBody`."""
        entries = self.entries()
        if descending:
            entries.reverse()
        if starting_after_id:
            after = starting_after_id
            entries = [e for e in entries if (e.id < after if descending else e.id > after)]
        data = entries[:limit]
        has_more = len(entries) > limit
        body: dict[str, Any] = {
            "object": "list",
            "data_ref": "data",
            "data": [e.to_json() for e in data],
            "total": len(data),
            "has_more": has_more,
        }
        if has_more:
            body["more_starting_after"] = data[-1].id
        return body
