"""The dbt marts (transform/models/marts) computed again in Python, from the emulator's ground
truth, for tests/e2e/test_dbt_models.py to compare with what dbt built.

Written from docs/models.md's definitions, not from the SQL: a campaign's rows are its vouchers
(by campaign_id) and the redemptions and publications of their codes; only rows whose `object`
is `redemption` count as redemptions; amounts are sums of the exported cells; days are UTC.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from tests.support.e2e_data import parse_ts
from voucherify_emulator import Emulator

Row = dict[str, Any]
Cells = dict[str, str]

# Mart columns compared, per mart (the ones that are plain sums, counts and maxima).
CAMPAIGN_COLUMNS = (
    "vouchers_issued",
    "vouchers_active",
    "vouchers_published",
    "publications",
    "vouchers_redeemed",
    "redemptions_succeeded",
    "redemptions_failed",
    "redeemed_order_amount",
    "redeemed_gift_amount",
    "redeemed_loyalty_points",
    "voucher_redemption_count",
)
CUSTOMER_COLUMNS = (
    "vouchers_held",
    "vouchers_published",
    "redemptions_succeeded",
    "redemptions_failed",
    "redeemed_order_amount",
    "orders",
    "orders_total_amount",
    "loyalty_points",
    "last_activity_at",
)
DAILY_COLUMNS = (
    "redemptions_succeeded",
    "redemptions_failed",
    "redeemed_order_amount",
    "redeemed_gift_amount",
    "redeemed_loyalty_points",
    "publications",
    "orders_created",
    "orders_total_amount",
    "vouchers_created",
    "customers_created",
)


def number(cell: str) -> Decimal:
    """An amount or count cell; an empty one adds nothing."""
    return Decimal(cell) if cell else Decimal(0)


def add_redemption(row: Row, redemption: dict[str, str]) -> None:
    """One redemption's counts and amounts, as the campaign and daily marts sum them."""
    if redemption["result"] == "FAILURE":
        row["redemptions_failed"] += 1
    elif redemption["result"] == "SUCCESS":
        row["redemptions_succeeded"] += 1
        row["redeemed_order_amount"] += number(redemption["order_amount"])
        row["redeemed_gift_amount"] += number(redemption["gift_amount"])


def day(cell: str) -> dt.date:
    """The UTC calendar day of a timestamp cell."""
    return parse_ts(cell).date()


