"""One table per exported object: the single source of truth for fields.

Each row is a field key as the export API spells it, the JSON-schema type its CSV cell becomes,
and the human-readable label Voucherify writes in the CSV header. The stream schemas
(`schemas.py`), the CSV converters (`parsing/records.py`) and the export request's `fields` are all
derived from these tables. The emulator keeps its own reading (`voucherify_emulator/api.py`);
tests/unit/test_fields_vs_emulator.py compares the two.

Field lists are the union of the original API page and the current OpenAPI spec
(research digest section 2.2). Each label records where it comes from (`LabelSource`): "ID",
"Code", "Voucher Type", "Value" are confirmed by the only real CSV sample; the other voucher and
redemption labels come from the Dashboard's export page (unmerged docs); the rest are inferred.
Header cells are matched to fields by key or label, compared through `normalised` (case, space
and punctuation ignored), so an inferred label that differs only in spelling still resolves.

`metadata.<key>` fields (one user-defined metadata key as its own column) are not in the static
tables: `ExportedObjectTable.with_metadata` adds them per stream from the `metadata_keys`
setting, named `metadata__<key>` in records (singer-sdk's flattening separator).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
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


# Short aliases keep each table row on one line.
STR, INT, NUM, BOOL = FieldType.STRING, FieldType.INTEGER, FieldType.NUMBER, FieldType.BOOLEAN
DATE, DATETIME = FieldType.DATE, FieldType.DATE_TIME
OBJ, INTS = FieldType.OBJECT, FieldType.INTEGER_LIST


# The types a `metadata.<key>` field may be given in the `metadata_keys` setting.
METADATA_TYPES = (STR, INT, NUM, BOOL, DATETIME)
METADATA_KEY = "metadata"
METADATA_PREFIX = "metadata."
# Record property of `metadata.<key>`: named with singer-sdk's flattening separator, the name a
# flattened `metadata.<key>` would have. (Flattening itself keeps `metadata` as one JSON-text
# column, see schemas.py: it cannot know the keys in advance; `metadata_keys` declares them.)
METADATA_PROPERTY_PREFIX = "metadata__"


class LabelSource(enum.Enum):
    """How sure the table is of a field's CSV header label."""

    CONFIRMED = "confirmed"  # seen in a real export file (the API docs' only CSV sample)
    DASHBOARD = "dashboard"  # the Dashboard's export page (unmerged docs, research digest §3)
    INFERRED = "inferred"  # derived from the key; no source shows it


def normalised(text: str) -> str:
    """A header cell, key or label reduced to lower-case letters and digits, for matching.

    `Campaign ID`, `campaign_id` and `CAMPAIGN-ID` all become `campaignid`; a BOM or stray
    whitespace disappears too.
    """
    return "".join(char for char in text.casefold() if char.isalnum())


@dataclass(frozen=True)
class Field:
    """One exportable field of an exported object."""

    key: str
    type: FieldType
    label: str
    label_source: LabelSource = LabelSource.INFERRED
    # The record property this field becomes; empty means the key itself.
    record_property: str = ""
    # How Voucherify's ids in this column begin (`ID_PREFIXES`); empty: not a Voucherify id.
    id_prefixes: tuple[str, ...] = ()

    @property
    def is_identifier(self) -> bool:
        """Whether the column holds an identifier (a Voucherify id or a user's source id); a
        metadata key is the user's own value, whatever its name."""
        own = self.key.startswith(METADATA_PREFIX)
        return not own and (self.key == "id" or self.key.endswith("_id"))

    @property
    def property_name(self) -> str:
        """The record property (and schema property) of this field."""
        return self.record_property or self.key


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

    @property
    def has_metadata(self) -> bool:
        """Whether this object exports `metadata` (and so `metadata.<key>` fields)."""
        return METADATA_KEY in self.keys

    def with_metadata(self, keys: Mapping[str, FieldType]) -> ExportedObjectTable:
        """This table plus one `metadata.<key>` field per key, typed; ValueError if no metadata."""
        if not keys:
            return self
        if not self.has_metadata:
            raise ValueError(f"{self.exported_object} exports have no metadata")
        extra = tuple(metadata_field(key, field_type) for key, field_type in keys.items())
        return ExportedObjectTable(self.exported_object, self.fields + extra)


def metadata_field(key: str, field_type: FieldType) -> Field:
    """The `metadata.<key>` export field (research digest §3: "expressed as metadata.X").

    Its header label is not documented anywhere: `Metadata <key>` is a guess, and matching
    through `normalised` also accepts `metadata.<key>` or `Metadata: <key>`.
    """
    return Field(
        METADATA_PREFIX + key,
        field_type,
        f"Metadata {key}",
        LabelSource.INFERRED,
        METADATA_PROPERTY_PREFIX + key,
    )


