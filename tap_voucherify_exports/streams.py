"""The exported objects, one stream each: name, keys, cursors; and the bin, read from its list."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_voucherify_exports.export_stream import VoucherifyExportStream
from tap_voucherify_exports.list_stream import VoucherifyListStream


class VouchersStream(VoucherifyExportStream):
    """Vouchers of every campaign, and standalone vouchers."""

    name = "vouchers"
    exported_object = "voucher"
    primary_keys = ("id",)
    replication_key = "created_at"
    change_key = "updated_at"
    full_refresh = True


class RedemptionsStream(VoucherifyExportStream):
    """Redemptions and rollbacks; `date` is their creation time (filtered as `created_at`)."""

    name = "redemptions"
    exported_object = "redemption"
    primary_keys = ("id",)
    replication_key = "date"


class PublicationsStream(VoucherifyExportStream):
    """Vouchers published to customers. Publications have no `id` column in exports."""

    name = "publications"
    exported_object = "publication"
    primary_keys = ("voucher_code", "customer_id", "date")
    replication_key = "date"


class CustomersStream(VoucherifyExportStream):
    """Customers with their redemption, order and loyalty summaries."""

    name = "customers"
    exported_object = "customer"
    primary_keys = ("id",)
    replication_key = "created_at"
    change_key = "updated_at"
    full_refresh = True


class OrdersStream(VoucherifyExportStream):
    """Orders."""

    name = "orders"
    exported_object = "order"
    primary_keys = ("id",)
    replication_key = "created_at"
    change_key = "updated_at"
    full_refresh = True


class PointsExpirationsStream(VoucherifyExportStream):
    """Loyalty points expirations. The API has no created_at filter for them: full table.

    Each full export is wrapped in ACTIVATE_VERSION messages, so a target that honours them
    removes expirations that no longer exist.
    """

    name = "points_expirations"
    exported_object = "points_expiration"
    primary_keys = ("id",)
    replication_key = None
    filter_key = None


class VoucherTransactionsStream(VoucherifyExportStream):
    """Gift card and loyalty card balance changes: created once, never changed (append-only).

    Not selected by default: select it explicitly where the account exports it."""

    name = "voucher_transactions"
    exported_object = "voucher_transactions"
    primary_keys = ("id",)
    replication_key = "created_at"
    # The spec's captured 400 lists the exportable objects without `voucher_transactions`, and
    # Loyalty v2 has no export: an account that refuses it must not fail a default sync.
    selected_by_default = False


STREAM_TYPES: tuple[type[VoucherifyExportStream], ...] = (
    VouchersStream,
    RedemptionsStream,
    PublicationsStream,
    CustomersStream,
    OrdersStream,
    PointsExpirationsStream,
    VoucherTransactionsStream,
)


class BinEntriesStream(VoucherifyListStream):
    """Vouchers, campaigns, products and SKUs moved to the bin (`GET /v1/trash-bin`), with when
    and by whom. Not an export: the bin has no export, and its list no date filter.

    `created_at` is when the resource was moved to the bin; `deleted_by_user_id` is null for a
    deletion through the API (documentation/openapi/bin.json, `TrashBinItem`). What the bin
    cannot tell: docs/incremental.md#deletes.
    """

    name = "bin_entries"
    path = "/v1/trash-bin"
    primary_keys = ("id",)
    replication_key = "created_at"
    declared_schema = th.PropertiesList(
        th.Property("id", th.StringType(), required=True,
                    description="The bin entry's id (tbe_…), not the resource's."),
        th.Property("created_at", th.DateTimeType(), required=True,
                    description="When the resource was moved to the bin."),
        th.Property("resource_type", th.StringType(),
                    description="campaign, product, sku or voucher."),
        th.Property("resource_id", th.StringType(),
                    description="The id of the resource moved to the bin (a voucher's v_…)."),
        th.Property("resource_name", th.StringType(),
                    description="A voucher's code; the name of a campaign, product or SKU."),
        th.Property("resource_parent_id", th.StringType(),
                    description="A voucher's campaign (null for a standalone voucher), an SKU's "
                                "product; null for campaigns and products."),
        th.Property("deleted_by_user_id", th.StringType(),
                    description="The user who moved it in the dashboard; null through the API."),
    ).to_dict()  # fmt: skip


LIST_STREAM_TYPES: tuple[type[VoucherifyListStream], ...] = (BinEntriesStream,)
