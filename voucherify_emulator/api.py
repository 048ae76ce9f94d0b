"""The emulator's own reading of the Voucherify Exports API: objects, fields, CSV labels, kinds.

Written from docs/voucherify-exports-research.md (the research digest) and the create-export
description in docs/voucherify-openapi-exports.json, never from the tap's field table: the tap's
test tests/unit/test_fields_vs_emulator.py compares the two, so a misreading on either side shows.

- Field keys: the `Export*Fields` enums (digest §2.2). Order: the enum order, which is the order
  of the one documented "Allowed fields" list (redemption, digest §5), except vouchers, which
  follow the Dashboard's column order (digest §3, DASH): it leads with the four columns of the
  only real CSV sample (`ID,Code,Voucher Type,Value`), where the enum starts with `code`.
- Labels: the sample and the Dashboard labels for vouchers and redemptions (digest §3). For the
  other objects no header text is documented (*inference*): the Dashboard label of the same key
  on another object where there is one, else the key in title case with `ID` upper-cased.
- Kinds: from each field's definition and example export in the create-export description.
  Amounts are whole numbers there (`7700`; the text says "multiplied by 100", a unit no real file
  confirms); voucher `value` is decimal because the only real sample shows `2000.00`.
  Kinds decide which cell the `malformed_row` fault damages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """What a CSV cell holds, as the docs describe it."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"  # `2022-06-30`
    DATETIME = "datetime"  # `2022-03-09T09:16:32.521Z`
    JSON = "json"  # metadata: an object as JSON text
    INTEGER_LIST = "integer-list"  # `"1,2,3,4,5"`


NUMERIC = frozenset({Kind.INTEGER, Kind.DECIMAL})
DATES = frozenset({Kind.DATE, Kind.DATETIME})


@dataclass(frozen=True)
class Column:
    """One exportable field: its key in `parameters.fields`, its CSV header label, its kind."""

    key: str
    label: str
    kind: Kind


@dataclass(frozen=True)
class ObjectSpec:
    """One `exported_object`: its columns in the order Voucherify lists them."""

    name: str
    columns: tuple[Column, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(column.key for column in self.columns)

    def column(self, key: str) -> Column:
        """The column with this key, or KeyError."""
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)


T, INT, DEC, BOOL = Kind.TEXT, Kind.INTEGER, Kind.DECIMAL, Kind.BOOLEAN
DAY, TS, JSON, INTS = Kind.DATE, Kind.DATETIME, Kind.JSON, Kind.INTEGER_LIST


def _spec(name: str, *columns: tuple[str, str, Kind]) -> ObjectSpec:
    return ObjectSpec(name, tuple(Column(*column) for column in columns))


VOUCHER = _spec(
    "voucher",
    ("id", "ID", T),
    ("code", "Code", T),
    ("voucher_type", "Voucher Type", T),
    ("value", "Value", DEC),
    ("formula", "Formula", T),
    ("validation_rules_id", "Validation Rules ID", T),
    ("campaign", "Campaign", T),
    ("campaign_id", "Campaign ID", T),
    ("category", "Category", T),
    ("created_at", "Creation Date", TS),
    ("updated_at", "Last Update Date", TS),
    ("start_date", "Start Date", TS),
    ("expiration_date", "Expiration Date", TS),
    ("gift_balance", "Gift Balance", INT),
    ("loyalty_balance", "Loyalty Card Balance", INT),
    ("redemption_quantity", "Redemption Limit", INT),
    ("redemption_count", "Redemption Count", INT),
    ("active", "Active", BOOL),
    ("qr_code", "QR Code", T),
    ("bar_code", "Barcode", T),
    ("is_referral_code", "Is referral code?", BOOL),
    ("validity_timeframe_interval", "Validity Timeframe Interval", T),
    ("validity_timeframe_duration", "Validity Timeframe Duration", T),
    ("validity_day_of_week", "Validity Day of Week", INTS),
    ("additional_info", "Additional Info", T),
    ("customer_id", "Customer ID", T),
    ("customer_source_id", "Customer Source ID", T),
    ("discount_type", "Discount Type", T),
    ("discount_unit_type", "Discount Unit Type", T),
    ("discount_effect", "Discount Effect", T),
    ("discount_unit_effect", "Discount Unit Effect", T),
    ("discount_amount_limit", "Discount Amount Limit", INT),
    # The Dashboard's "Discount Aggregated Amount Limit" has no key in the enum: not exportable.
    ("metadata", "Metadata", JSON),
)

REDEMPTION = _spec(
    "redemption",
    ("id", "ID", T),
    ("object", "Object", T),
    ("date", "Date", TS),
    ("voucher_code", "Voucher code", T),
    ("campaign", "Campaign", T),
    ("promotion_tier_id", "Promotion Tier", T),
    ("customer_id", "Customer ID", T),
    ("customer_source_id", "Customer Source ID", T),
    ("customer_name", "Customer Name", T),
    ("tracking_id", "Tracking ID", T),
    ("order_id", "Order ID", T),
    # The Dashboard's "Order Source ID" has no key in the enum: not exportable.
    ("order_amount", "Order Amount", INT),
    ("gift_amount", "Gift Amount", INT),
    ("loyalty_points", "Loyalty Points", INT),
    ("result", "Result", T),
    ("failure_code", "Failure Code", T),
    ("failure_message", "Failure Message", T),
    ("metadata", "Metadata", JSON),
)

