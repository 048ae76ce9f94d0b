"""One table per exported object: the single source of truth for fields.

Each row is a field key as the export API spells it, the JSON-schema type its CSV cell becomes,
and the human-readable label Voucherify writes in the CSV header. The stream schemas
(`schemas.py`), the CSV converters (`records.py`), the export request's `fields` and the
emulator's CSV headers are all derived from these tables.

Field lists are the union of the original API page and the current OpenAPI spec
(research digest section 2.2). Labels: "ID", "Code", "Voucher Type", "Value" are confirmed by the
only real CSV sample; the other voucher and redemption labels come from the Dashboard's export
page (unmerged docs); the rest are inferred. The tap maps columns by position, so a label
difference never breaks a sync.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FieldType(enum.Enum):
    """How a CSV cell is typed."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATE_TIME = "date-time"
    OBJECT = "object"
    INTEGER_LIST = "integer-list"


S, I, N, B = FieldType.STRING, FieldType.INTEGER, FieldType.NUMBER, FieldType.BOOLEAN
D, DT, O, IL = FieldType.DATE, FieldType.DATE_TIME, FieldType.OBJECT, FieldType.INTEGER_LIST


@dataclass(frozen=True)
class Field:
    """One exportable field of an exported object."""

    key: str
    type: FieldType
    label: str


@dataclass(frozen=True)
class ExportedObjectTable:
    """The fields Voucherify can export for one `exported_object`."""

    exported_object: str
    fields: tuple[Field, ...]

    def field(self, key: str) -> Field:
        """Return the field with this key, or raise KeyError."""
        for field in self.fields:
            if field.key == key:
                return field
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        """Field keys in table order (the order an export requests them in)."""
        return tuple(field.key for field in self.fields)


def _table(exported_object: str, *rows: tuple[str, FieldType, str]) -> ExportedObjectTable:
    return ExportedObjectTable(exported_object, tuple(Field(*row) for row in rows))


VOUCHER = _table(
    "voucher",
    ("id", S, "ID"),
    ("code", S, "Code"),
    ("voucher_type", S, "Voucher Type"),
    ("value", N, "Value"),
    ("formula", S, "Formula"),
    ("discount_type", S, "Discount Type"),
    ("campaign", S, "Campaign"),
    ("campaign_id", S, "Campaign ID"),
    ("category", S, "Category"),
    ("start_date", DT, "Start Date"),
    ("expiration_date", DT, "Expiration Date"),
    ("gift_balance", N, "Gift Balance"),
    ("loyalty_balance", I, "Loyalty Card Balance"),
    ("redemption_quantity", I, "Redemption Limit"),
    ("redemption_count", I, "Redemption Count"),
    ("active", B, "Active"),
    ("qr_code", S, "QR Code"),
    ("bar_code", S, "Barcode"),
    ("metadata", O, "Metadata"),
    ("is_referral_code", B, "Is referral code?"),
    ("created_at", DT, "Creation Date"),
    ("updated_at", DT, "Last Update Date"),
    ("validity_timeframe_interval", S, "Validity Timeframe Interval"),
    ("validity_timeframe_duration", S, "Validity Timeframe Duration"),
    ("validity_day_of_week", IL, "Validity Day of Week"),
    ("discount_amount_limit", N, "Discount Amount Limit"),
    ("additional_info", S, "Additional Info"),
    ("customer_id", S, "Customer ID"),
    ("customer_source_id", S, "Customer Source ID"),
    ("discount_effect", S, "Discount Effect"),
    ("discount_unit_type", S, "Discount Unit Type"),
    ("discount_unit_effect", S, "Discount Unit Effect"),
    ("validation_rules_id", S, "Validation Rules ID"),
)

