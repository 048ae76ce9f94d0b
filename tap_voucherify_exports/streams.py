"""The exported objects, one stream each: name, keys, cursors."""

from __future__ import annotations

from tap_voucherify_exports.export_stream import VoucherifyExportStream


class VouchersStream(VoucherifyExportStream):
    """Vouchers of every campaign, and standalone vouchers."""

    name = "vouchers"
    exported_object = "voucher"
    primary_keys = ("id",)
    replication_key = "created_at"
    change_key = "updated_at"


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


class OrdersStream(VoucherifyExportStream):
    """Orders."""

    name = "orders"
    exported_object = "order"
    primary_keys = ("id",)
    replication_key = "created_at"
    change_key = "updated_at"


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