# How Voucherify's ids begin, per referencing field: the example exports of the create-export
# description (docs/voucherify-openapi-exports.json) show every one of these but `val_`
# (validation rules, from the rest of the API: inferred for exports). `customer_source_id` and
# `source_id` are the user's own ids, with no prefix. Each table's own `id` prefixes (its
# `id_prefixes`) come from the same examples, except redemption `rr_` (a rollback's id elsewhere in
# the API: inferred). Columns mapped by position are checked against these (parsing/evidence.py).
ID_PREFIXES: dict[str, tuple[str, ...]] = {
    "campaign_id": ("camp_",),
    "customer_id": ("cust_",),
    "referrer_id": ("cust_",),
    "voucher_id": ("v_",),
    "order_id": ("ord_",),
    "promotion_tier_id": ("promo_",),
    "tracking_id": ("track_",),
    "validation_rules_id": ("val_",),
    "related_transaction_id": ("vtx_",),
}


def _table(
    exported_object: str,
    *rows: tuple[str, FieldType, str],
    labels_from: LabelSource = LabelSource.INFERRED,
    confirmed: frozenset[str] = frozenset(),
    id_prefixes: tuple[str, ...] = (),
) -> ExportedObjectTable:
    """A table whose labels come from `labels_from`, except the `confirmed` keys' labels; the
    object's own `id` begins with one of `id_prefixes`, references as `ID_PREFIXES` says."""
    fields = tuple(
        Field(
            key,
            field_type,
            label,
            LabelSource.CONFIRMED if key in confirmed else labels_from,
            id_prefixes=id_prefixes if key == "id" else ID_PREFIXES.get(key, ()),
        )
        for key, field_type, label in rows
    )
    return ExportedObjectTable(exported_object, fields)


VOUCHER = _table(
    "voucher",
    ("id", STR, "ID"),
    ("code", STR, "Code"),
    ("voucher_type", STR, "Voucher Type"),
    ("value", NUM, "Value"),
    ("formula", STR, "Formula"),
    ("discount_type", STR, "Discount Type"),
    ("campaign", STR, "Campaign"),
    ("campaign_id", STR, "Campaign ID"),
    ("category", STR, "Category"),
    ("start_date", DATETIME, "Start Date"),
    ("expiration_date", DATETIME, "Expiration Date"),
    ("gift_balance", NUM, "Gift Balance"),
    ("loyalty_balance", INT, "Loyalty Card Balance"),
    ("redemption_quantity", INT, "Redemption Limit"),
    ("redemption_count", INT, "Redemption Count"),
    ("active", BOOL, "Active"),
    ("qr_code", STR, "QR Code"),
    ("bar_code", STR, "Barcode"),
    ("metadata", OBJ, "Metadata"),
    ("is_referral_code", BOOL, "Is referral code?"),
    ("created_at", DATETIME, "Creation Date"),
    ("updated_at", DATETIME, "Last Update Date"),
    ("validity_timeframe_interval", STR, "Validity Timeframe Interval"),
    ("validity_timeframe_duration", STR, "Validity Timeframe Duration"),
    ("validity_day_of_week", INTS, "Validity Day of Week"),
    ("discount_amount_limit", NUM, "Discount Amount Limit"),
    ("additional_info", STR, "Additional Info"),
    ("customer_id", STR, "Customer ID"),
    ("customer_source_id", STR, "Customer Source ID"),
    ("discount_effect", STR, "Discount Effect"),
    ("discount_unit_type", STR, "Discount Unit Type"),
    ("discount_unit_effect", STR, "Discount Unit Effect"),
    ("validation_rules_id", STR, "Validation Rules ID"),
    labels_from=LabelSource.DASHBOARD,
    confirmed=frozenset({"id", "code", "voucher_type", "value"}),
    id_prefixes=("v_",),
)

REDEMPTION = _table(
    "redemption",
    ("id", STR, "ID"),
    ("object", STR, "Object"),
    ("date", DATETIME, "Date"),
    ("voucher_code", STR, "Voucher code"),
    ("campaign", STR, "Campaign"),
    ("promotion_tier_id", STR, "Promotion Tier"),
    ("customer_id", STR, "Customer ID"),
    ("customer_source_id", STR, "Customer Source ID"),
    ("customer_name", STR, "Customer Name"),
    ("tracking_id", STR, "Tracking ID"),
    ("order_id", STR, "Order ID"),
    ("order_amount", NUM, "Order Amount"),
    ("gift_amount", NUM, "Gift Amount"),
    ("loyalty_points", INT, "Loyalty Points"),
    ("result", STR, "Result"),
    ("failure_code", STR, "Failure Code"),
    ("failure_message", STR, "Failure Message"),
    ("metadata", OBJ, "Metadata"),
    labels_from=LabelSource.DASHBOARD,
    id_prefixes=("r_", "rf_", "rr_"),
)

PUBLICATION = _table(
    "publication",
    ("voucher_code", STR, "Voucher Code"),
    ("customer_id", STR, "Customer ID"),
    ("customer_source_id", STR, "Customer Source ID"),
    ("date", DATETIME, "Date"),
    ("channel", STR, "Channel"),
    ("campaign", STR, "Campaign"),
    ("is_winner", BOOL, "Is Winner"),
    ("metadata", OBJ, "Metadata"),
)