class Truth:
    """The emulator's rows of every stream the marts read, as CSV cells."""

    def __init__(self, emu: Emulator) -> None:
        self.vouchers = emu.ground_truth("voucher")
        redemptions = emu.ground_truth("redemption")
        self.redemptions = [row for row in redemptions if row["object"] == "redemption"]
        self.publications = emu.ground_truth("publication")
        self.customers = emu.ground_truth("customer")
        self.orders = emu.ground_truth("order")

    def campaigns(self) -> dict[str, Row]:
        """campaign_id -> CAMPAIGN_COLUMNS."""
        campaign_of = {v["code"]: v["campaign_id"] for v in self.vouchers if v["campaign_id"]}
        rows: dict[str, Row] = defaultdict(lambda: dict.fromkeys(CAMPAIGN_COLUMNS, Decimal(0)))
        published: dict[str, set[str]] = defaultdict(set)
        redeemed: dict[str, set[str]] = defaultdict(set)
        for voucher in self.vouchers:
            if not voucher["campaign_id"]:
                continue
            row = rows[voucher["campaign_id"]]
            row["vouchers_issued"] += 1
            row["vouchers_active"] += 1 if voucher["active"] == "true" else 0
            row["voucher_redemption_count"] += number(voucher["redemption_count"])
        for publication in self.publications:
            campaign = campaign_of.get(publication["voucher_code"])
            if campaign:
                rows[campaign]["publications"] += 1
                published[campaign].add(publication["voucher_code"])
        for redemption in self.redemptions:
            campaign = campaign_of.get(redemption["voucher_code"])
            if not campaign:
                continue
            row = rows[campaign]
            add_redemption(row, redemption)
            if redemption["result"] == "SUCCESS":
                row["redeemed_loyalty_points"] += number(redemption["loyalty_points"])
                redeemed[campaign].add(redemption["voucher_code"])
        for campaign, row in rows.items():
            row["vouchers_published"] = len(published[campaign])
            row["vouchers_redeemed"] = len(redeemed[campaign])
        return dict(rows)

    def customers_mart(self) -> dict[str, Row]:
        """customer_id -> CUSTOMER_COLUMNS."""
        rows: dict[str, Row] = {}
        activity: dict[str, list[dt.datetime]] = {}
        for customer in self.customers:
            rows[customer["id"]] = dict.fromkeys(CUSTOMER_COLUMNS, Decimal(0))
            rows[customer["id"]]["loyalty_points"] = (
                int(customer["loyalty_points"]) if customer["loyalty_points"] else None
            )
            activity[customer["id"]] = [
                parse_ts(customer[c]) for c in ("created_at", "updated_at") if customer[c]
            ]
        published: dict[str, set[str]] = defaultdict(set)
        for voucher in self.vouchers:
            if voucher["customer_id"] in rows:
                rows[voucher["customer_id"]]["vouchers_held"] += 1
        for publication in self.publications:
            published[publication["customer_id"]].add(publication["voucher_code"])
            activity[publication["customer_id"]].append(parse_ts(publication["date"]))
        for redemption in self.redemptions:
            row = rows[redemption["customer_id"]]
            activity[redemption["customer_id"]].append(parse_ts(redemption["date"]))
            if redemption["result"] == "FAILURE":
                row["redemptions_failed"] += 1
            elif redemption["result"] == "SUCCESS":
                row["redemptions_succeeded"] += 1
                row["redeemed_order_amount"] += number(redemption["order_amount"])
        for order in self.orders:
            row = rows[order["customer_id"]]
            row["orders"] += 1
            row["orders_total_amount"] += number(order["total_amount"])
            activity[order["customer_id"]].append(parse_ts(order["created_at"]))
        for customer_id, row in rows.items():
            row["vouchers_published"] = len(published[customer_id])
            row["last_activity_at"] = max(activity[customer_id])
        return rows

    def daily(self) -> dict[dt.date, Row]:
        """UTC day -> DAILY_COLUMNS, for every day with a row in any of the five streams."""
        rows: dict[dt.date, Row] = defaultdict(lambda: dict.fromkeys(DAILY_COLUMNS, Decimal(0)))
        for redemption in self.redemptions:
            row = rows[day(redemption["date"])]
            add_redemption(row, redemption)
            if redemption["result"] == "SUCCESS":
                row["redeemed_loyalty_points"] += number(redemption["loyalty_points"])
        for publication in self.publications:
            rows[day(publication["date"])]["publications"] += 1
        for order in self.orders:
            row = rows[day(order["created_at"])]
            row["orders_created"] += 1
            row["orders_total_amount"] += number(order["total_amount"])
        for voucher in self.vouchers:
            rows[day(voucher["created_at"])]["vouchers_created"] += 1
        for customer in self.customers:
            rows[day(customer["created_at"])]["customers_created"] += 1
        return dict(rows)


def normalised(value: object) -> object:
    """A mart cell comparable with the truth: instants in UTC, whole numbers as Decimal."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def by_key(rows: Iterable[Row], key: str, columns: Iterable[str]) -> dict[object, Row]:
    """Mart rows (dicts) as {key: {column: normalised value}}."""
    return {
        normalised(row[key]): {column: normalised(row[column]) for column in columns}
        for row in rows
    }


def differences(
    built: dict[Any, Row], truth: dict[Any, Row], limit: int = 5
) -> list[tuple[object, str, object, object]]:
    """(key, column, built, truth) for up to `limit` cells that differ; a key missing on either
    side is one difference with column "row"."""
    found: list[tuple[object, str, object, object]] = [
        (key, "row", built.get(key) is not None, truth.get(key) is not None)
        for key in sorted(set(built) ^ set(truth), key=str)
    ]
    for key in sorted(set(built) & set(truth), key=str):
        found += [
            (key, column, built[key][column], expected)
            for column, expected in truth[key].items()
            if normalised(expected) != built[key][column]
        ]
    return found[:limit]
