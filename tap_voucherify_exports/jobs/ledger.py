"""The exports this tap created and has not deleted: each one a downloadable file of customer
data on the account until it is deleted.

The ledger is written into every STATE (top-level key `STATE_KEY`, output/writer.py), and a
STATE is written as soon as an export is created, before its rows are emitted: a run killed at
any point (SIGKILL, an OOM kill, a lost VM) leaves in the STATE a target keeps every export it
created and did not delete, and the next run deletes those (jobs/pipeline.py's
`delete_left_exports`) and never any other.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

# A top-level key of the tap's STATE, beside singer-sdk's `bookmarks`: singer-sdk keeps the
# dict whole when it writes STATE, targets pass STATE on as is, and meltano stores it whole
# (its merge of partial states replaces a list wholesale, so an emptied list is stored empty).
STATE_KEY = "exports_on_voucherify"

# Voucherify export ids are `exp_` and alphanumerics. A STATE is editable by hand: anything else
# is never sent in a DELETE path (`../` would reach another resource).
EXPORT_ID = re.compile(r"exp_[A-Za-z0-9]+")


def exports_in_state(state: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """The export ids a STATE lists under `STATE_KEY`, and the entries that are not export ids."""
    listed = state.get(STATE_KEY) or []
    if not isinstance(listed, list):
        return [], [listed]
    ids: list[str] = []
    ignored: list[Any] = []
    for entry in listed:
        if isinstance(entry, str) and EXPORT_ID.fullmatch(entry):
            if entry not in ids:
                ids.append(entry)
        else:
            ignored.append(entry)
    return ids, ignored


class ExportLedger:
    """Export ids created and not yet deleted, oldest first; safe across threads.

    `on_add` (the tap's STATE writer) is called after every `add`, on the thread that created
    the export: the pipeline creates exports ahead on worker threads.
    """

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, None] = dict.fromkeys(ids)  # an ordered set
        self.on_add: Callable[[], None] | None = None

    def add(self, export_id: str) -> None:
        """An export was created: listed now, and written into a STATE by `on_add`."""
        with self._lock:
            self._ids[export_id] = None
        if self.on_add is not None:
            self.on_add()

    def discard(self, export_id: str) -> None:
        """The export is gone from Voucherify (deleted, or 404), or reported as kept."""
        with self._lock:
            self._ids.pop(export_id, None)

    def ids(self) -> list[str]:
        """Every listed id, oldest first."""
        with self._lock:
            return list(self._ids)

    def __contains__(self, export_id: object) -> bool:
        with self._lock:
            return export_id in self._ids