CUSTOMER = _table(
    "customer",
    ("id", STR, "ID"),
    ("name", STR, "Name"),
    ("description", STR, "Description"),
    ("email", STR, "Email"),
    ("phone", STR, "Phone"),
    ("source_id", STR, "Source ID"),
    ("created_at", DATETIME, "Creation Date"),
    ("updated_at", DATETIME, "Last Update Date"),
    ("birthdate", DATE, "Birthdate"),
    ("birthday", DATE, "Birthday"),  # deprecated by Voucherify in favour of birthdate
    ("address_city", STR, "Address City"),
    ("address_state", STR, "Address State"),
    ("address_line_1", STR, "Address Line 1"),
    ("address_line_2", STR, "Address Line 2"),
    ("address_country", STR, "Address Country"),
    ("address_postal_code", STR, "Address Postal Code"),
    ("redemptions_total_redeemed", INT, "Redemptions Total Redeemed"),
    ("redemptions_total_failed", INT, "Redemptions Total Failed"),
    ("redemptions_total_succeeded", INT, "Redemptions Total Succeeded"),
    ("redemptions_total_rolled_back", INT, "Redemptions Total Rolled Back"),
    ("redemptions_total_rollback_failed", INT, "Redemptions Total Rollback Failed"),
    ("redemptions_total_rollback_succeeded", INT, "Redemptions Total Rollback Succeeded"),
    ("orders_total_amount", NUM, "Orders Total Amount"),
    ("orders_total_count", INT, "Orders Total Count"),
    ("orders_average_amount", NUM, "Orders Average Amount"),
    ("orders_last_order_amount", NUM, "Orders Last Order Amount"),
    ("orders_last_order_date", DATETIME, "Orders Last Order Date"),
    ("loyalty_points", INT, "Loyalty Points"),
    ("loyalty_referred_customers", INT, "Loyalty Referred Customers"),
    ("metadata", OBJ, "Metadata"),
    id_prefixes=("cust_",),
)

POINTS_EXPIRATION = _table(
    "points_expiration",
    ("id", STR, "ID"),
    ("campaign_id", STR, "Campaign ID"),
    ("voucher_id", STR, "Voucher ID"),
    ("points", INT, "Points"),
    ("status", STR, "Status"),
    ("expires_at", DATE, "Expires At"),
    id_prefixes=("lopb_",),
)

ORDER = _table(
    "order",
    ("id", STR, "ID"),
    ("source_id", STR, "Source ID"),
    ("created_at", DATETIME, "Creation Date"),
    ("updated_at", DATETIME, "Last Update Date"),
    ("status", STR, "Status"),
    ("amount", NUM, "Amount"),
    ("discount_amount", NUM, "Discount Amount"),
    ("items_discount_amount", NUM, "Items Discount Amount"),
    ("total_discount_amount", NUM, "Total Discount Amount"),
    ("total_amount", NUM, "Total Amount"),
    ("customer_id", STR, "Customer ID"),
    ("referrer_id", STR, "Referrer ID"),
    ("metadata", OBJ, "Metadata"),
    id_prefixes=("ord_",),
)

# Gift card and loyalty card balance changes (`ExportVoucherTransactionsFields`). Labels are
# the Dashboard's transaction export columns (research digest section 3, voucher-tracking.mdx).
# `balance` and `amount` are typed as numbers, passed through as exported: the voucher `value`
# sample shows decimals ("2000.00") where the docs' examples show whole numbers, so no unit is
# assumed (docs/types.md).
VOUCHER_TRANSACTIONS = _table(
    "voucher_transactions",
    ("id", STR, "ID"),
    ("campaign_id", STR, "Campaign ID"),
    ("voucher_id", STR, "Voucher ID"),
    ("type", STR, "Type"),
    ("source_id", STR, "Source ID"),
    ("reason", STR, "Reason"),
    ("source", STR, "Source"),
    ("balance", NUM, "Balance"),
    ("amount", NUM, "Amount"),
    ("related_transaction_id", STR, "Related transaction ID"),
    ("created_at", DATETIME, "Creation date"),
    ("details", OBJ, "Details"),
    labels_from=LabelSource.DASHBOARD,
    id_prefixes=("vtx_",),
)

TABLES: dict[str, ExportedObjectTable] = {
    table.exported_object: table
    for table in (
        VOUCHER,
        REDEMPTION,
        PUBLICATION,
        CUSTOMER,
        POINTS_EXPIRATION,
        ORDER,
        VOUCHER_TRANSACTIONS,
    )
}


def stream_table(exported_object: str, metadata_keys: Mapping[str, str]) -> ExportedObjectTable:
    """The table one stream reads: its object's, plus `metadata_keys` ({key: type name})."""
    table = TABLES[exported_object]
    return table.with_metadata({key: FieldType(kind) for key, kind in metadata_keys.items()})
