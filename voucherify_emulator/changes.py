"""Rows changed after creation: which rows changed, when, and what their mutable cells became.

Generated rows never change by themselves. `update_rows` picks existing rows of a changing object
(voucher, customer, order), dates the change after every export created so far and not after now
(as `add_rows` dates new rows), and bumps the row's version. A changed row's `updated_at` is the
time of its last change, and each mutable cell is a pure function of the generated cell, the
version and the row hash, so a row still renders without being stored: only (updated_ms,
version) is kept per changed row.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping

from voucherify_emulator import pools as P  # noqa: N812 - short alias for pools
from voucherify_emulator.hashing import mix
from voucherify_emulator.timeline import iso_ms, parse_iso

# (generated cell, version, change hash) -> the cell after `version` changes.
Mutation = Callable[[str, int, int], str]
Change = tuple[int, int]  # (updated_at ms, version)


def _count(step: int) -> Mutation:
    """A counter that grows with every change (redemptions, orders)."""
    return lambda cell, v, c: str(int(cell or 0) + v * step + c % step)


def _balance(spent_per_change: int) -> Mutation:
    """A balance that is spent down change by change; empty stays empty (not that card type)."""
    return lambda cell, v, c: cell and str(max(0, int(cell) - v * spent_per_change - c % 100))


def _later_by_days(cell: str, v: int, c: int) -> str:
    """An expiration date moved later (empty means none and stays none)."""
    return cell and iso_ms(parse_iso(cell.replace("Z", "+00:00")) + (v * 30 + c % 30) * 86_400_000)


def _flip(cell: str, v: int, c: int) -> str:
    return cell and ("true" if (cell == "true") == (v % 2 == 0) else "false")


def _metadata(cell: str, v: int, c: int) -> str:
    return P.METADATA[(c >> 7) % len(P.METADATA)]


def _status(cell: str, v: int, c: int) -> str:
    return P.ORDER_STATUSES[(P.ORDER_STATUSES.index(cell) + v) % len(P.ORDER_STATUSES)]


# The fields a change moves (issue 11: balances, counts, `active`, expiry and metadata of a
# voucher; a customer's summaries and points; an order's status). `updated_at` is set apart.
MUTATIONS: dict[str, dict[str, Mutation]] = {
    "voucher": {
        "redemption_count": _count(1),
        "gift_balance": _balance(1000),
        "loyalty_balance": _balance(10),
        "active": _flip,
        "expiration_date": _later_by_days,
        "metadata": _metadata,
    },
    "customer": {
        "redemptions_total_redeemed": _count(1),
        "redemptions_total_succeeded": _count(1),
        "orders_total_count": _count(1),
        "orders_total_amount": _count(5000),
        "loyalty_points": _count(100),
        "metadata": _metadata,
    },
    "order": {"status": _status, "metadata": _metadata},
}


def apply_change(
    exported_object: str, keys: list[str], row: list[str], h: int, change: Change
) -> list[str]:
    """The cells of a changed row (`row` is the generated one, `h` its hash), in place."""
    updated_ms, version = change
    mutations = MUTATIONS[exported_object]
    c = mix(h + version)
    for position, key in enumerate(keys):
        if key == "updated_at":
            row[position] = iso_ms(updated_ms)
        elif key in mutations:
            row[position] = mutations[key](row[position], version, c)
    return row


# Objects whose rows can vanish: points expirations (used up, cancelled) and the objects the API
# deletes (vouchers.json, customers.json, orders.json each document a DELETE).
REMOVABLE = ("points_expiration", "voucher", "customer", "order")


class ChangeLog:
    """The changed rows of every changing object; thread-safe, snapshots for export jobs."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 - which rows change, not a secret
        self._changes: dict[str, dict[int, Change]] = {name: {} for name in MUTATIONS}
        self._removed: dict[str, set[int]] = {}
        self._last_ms = 0

    def removed(self, exported_object: str) -> frozenset[int]:
        """Indexes of the object's rows that no longer exist (`remove`)."""
        with self._lock:
            return frozenset(self._removed.get(exported_object, ()))

    def remove(self, exported_object: str, count: int, total: int) -> list[int]:
        """Make `count` existing rows (of `total`) vanish, as used-up points expirations and
        deleted vouchers, customers and orders do; return their indexes. Other objects are
        never deleted (a redemption is rolled back, not deleted)."""
        if exported_object not in REMOVABLE:
            raise ValueError(
                f"{exported_object!r} rows are never deleted; removable: {', '.join(REMOVABLE)}"
            )
        with self._lock:
            gone = self._removed.setdefault(exported_object, set())
            alive = [i for i in range(total) if i not in gone]
            picked = self._random.sample(alive, min(count, len(alive)))
            gone.update(picked)
            return picked

    def snapshot(self, exported_object: str) -> Mapping[int, Change]:
        """The changed rows of an object as of now (a copy a job reads without locking)."""
        with self._lock:
            return dict(self._changes.get(exported_object, {}))

    def serial(self, exported_object: str) -> int:
        """A number that moves with every change of the object (for the export file cache)."""
        with self._lock:
            return sum(version for _, version in self._changes.get(exported_object, {}).values())

    def update(self, exported_object: str, count: int, total: int, not_before_ms: int) -> list[int]:
        """Change `count` distinct existing rows (of `total`); return their indexes.

        Changes are dated after `not_before_ms` (the last export created: a row changed after an
        export ran is dated after it) and after every earlier change, and not after now; they
        spread over that span in the order of the returned indexes.
        """
        if exported_object not in MUTATIONS:
            raise ValueError(
                f"{exported_object!r} rows do not change; changing objects: {sorted(MUTATIONS)}"
            )
        count = min(count, total)
        if count <= 0:
            return []
        with self._lock:
            indexes = self._random.sample(range(total), count)
            start_ms = max(not_before_ms, self._last_ms) + 1
            end_ms = int(time.time() * 1000)
            while end_ms < start_ms + count:  # one distinct millisecond per change
                time.sleep(0.002)
                end_ms = int(time.time() * 1000)
            changes = self._changes[exported_object]
            for n, index in enumerate(indexes):
                updated_ms = start_ms + n * (end_ms - start_ms) // count
                _, version = changes.get(index, (0, 0))
                changes[index] = (updated_ms, version + 1)
            self._last_ms = max(updated for updated, _ in changes.values())
            return indexes

    def restore(self, exported_object: str, index: int, updated_ms: int, version: int) -> None:
        """Re-apply a saved change (the emulator's state file)."""
        with self._lock:
            self._changes[exported_object][index] = (updated_ms, version)
            self._last_ms = max(self._last_ms, updated_ms)

    def saved_removed(self) -> dict[str, list[int]]:
        """Every removed row per object (for the state file)."""
        with self._lock:
            return {name: sorted(gone) for name, gone in self._removed.items() if gone}

    def restore_removed(self, exported_object: str, indexes: list[int]) -> None:
        """Re-apply saved removals (the emulator's state file)."""
        with self._lock:
            self._removed.setdefault(exported_object, set()).update(indexes)

    def saved(self) -> dict[str, list[list[int]]]:
        """Every change as `[index, updated_ms, version]` per object (for the state file)."""
        with self._lock:
            return {
                name: [[i, ms, v] for i, (ms, v) in sorted(changes.items())]
                for name, changes in self._changes.items()
                if changes
            }
