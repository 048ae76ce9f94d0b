"""The end-to-end tests' dataset, and what the README promises about it: each stream's keys and
each column's type; the emulator's keys and values as a loader should hold them.

The expected keys below are written out from the README's stream table rather than imported from
the tap, so a tap that declared the wrong key would fail these tests instead of defining them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tap_voucherify_exports.jobs.windows import EDGE_OVERLAP, Window
from tests.support import ground_truth
from voucherify_emulator import Emulator

if TYPE_CHECKING:
    from tests.support.meltano import MeltanoProject


@dataclass(frozen=True)
class StreamSpec:
    """What the README promises about one stream."""

    exported_object: str
    primary_key: tuple[str, ...]
    replication_key: str | None  # None: FULL_TABLE


STREAMS: dict[str, StreamSpec] = {
    "vouchers": StreamSpec("voucher", ("id",), "created_at"),
    "redemptions": StreamSpec("redemption", ("id",), "date"),
    "publications": StreamSpec("publication", ("voucher_code", "customer_id", "date"), "date"),
    "customers": StreamSpec("customer", ("id",), "created_at"),
    "orders": StreamSpec("order", ("id",), "created_at"),
    "points_expirations": StreamSpec("points_expiration", ("id",), None),
    "voucher_transactions": StreamSpec("voucher_transactions", ("id",), "created_at"),
}
# Streams whose rows change: created + updated in the README's stream table.
CHANGING_STREAMS = ("vouchers", "customers", "orders")
INCREMENTAL_STREAMS = tuple(name for name, spec in STREAMS.items() if spec.replication_key)

# A few hundred rows per object: every stream has several yearly windows (2021..now) to sync, and
# one `meltano run` stays at a few seconds.
ROWS = {
    "voucher": 300,
    "redemption": 250,
    "publication": 200,
    "customer": 200,
    "order": 150,
    "points_expiration": 100,
    "voucher_transactions": 120,
}
START_DATE = "2021-01-01T00:00:00Z"
TAP = "tap-voucherify-exports"


# What the tap syncs without a catalog: the export streams selected by default (voucher_transactions
# is not: streams.py) and the bin's entries (`bin_entries`, read from GET /v1/trash-bin).
PLAIN_TAP_STREAMS: dict[str, StreamSpec] = {
    name: spec for name, spec in STREAMS.items() if name != "voucher_transactions"
}
LIST_STREAMS = frozenset({"bin_entries"})


def tap_settings(emu: Emulator) -> dict[str, object]:
    """`Emulator.tap_config` from START_DATE, polling at most every second."""
    return emu.tap_config(start_date=START_DATE, poll_interval_max=1)


def configure_tap(project: MeltanoProject, emu: Emulator, **overrides: object) -> None:
    """Point the project's extractor at `emu` (`tap_settings`)."""
    project.set_config(TAP, **(tap_settings(emu) | overrides))