PUBLICATION = _spec(
    "publication",
    ("voucher_code", "Voucher code", T),  # the redemption Dashboard label (inference)
    ("customer_id", "Customer ID", T),
    ("customer_source_id", "Customer Source ID", T),
    ("date", "Date", TS),
    ("channel", "Channel", T),
    ("campaign", "Campaign", T),
    ("is_winner", "Is Winner", BOOL),  # undefined in the docs; read as a flag from its name
    ("metadata", "Metadata", JSON),
)

CUSTOMER = _spec(
    "customer",
    ("name", "Name", T),
    ("id", "ID", T),
    ("description", "Description", T),
    ("email", "Email", T),
    ("source_id", "Source ID", T),
    ("created_at", "Creation Date", TS),
    ("address_city", "Address City", T),
    ("address_state", "Address State", T),
    ("address_line_1", "Address Line 1", T),
    ("address_line_2", "Address Line 2", T),
    ("address_country", "Address Country", T),
    ("address_postal_code", "Address Postal Code", T),
    ("redemptions_total_redeemed", "Redemptions Total Redeemed", INT),
    ("redemptions_total_failed", "Redemptions Total Failed", INT),
    ("redemptions_total_succeeded", "Redemptions Total Succeeded", INT),
    ("redemptions_total_rolled_back", "Redemptions Total Rolled Back", INT),
    ("redemptions_total_rollback_failed", "Redemptions Total Rollback Failed", INT),
    ("redemptions_total_rollback_succeeded", "Redemptions Total Rollback Succeeded", INT),
    ("orders_total_amount", "Orders Total Amount", INT),
    ("orders_total_count", "Orders Total Count", INT),
    ("orders_average_amount", "Orders Average Amount", INT),
    ("orders_last_order_amount", "Orders Last Order Amount", INT),
    ("orders_last_order_date", "Orders Last Order Date", TS),
    ("loyalty_points", "Loyalty Points", INT),
    ("loyalty_referred_customers", "Loyalty Referred Customers", INT),
    ("updated_at", "Last Update Date", TS),
    ("phone", "Phone", T),
    ("birthday", "Birthday", DAY),  # documented as deprecated
    ("metadata", "Metadata", JSON),
    ("birthdate", "Birthdate", DAY),
)

ORDER = _spec(
    "order",
    ("id", "ID", T),
    ("source_id", "Source ID", T),
    ("created_at", "Creation Date", TS),
    ("updated_at", "Last Update Date", TS),
    ("status", "Status", T),
    ("amount", "Amount", INT),
    ("discount_amount", "Discount Amount", INT),
    ("items_discount_amount", "Items Discount Amount", INT),
    ("total_discount_amount", "Total Discount Amount", INT),
    ("total_amount", "Total Amount", INT),
    ("customer_id", "Customer ID", T),
    ("referrer_id", "Referrer ID", T),
    ("metadata", "Metadata", JSON),
)

POINTS_EXPIRATION = _spec(
    "points_expiration",
    ("id", "ID", T),
    ("campaign_id", "Campaign ID", T),
    ("voucher_id", "Voucher ID", T),
    ("points", "Points", INT),
    ("status", "Status", T),
    ("expires_at", "Expires At", DAY),
)

# `ExportVoucherTransactionsFields` in enum order; labels are the Dashboard's transaction
# columns (digest §3: "Creation date", "Related transaction ID"); `details` is JSON (digest §3).
# `balance` and `amount`: whole numbers, like the other amounts in the docs' examples (their unit
# is not confirmed by any real file).
VOUCHER_TRANSACTIONS = _spec(
    "voucher_transactions",
    ("id", "ID", T),
    ("campaign_id", "Campaign ID", T),
    ("voucher_id", "Voucher ID", T),
    ("type", "Type", T),
    ("source_id", "Source ID", T),
    ("reason", "Reason", T),
    ("source", "Source", T),
    ("balance", "Balance", INT),
    ("amount", "Amount", INT),
    ("related_transaction_id", "Related transaction ID", T),
    ("created_at", "Creation date", TS),
    ("details", "Details", JSON),
)

# The objects the emulator exports. `voucher_transactions` is in the `exported_object` enum of
# the create-export request (digest §1.3), though the documented 400 example omits it; the
# emulator accepts it through /v1/exports. The schema-less `product`/`sku`/`api_log` are left
# out.
OBJECTS: dict[str, ObjectSpec] = {
    spec.name: spec
    for spec in (
        VOUCHER,
        REDEMPTION,
        PUBLICATION,
        CUSTOMER,
        POINTS_EXPIRATION,
        ORDER,
        VOUCHER_TRANSACTIONS,
    )
}

# Objects whose rows change after creation: filtered and ordered by `updated_at` too (digest
# §2.3/§2.4: voucher, customer and order take `updated_at` as a filter and as an order).
CHANGING_OBJECTS = ("voucher", "customer", "order")