REDEMPTION = _table(
    "redemption",
    ("id", S, "ID"),
    ("object", S, "Object"),
    ("date", DT, "Date"),
    ("voucher_code", S, "Voucher code"),
    ("campaign", S, "Campaign"),
    ("promotion_tier_id", S, "Promotion Tier"),
    ("customer_id", S, "Customer ID"),
    ("customer_source_id", S, "Customer Source ID"),
    ("customer_name", S, "Customer Name"),
    ("tracking_id", S, "Tracking ID"),
    ("order_id", S, "Order ID"),
    ("order_amount", N, "Order Amount"),
    ("gift_amount", N, "Gift Amount"),
    ("loyalty_points", I, "Loyalty Points"),
    ("result", S, "Result"),
    ("failure_code", S, "Failure Code"),
    ("failure_message", S, "Failure Message"),
    ("metadata", O, "Metadata"),
)

PUBLICATION = _table(
    "publication",
    ("voucher_code", S, "Voucher Code"),
    ("customer_id", S, "Customer ID"),
    ("customer_source_id", S, "Customer Source ID"),
    ("date", DT, "Date"),
    ("channel", S, "Channel"),
    ("campaign", S, "Campaign"),
    ("is_winner", B, "Is Winner"),
    ("metadata", O, "Metadata"),
)

CUSTOMER = _table(
    "customer",
    ("id", S, "ID"),
    ("name", S, "Name"),
    ("description", S, "Description"),
    ("email", S, "Email"),
    ("phone", S, "Phone"),
    ("source_id", S, "Source ID"),
    ("created_at", DT, "Creation Date"),
    ("updated_at", DT, "Last Update Date"),
    ("birthdate", D, "Birthdate"),
    ("birthday", D, "Birthday"),  # deprecated by Voucherify in favour of birthdate
    ("address_city", S, "Address City"),
    ("address_state", S, "Address State"),
    ("address_line_1", S, "Address Line 1"),
    ("address_line_2", S, "Address Line 2"),
    ("address_country", S, "Address Country"),
    ("address_postal_code", S, "Address Postal Code"),
    ("redemptions_total_redeemed", I, "Redemptions Total Redeemed"),
    ("redemptions_total_failed", I, "Redemptions Total Failed"),
    ("redemptions_total_succeeded", I, "Redemptions Total Succeeded"),
    ("redemptions_total_rolled_back", I, "Redemptions Total Rolled Back"),
    ("redemptions_total_rollback_failed", I, "Redemptions Total Rollback Failed"),
    ("redemptions_total_rollback_succeeded", I, "Redemptions Total Rollback Succeeded"),
    ("orders_total_amount", N, "Orders Total Amount"),
    ("orders_total_count", I, "Orders Total Count"),
    ("orders_average_amount", N, "Orders Average Amount"),
    ("orders_last_order_amount", N, "Orders Last Order Amount"),
    ("orders_last_order_date", DT, "Orders Last Order Date"),
    ("loyalty_points", I, "Loyalty Points"),
    ("loyalty_referred_customers", I, "Loyalty Referred Customers"),
    ("metadata", O, "Metadata"),
)

POINTS_EXPIRATION = _table(
    "points_expiration",
    ("id", S, "ID"),
    ("campaign_id", S, "Campaign ID"),
    ("voucher_id", S, "Voucher ID"),
    ("points", I, "Points"),
    ("status", S, "Status"),
    ("expires_at", D, "Expires At"),
)

ORDER = _table(
    "order",
    ("id", S, "ID"),
    ("source_id", S, "Source ID"),
    ("created_at", DT, "Creation Date"),
    ("updated_at", DT, "Last Update Date"),
    ("status", S, "Status"),
    ("amount", N, "Amount"),
    ("discount_amount", N, "Discount Amount"),
    ("items_discount_amount", N, "Items Discount Amount"),
    ("total_discount_amount", N, "Total Discount Amount"),
    ("total_amount", N, "Total Amount"),
    ("customer_id", S, "Customer ID"),
    ("referrer_id", S, "Referrer ID"),
    ("metadata", O, "Metadata"),
)

TABLES: dict[str, ExportedObjectTable] = {
    table.exported_object: table
    for table in (VOUCHER, REDEMPTION, PUBLICATION, CUSTOMER, POINTS_EXPIRATION, ORDER)
}
