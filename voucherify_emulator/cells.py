"""What each cell of each exported object contains: one small function per field.

A cell is a function of (row index, row hash, created_at ms) returning the CSV text of the cell
("" for null). Ids are bijections of the index (so they never collide); references to vouchers
and customers point at rows that exist from the start; everything else is drawn from the row hash
and the awkward value pools in `pools.py`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from voucherify_emulator import pools as P  # noqa: N812 - short alias for pools
from voucherify_emulator.api import OBJECTS
from voucherify_emulator.hashing import base, mix, permute32, permute64
from voucherify_emulator.timeline import iso_date, iso_group, iso_ms

# Cells that depend on the row index or created_at, or that reference other rows: computed per
# row. Every other cell depends only on the row hash and comes from a template.
ROW_KEYS: dict[str, frozenset[str]] = {
    "voucher": frozenset(
        {
            "id",
            "code",
            "start_date",
            "expiration_date",
            "qr_code",
            "bar_code",
            "created_at",
            "updated_at",
            "customer_id",
            "customer_source_id",
        }
    ),
    "redemption": frozenset(
        {
            "id",
            "date",
            "voucher_code",
            "customer_id",
            "customer_source_id",
            "customer_name",
            "tracking_id",
            "order_id",
        }
    ),
    "publication": frozenset({"voucher_code", "customer_id", "customer_source_id", "date"}),
    "customer": frozenset(
        {
            "id",
            "name",
            "email",
            "phone",
            "source_id",
            "created_at",
            "updated_at",
            "birthdate",
            "birthday",
            "orders_last_order_date",
        }
    ),
    "points_expiration": frozenset({"id", "voucher_id", "expires_at"}),
    "order": frozenset(
        {
            "id",
            "source_id",
            "created_at",
            "updated_at",
            "customer_id",
            "referrer_id",
        }
    ),
    "voucher_transactions": frozenset(
        {"id", "voucher_id", "source_id", "related_transaction_id", "created_at"}
    ),
}
# Per-row cells that may contain a delimiter or quote (every other per-row cell is an id, code,
# number or timestamp and never needs quoting).
QUOTED_KEYS = frozenset({"name", "customer_name"})
Cell = Callable[[int, int, int], str]  # (index, row hash, created_at ms) -> CSV cell
_DAY = 86_400_000


# A row's `updated_at` as generated. Rows of the initial dataset: empty for a third of them
# (Voucherify does not document whether it sets updated_at on creation, so both cases exist),
# else up to 2.5 hours after created_at. Rows added later (`add_rows`, dated up to now) are
# empty: a date after now would be a change nobody made yet. `update_rows` sets it to the time
# of the change.
UPDATED_AFTER_CREATION_MAX_MS = 9_000_000


def _pick(pool: tuple[str, ...], shift: int) -> Cell:
    n = len(pool)
    return lambda i, h, ms: pool[(h >> shift) % n]


def _flag(shift: int, true_in: int = 2) -> Cell:
    return lambda i, h, ms: "true" if (h >> shift) % true_in == 0 else "false"


def _int(shift: int, modulo: int, blank_one_in: int = 0) -> Cell:
    def cell(i: int, h: int, ms: int) -> str:
        if blank_one_in and (h >> (shift + 20)) % blank_one_in == 0:
            return ""
        return str((h >> shift) % modulo)

    return cell


class CellTables:
    """The cell functions of every exported object, for one seed and one set of row counts."""

    def __init__(self, seed: int, rows: dict[str, int]) -> None:
        self._bases = {name: base(seed, name) for name in OBJECTS}
        self._id_salts = {name: base(seed, f"{name}:id") for name in OBJECTS}
        # References point at rows that exist from the start (they never disappear).
        self._initial_rows = {name: rows.get(name, 200) for name in OBJECTS}
        self._vouchers = max(1, rows.get("voucher", 200))
        self._customers = max(1, rows.get("customer", 200))
        # A voucher row uses its code three times (code, QR and barcode URLs); a tiny cache
        # (thread-safe, unlike a hand-rolled "last value") saves two of the three computations.
        self.voucher_code = functools.lru_cache(maxsize=16)(self._voucher_code)
        self.tables: dict[str, dict[str, Cell]] = {
            "voucher": self._voucher_cells(),
            "redemption": self._redemption_cells(),
            "publication": self._publication_cells(),
            "customer": self._customer_cells(),
            "points_expiration": self._points_expiration_cells(),
            "order": self._order_cells(),
            "voucher_transactions": self._voucher_transactions_cells(),
        }

    def generated_updated_ms(self, exported_object: str, i: int, h: int, ms: int) -> int | None:
        """The generated `updated_at` of row `i` (hash `h`, created at `ms`); None when empty."""
        if i >= self._initial_rows[exported_object] or h % 3 == 0:
            return None
        return ms + (h >> 9) % UPDATED_AFTER_CREATION_MAX_MS

    def _updated_at(self, exported_object: str) -> Cell:
        def cell(i: int, h: int, ms: int) -> str:
            updated = self.generated_updated_ms(exported_object, i, h, ms)
            return "" if updated is None else iso_ms(updated)

        return cell

    # --- identifiers shared between objects -------------------------------------------------
    def _hex_id(self, name: str, prefix: str) -> Callable[[int], str]:
        salt = self._id_salts[name]
        return lambda i: f"{prefix}{permute64(i, salt):016x}"

    def _voucher_code(self, j: int) -> str:
        """Unique code of voucher row `j`."""
        return f"V{permute32(j, self._id_salts['voucher']):08X}"

    def customer_hash(self, k: int) -> int:
        """Row hash of customer `k` (its name and source id derive from it)."""
        return mix(self._bases["customer"] + k)

    # --- per-object cell tables ---------------------------------------------------------------
    def _voucher_cells(self) -> dict[str, Cell]:
        vid = self._hex_id("voucher", "v_")
        code = self.voucher_code
        customers = self._customers
        cust = self._hex_id("customer", "cust_")

        def vtype(h: int) -> str:
            return P.VOUCHER_TYPES[h % 10]

        def value(i: int, h: int, ms: int) -> str:
            kind = vtype(h)
            if kind == "GIFT_VOUCHER":  # as in the only real sample: "2000.00"
                return f"{(h >> 8) % 500 * 10 + 50}.00"
            if kind == "LOYALTY_CARD":
                return "0"
            return str((h >> 8) % 5000 + 100)  # discounts: whole numbers, as the docs' examples

        def customer_id(i: int, h: int, ms: int) -> str:
            return cust((h >> 40) % customers) if (h >> 37) % 3 == 0 else ""

        def expiration(i: int, h: int, ms: int) -> str:
            return "" if (h >> 33) % 4 == 0 else iso_ms(ms + ((h >> 12) % 700 + 30) * _DAY)

        return {
            "id": lambda i, h, ms: vid(i),
            "code": lambda i, h, ms: code(i),
            "voucher_type": lambda i, h, ms: vtype(h),
            "value": value,
            "formula": lambda i, h, ms: "" if h % 7 else 'CUSTOMER_METADATA("tier") * 2',
            "discount_type": lambda i, h, ms: (
                P.DISCOUNT_TYPES[(h >> 5) % 4] if vtype(h) == "DISCOUNT_VOUCHER" else ""
            ),
            "campaign": _pick(P.CAMPAIGNS, 14),
            "campaign_id": lambda i, h, ms: f"camp_{(h >> 14) % len(P.CAMPAIGNS):04d}",
            "category": _pick(P.CATEGORIES, 17),
            "start_date": lambda i, h, ms: iso_group(ms) if (h >> 19) % 3 else "",
            "expiration_date": expiration,
            "gift_balance": lambda i, h, ms: (
                str((h >> 8) % 500 * 1000) if vtype(h) == "GIFT_VOUCHER" else ""
            ),
            "loyalty_balance": lambda i, h, ms: (
                str((h >> 22) % 10000) if vtype(h) == "LOYALTY_CARD" else ""
            ),
            "redemption_quantity": _int(23, 100, blank_one_in=3),
            "redemption_count": _int(24, 50),
            "active": _flag(26, 5),  # mostly false: one in five "true"
            "qr_code": lambda i, h, ms: f"https://dl.voucherify.io/api/v1/assets/qr/{code(i)}",
            "bar_code": lambda i, h, ms: (
                f"https://dl.voucherify.io/api/v1/assets/barcode/{code(i)}"
            ),
            "metadata": _pick(P.METADATA, 27),
            "is_referral_code": _flag(30, 4),
            "created_at": lambda i, h, ms: iso_group(ms),
            "updated_at": self._updated_at("voucher"),
            "validity_timeframe_interval": _pick(P.INTERVALS, 31),
            "validity_timeframe_duration": _pick(P.DURATIONS, 31),
            "validity_day_of_week": _pick(P.DAYS_OF_WEEK, 34),
            "discount_amount_limit": lambda i, h, ms: "" if (h >> 35) % 2 else "5000",
            "additional_info": _pick(P.ADDITIONAL_INFO, 36),
            "customer_id": customer_id,
            "customer_source_id": lambda i, h, ms: (
                f"src-{(h >> 40) % customers}" if (h >> 37) % 3 == 0 else ""
            ),
            "discount_effect": _pick(P.DISCOUNT_EFFECTS, 41),
            "discount_unit_type": lambda i, h, ms: "" if (h >> 43) % 4 else "prod_0a1b2c3d",
            "discount_unit_effect": lambda i, h, ms: "" if (h >> 43) % 4 else "ADD_MANY_ITEMS",
            "validation_rules_id": lambda i, h, ms: "" if (h >> 45) % 3 else f"val_{h % 99991:05d}",
        }

    def _customer_name(self, k: int) -> str:
        ch = self.customer_hash(k)
        if ch % 23 == 0:
            return ""
        first = P.FIRST_NAMES[(ch >> 3) % len(P.FIRST_NAMES)]
        return f"{first} {P.LAST_NAMES[(ch >> 9) % len(P.LAST_NAMES)]}"

    def _redemption_cells(self) -> dict[str, Cell]:
        rid = self._hex_id("redemption", "r_")
        cust = self._hex_id("customer", "cust_")
        order = self._hex_id("order", "ord_")
        vouchers, customers = self._vouchers, self._customers

        def failed(h: int) -> bool:
            return (h >> 50) % 6 == 0

        return {
            "id": lambda i, h, ms: rid(i),
            "object": lambda i, h, ms: "redemption",
            "date": lambda i, h, ms: iso_group(ms),
            "voucher_code": lambda i, h, ms: self.voucher_code((h >> 3) % vouchers),
            "campaign": _pick(P.CAMPAIGNS, 7),
            "promotion_tier_id": lambda i, h, ms: "" if (h >> 11) % 5 else "promo_tier_01",
            "customer_id": lambda i, h, ms: cust((h >> 13) % customers),
            "customer_source_id": lambda i, h, ms: f"src-{(h >> 13) % customers}",
            "customer_name": lambda i, h, ms: self._customer_name((h >> 13) % customers),
            "tracking_id": lambda i, h, ms: f"track_{(h >> 17) % 1_000_000:06d}",
            "order_id": lambda i, h, ms: order((h >> 19) % 1_000_000) if (h >> 21) % 2 else "",
            "order_amount": lambda i, h, ms: str((h >> 23) % 100_000),
            "gift_amount": lambda i, h, ms: "" if (h >> 25) % 3 else str((h >> 26) % 5000),
            "loyalty_points": lambda i, h, ms: "" if (h >> 28) % 3 else str((h >> 29) % 300),
            "result": lambda i, h, ms: "FAILURE" if failed(h) else "SUCCESS",
            "failure_code": lambda i, h, ms: P.FAILURE_CODES[h % 3] if failed(h) else "",
            "failure_message": lambda i, h, ms: P.FAILURE_MESSAGES[h % 3] if failed(h) else "",
            "metadata": _pick(P.METADATA, 33),
        }

    def _publication_cells(self) -> dict[str, Cell]:
        cust = self._hex_id("customer", "cust_")
        vouchers, customers = self._vouchers, self._customers
        # Rows sharing a date are consecutive indexes; i % n keeps (code, customer, date) unique.
        return {
            "voucher_code": lambda i, h, ms: self.voucher_code(i % vouchers),
            "customer_id": lambda i, h, ms: cust((i // vouchers + i) % customers),
            "customer_source_id": lambda i, h, ms: f"src-{(i // vouchers + i) % customers}",
            "date": lambda i, h, ms: iso_group(ms),
            "channel": _pick(P.CHANNELS, 5),
            "campaign": _pick(P.CAMPAIGNS, 9),
            "is_winner": lambda i, h, ms: "" if (h >> 12) % 3 else ("true" if h % 2 else "false"),
            "metadata": _pick(P.METADATA, 15),
        }

    def _customer_cells(self) -> dict[str, Cell]:
        cid = self._hex_id("customer", "cust_")

        def birthdate(i: int, h: int, ms: int) -> str:
            return "" if (h >> 20) % 4 == 0 else iso_date(ms - ((h >> 22) % 20000 + 6570) * _DAY)

        def address(pool: tuple[str, ...], shift: int) -> Cell:
            return lambda i, h, ms: pool[(h >> shift) % len(pool)]

        def money(shift: int) -> Cell:
            return lambda i, h, ms: str((h >> shift) % 1_000_000)

        return {
            "id": lambda i, h, ms: cid(i),
            "name": lambda i, h, ms: self._customer_name(i),
            "description": _pick(P.DESCRIPTIONS, 3),
            "email": lambda i, h, ms: "" if h % 11 == 0 else f"customer{i}@example.com",
            "phone": lambda i, h, ms: (
                "" if (h >> 5) % 3 == 0 else f"+48 600 {(h >> 6) % 1000:03d} {i % 1000:03d}"
            ),
            "source_id": lambda i, h, ms: f"src-{i}",
            "created_at": lambda i, h, ms: iso_group(ms),
            "updated_at": self._updated_at("customer"),
            "birthdate": birthdate,
            "birthday": birthdate,
            "address_city": address(P.CITIES, 24),
            "address_state": address(P.STATES, 27),
            "address_line_1": address(P.STREETS, 30),
            "address_line_2": lambda i, h, ms: "" if (h >> 33) % 4 else 'Apt. 4, "rear"',
            "address_country": address(P.COUNTRIES, 35),
            "address_postal_code": lambda i, h, ms: f"{(h >> 38) % 100:02d}-{(h >> 45) % 1000:03d}",
            "redemptions_total_redeemed": _int(40, 40),
            "redemptions_total_failed": _int(42, 5),
            "redemptions_total_succeeded": _int(44, 35),
            "redemptions_total_rolled_back": _int(46, 3),
            "redemptions_total_rollback_failed": _int(48, 2),
            "redemptions_total_rollback_succeeded": _int(49, 3),
            "orders_total_amount": money(20),
            "orders_total_count": _int(51, 30),
            "orders_average_amount": money(25),
            "orders_last_order_amount": money(30),
            "orders_last_order_date": lambda i, h, ms: (
                "" if h % 5 == 0 else iso_ms(ms + (h >> 7) % 99_000_000)
            ),
            "loyalty_points": _int(53, 5000, blank_one_in=4),
            "loyalty_referred_customers": _int(55, 10),
            "metadata": _pick(P.METADATA, 57),
        }

    def _points_expiration_cells(self) -> dict[str, Cell]:
        pid = self._hex_id("points_expiration", "lopb_")  # the spec's example: lopb_Wl1o3…
        vid = self._hex_id("voucher", "v_")
        vouchers = self._vouchers
        return {
            "id": lambda i, h, ms: pid(i),
            "campaign_id": lambda i, h, ms: f"camp_loyalty_{(h >> 3) % 3}",
            "voucher_id": lambda i, h, ms: vid((h >> 7) % vouchers),
            "points": lambda i, h, ms: str((h >> 11) % 1000 + 1),
            "status": lambda i, h, ms: "ACTIVE" if (h >> 21) % 4 else "EXPIRED",
            # Monotonic in the index (created_at + one year), so order=expires_at is index order.
            "expires_at": lambda i, h, ms: iso_date(ms + 365 * _DAY),
        }

    def _order_cells(self) -> dict[str, Cell]:
        oid = self._hex_id("order", "ord_")
        cust = self._hex_id("customer", "cust_")
        customers = self._customers

        def amounts(h: int) -> tuple[int, int, int]:
            amount = (h >> 4) % 200_000 + 100
            discount = (h >> 22) % (amount // 10 + 1)
            items = (h >> 40) % (amount // 20 + 1)
            return amount, discount, items

        return {
            "id": lambda i, h, ms: oid(i),
            "source_id": lambda i, h, ms: "" if h % 9 == 0 else f"order-src-{i}",
            "created_at": lambda i, h, ms: iso_group(ms),
            "updated_at": self._updated_at("order"),
            "status": _pick(P.ORDER_STATUSES, 2),
            "amount": lambda i, h, ms: str(amounts(h)[0]),
            "discount_amount": lambda i, h, ms: str(amounts(h)[1]),
            "items_discount_amount": lambda i, h, ms: str(amounts(h)[2]),
            "total_discount_amount": lambda i, h, ms: str(sum(amounts(h)[1:])),
            "total_amount": lambda i, h, ms: str(amounts(h)[0] - sum(amounts(h)[1:])),
            "customer_id": lambda i, h, ms: cust((h >> 30) % customers),
            "referrer_id": lambda i, h, ms: "" if (h >> 33) % 5 else cust((h >> 35) % customers),
            "metadata": _pick(P.METADATA, 45),
        }

    def _voucher_transactions_cells(self) -> dict[str, Cell]:
        tid = self._hex_id("voucher_transactions", "vtx_")
        vid = self._hex_id("voucher", "v_")
        vouchers = self._vouchers

        def loyalty(h: int) -> bool:
            return h % 2 == 0

        def kind(h: int) -> str:
            pool = P.LOYALTY_TRANSACTION_TYPES if loyalty(h) else P.GIFT_TRANSACTION_TYPES
            return pool[(h >> 1) % len(pool)]

        def amount(h: int) -> int:
            size = (h >> 5) % 500 + 1
            return -size if "REMOVAL" in kind(h) or "REDEMPTION" in kind(h) else size

        return {
            "id": lambda i, h, ms: tid(i),
            "campaign_id": lambda i, h, ms: (
                f"camp_loyalty_{(h >> 3) % 3}" if loyalty(h) else f"camp_gift_{(h >> 3) % 3}"
            ),
            "voucher_id": lambda i, h, ms: vid((h >> 7) % vouchers),
            "type": lambda i, h, ms: kind(h),
            "source_id": lambda i, h, ms: "" if (h >> 29) % 3 else f"txn-src-{i}",
            "reason": _pick(P.TRANSACTION_REASONS, 31),
            "source": _pick(P.TRANSACTION_SOURCES, 35),
            "balance": lambda i, h, ms: str((h >> 13) % 100_000 + max(0, -amount(h))),
            "amount": lambda i, h, ms: str(amount(h)),
            "related_transaction_id": lambda i, h, ms: (
                tid(i - 1) if i and (h >> 39) % 7 == 0 else ""
            ),
            "created_at": lambda i, h, ms: iso_group(ms),
            "details": _pick(P.TRANSACTION_DETAILS, 43),
        }