def parse_ts(text: str) -> dt.datetime:
    """An exported timestamp (`2022-03-09T09:16:32.521Z`) as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def key_value(column: str, cell: str) -> object:
    """A ground-truth key cell as the value Postgres holds for it (timestamps are parsed)."""
    return parse_ts(cell) if column == "date" else cell


def truth_keys(emu: Emulator, stream: str) -> set[tuple[object, ...]]:
    """The distinct primary keys of every row the emulator holds for `stream`, as Postgres holds
    them (`ground_truth.truth_keys` with timestamps parsed)."""
    return set(ground_truth.truth_keys(emu, stream, cell=key_value))


# Column types, by field key, written from docs/types.md's type table (not from fields.py).
TIMESTAMPS = {
    "created_at",
    "updated_at",
    "date",
    "start_date",
    "expiration_date",
    "orders_last_order_date",
}
DATES = {"birthdate", "birthday", "expires_at"}
AMOUNTS = {
    "value",
    "gift_balance",
    "discount_amount_limit",
    "order_amount",
    "gift_amount",
    "orders_total_amount",
    "orders_average_amount",
    "orders_last_order_amount",
    "amount",
    "discount_amount",
    "items_discount_amount",
    "total_discount_amount",
    "total_amount",
    "balance",
}
COUNTS = {
    "loyalty_balance",
    "redemption_quantity",
    "redemption_count",
    "loyalty_points",
    "points",
    "redemptions_total_redeemed",
    "redemptions_total_failed",
    "redemptions_total_succeeded",
    "redemptions_total_rolled_back",
    "redemptions_total_rollback_failed",
    "redemptions_total_rollback_succeeded",
    "orders_total_count",
    "loyalty_referred_customers",
}
BOOLEANS = {"active", "is_referral_code", "is_winner"}
OBJECTS = {"metadata", "details"}
INTEGER_LISTS = {"validity_day_of_week"}


def kind(column: str) -> str:
    """timestamp, date, amount, count, boolean, object, integer-list or text."""
    for name, group in (
        ("timestamp", TIMESTAMPS),
        ("date", DATES),
        ("amount", AMOUNTS),
        ("count", COUNTS),
        ("boolean", BOOLEANS),
        ("object", OBJECTS),
        ("integer-list", INTEGER_LISTS),
    ):
        if column in group:
            return name
    return "text"


# Acceptable PostgreSQL types (information_schema data_type, udt_name) per kind. target-postgres
# 0.8.1 writes: timestamp without time zone, date, numeric, bigint, boolean, jsonb, bigint[]
# (ARRAY/_int8), text. Anything else — text for a timestamp, double precision for an amount,
# numeric for a count, a json string for an array — is a degraded type.
ACCEPTED_TYPES: dict[str, set[tuple[str, str]]] = {
    "timestamp": {
        ("timestamp without time zone", "timestamp"),
        ("timestamp with time zone", "timestamptz"),
    },
    "date": {("date", "date")},
    "amount": {("numeric", "numeric")},
    "count": {("bigint", "int8"), ("integer", "int4")},
    "boolean": {("boolean", "bool")},
    "object": {("jsonb", "jsonb"), ("json", "json")},
    "integer-list": {
        ("ARRAY", "_int8"),
        ("ARRAY", "_int4"),
        ("ARRAY", "_int2"),
        ("jsonb", "jsonb"),
        ("json", "json"),
    },
    "text": {("text", "text"), ("character varying", "varchar")},
}

TRUE_CELLS = {"true", "1", "yes"}


def _object(cell: str) -> object:
    try:
        parsed = json.loads(cell)
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"_raw_text": cell}


CONVERTERS: dict[str, Callable[[str], object]] = {
    "timestamp": parse_ts,
    "date": dt.date.fromisoformat,
    "amount": Decimal,  # exactly as exported, never rescaled
    "count": lambda cell: int(Decimal(cell)),
    "boolean": lambda cell: cell.lower() in TRUE_CELLS,
    "object": _object,
    "integer-list": lambda cell: [int(part) for part in cell.split(",")],
    "text": str,
}


def expected_value(column: str, cell: str) -> object:
    """The value PostgreSQL should hold for a CSV cell, per docs/types.md's type table."""
    return None if cell == "" else CONVERTERS[kind(column)](cell)


def window_key(parameters: dict[str, Any]) -> str | None:
    """The date an export's window is on (`created_at` or `updated_at`); None: no filter."""
    filters = parameters.get("filters") or {}
    return next((key for key in ("created_at", "updated_at") if key in filters), None)


def after_filter(parameters: dict[str, Any]) -> dt.datetime | None:
    """The `$after` of an export's `created_at` or `updated_at` filter, None without one."""
    key = window_key(parameters)
    if key is None:
        return None
    (after,) = parameters["filters"][key]["conditions"]["$after"]
    return parse_ts(after)


def export_window(parameters: dict[str, Any]) -> Window | None:
    """The window of an export's `created_at` or `updated_at` filter as the tap names it in its
    log lines (its `$after` is the window's start less EDGE_OVERLAP); None without one."""
    key = window_key(parameters)
    if key is None:
        return None
    (before,) = parameters["filters"][key]["conditions"]["$before"]
    after = after_filter(parameters)
    assert after is not None
    return Window(after + EDGE_OVERLAP, parse_ts(before))


def bookmarks(state: dict[str, Any]) -> dict[str, str]:
    """stream -> replication_key_value from a `meltano state get` answer."""
    singer_state = state.get("singer_state", state)
    return {
        stream: entry["replication_key_value"]
        for stream, entry in singer_state.get("bookmarks", {}).items()
        if "replication_key_value" in entry
    }
