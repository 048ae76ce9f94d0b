"""Synthetic, deterministic rows for every exported object in `fields.TABLES`.

A cell is produced by a small function of (row index, row hash, created_at ms); the row hash is
`mix(base(seed, object) + index)`. Nothing is stored, so any window of a million-row object can
be rendered in one pass, and two emulators with the same seed and row counts agree cell for cell.
Cells are already CSV strings ("" for null); ground truth and the CSV file share them.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from tap_voucherify_exports.emulator import pools as P  # noqa: N812 - short alias for pools
from tap_voucherify_exports.emulator.hashing import MASK64, base, mix, permute32, permute64
from tap_voucherify_exports.emulator.timeline import (
    Segment,
    Timeline,
    iso_date,
    iso_group,
    iso_ms,
    iter_ms,
    parse_iso,
)
from tap_voucherify_exports.fields import TABLES

TEMPLATES = 4096  # distinct combinations of hash-only cells (a power of two)
# Cells that depend on the row index or created_at, or that reference other rows: computed per
# row. Every other cell depends only on the row hash and comes from a template.
ROW_KEYS: dict[str, frozenset[str]] = {
    "voucher": frozenset({
        "id", "code", "start_date", "expiration_date", "qr_code", "bar_code", "created_at",
        "updated_at", "customer_id", "customer_source_id",
    }),
    "redemption": frozenset({
        "id", "date", "voucher_code", "customer_id", "customer_source_id", "customer_name",
        "tracking_id", "order_id",
    }),
    "publication": frozenset({"voucher_code", "customer_id", "customer_source_id", "date"}),
    "customer": frozenset({
        "id", "name", "email", "phone", "source_id", "created_at", "updated_at", "birthdate",
        "birthday", "orders_last_order_date",
    }),
    "points_expiration": frozenset({"id", "voucher_id", "expires_at"}),
    "order": frozenset({
        "id", "source_id", "created_at", "updated_at", "customer_id", "referrer_id",
    }),
}
# Per-row cells that may contain a delimiter or quote (every other per-row cell is an id, code,
# number or timestamp and never needs quoting).
QUOTED_KEYS = frozenset({"name", "customer_name"})
Cell = Callable[[int, int, int], str]  # (index, row hash, created_at ms) -> CSV cell
_DAY = 86_400_000
_GOLDEN = 0x9E3779B97F4A7C15  # splitmix64 increment (see hashing.mix)


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


def _quote(value: str) -> str:
    # csv.QUOTE_MINIMAL: quote when the cell holds a delimiter, quote or line break.
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _quoted(cell: Cell) -> Cell:
    return lambda i, h, ms: _quote(cell(i, h, ms))


def _runs(template: list[str], row_positions: list[int], terminator: str) -> list[str]:
    """The CSV text between per-row cells: run0 cell run1 cell ... runN (runN ends the line)."""
    buffer = io.StringIO()
    # The csv module quotes line breaks only if they are in its lineterminator: keep "\r\n".
    csv.writer(buffer, lineterminator="\r\n").writerow(
        ["\x00" if pos in row_positions else cell for pos, cell in enumerate(template)]
    )
    runs = buffer.getvalue()[:-2].split("\x00")
    runs[-1] += terminator
    return runs


class Dataset:
    """Row generator for every exported object, plus its timelines."""

    def __init__(self, seed: int, rows: dict[str, int]) -> None:
        unknown = set(rows) - set(TABLES)
        if unknown:
            raise ValueError(f"unknown exported objects: {sorted(unknown)}")
        self.seed = seed
        # Wall-clock ms of the last export creation (or of start-up); rows added later are dated
        # after it. See Timeline.add.
        self.watermark_ms = int(time.time() * 1000)
        self.timelines = {
            name: Timeline(rows.get(name, 200), base(seed, f"{name}:time") & 0xFFFF)
            for name in TABLES
        }
        self._bases = {name: base(seed, name) for name in TABLES}
        self._id_salts = {name: base(seed, f"{name}:id") for name in TABLES}
        # References point at rows that exist from the start (they never disappear).
        self._vouchers = max(1, rows.get("voucher", 200))
        self._customers = max(1, rows.get("customer", 200))
        self._cells: dict[str, dict[str, Cell]] = {
            "voucher": self._voucher_cells(),
            "redemption": self._redemption_cells(),
            "publication": self._publication_cells(),
            "customer": self._customer_cells(),
            "points_expiration": self._points_expiration_cells(),
            "order": self._order_cells(),
        }

    # --- identifiers shared between objects -------------------------------------------------
    def _hex_id(self, name: str, prefix: str) -> Callable[[int], str]:
        salt = self._id_salts[name]
        return lambda i: f"{prefix}{permute64(i, salt):016x}"

    def voucher_code(self, j: int) -> str:
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
            return str((h >> 8) % 5000 + 100)  # discounts: integer minor units

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
            "bar_code": lambda i, h, ms: f"https://dl.voucherify.io/api/v1/assets/barcode/{code(i)}",
            "metadata": _pick(P.METADATA, 27),
            "is_referral_code": _flag(30, 4),
            "created_at": lambda i, h, ms: iso_group(ms),
            "updated_at": lambda i, h, ms: "" if h % 3 == 0 else iso_ms(ms + (h >> 9) % 9_000_000),
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
            "updated_at": lambda i, h, ms: "" if h % 3 == 0 else iso_ms(ms + (h >> 9) % 9_000_000),
            "birthdate": birthdate,
            "birthday": birthdate,
            "address_city": address(P.CITIES, 24),
            "address_state": address(P.STATES, 27),
            "address_line_1": address(P.STREETS, 30),
            "address_line_2": lambda i, h, ms: "" if (h >> 33) % 4 else "Apt. 4, \"rear\"",
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
        pid = self._hex_id("points_expiration", "lpe_")
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
            "updated_at": lambda i, h, ms: "" if h % 3 == 0 else iso_ms(ms + (h >> 9) % 9_000_000),
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

    # --- public API -----------------------------------------------------------------------------
    def _template(self, exported_object: str, keys: list[str]) -> Callable[[int], list[str]]:
        # Cells that depend only on the row hash are drawn from TEMPLATES template rows (picked
        # by the low hash bits): one list copy per row instead of one call per cell. Templates
        # are built on first use, so a 40-row export does not pay for all 4096.
        salt = self._bases[exported_object] ^ 0x5DEECE66D
        per_row = ROW_KEYS[exported_object]
        cells = [(pos, self._cells[exported_object][key]) for pos, key in enumerate(keys)
                 if key not in per_row]

        def build(t: int) -> list[str]:
            template = [""] * len(keys)
            ht = mix(salt + t)
            for pos, cell in cells:
                template[pos] = cell(0, ht, 0)
            return template

        return build

    def rows(
        self, exported_object: str, keys: list[str], segments: list[Segment], indexes: range
    ) -> Iterator[list[str]]:
        """Yield the cells of `keys` for every row in `indexes` (in that order)."""
        per_row = ROW_KEYS[exported_object]
        row_cells = [(pos, self._cells[exported_object][key]) for pos, key in enumerate(keys)
                     if key in per_row]
        build = self._template(exported_object, keys)
        templates: dict[int, list[str]] = {}
        mask = TEMPLATES - 1
        start = self._bases[exported_object]
        for i, ms in iter_ms(segments, indexes):
            h = mix(start + i)
            template = templates.get(h & mask)
            if template is None:
                template = templates[h & mask] = build(h & mask)
            row = template.copy()
            for pos, cell in row_cells:
                row[pos] = cell(i, h, ms)
            yield row

    def lines(
        self, exported_object: str, keys: list[str], segments: list[Segment], indexes: range,
        terminator: str,
    ) -> Iterator[str]:
        """Yield finished CSV lines for `indexes`: the fast path for files.

        The template cells of a row are pre-rendered (with the csv module, so quoting is
        identical) as text runs between the per-row cells; a line is then one join. Must agree
        byte for byte with `csv.writer(...).writerow(row)` for every row of `rows()`.
        """
        per_row = ROW_KEYS[exported_object]
        row_positions = [pos for pos, key in enumerate(keys) if key in per_row]
        row_cells = [
            _quoted(self._cells[exported_object][keys[pos]])
            if keys[pos] in QUOTED_KEYS else self._cells[exported_object][keys[pos]]
            for pos in row_positions
        ]
        build = self._template(exported_object, keys)
        # Per template, a str.format pattern: template text with a {} per per-row cell.
        formats: dict[int, str] = {}
        mask = TEMPLATES - 1
        x0 = self._bases[exported_object] + _GOLDEN
        for i, ms in iter_ms(segments, indexes):
            # mix() inlined: this loop runs once per row of a million-row file.
            x = (x0 + i) & MASK64
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
            h = x ^ (x >> 31)
            t = h & mask
            pattern = formats.get(t)
            if pattern is None:
                runs = _runs(build(t), row_positions, terminator)
                pattern = formats[t] = "{}".join(
                    run.replace("{", "{{").replace("}", "}}") for run in runs
                )
            yield pattern.format(*[cell(i, h, ms) for cell in row_cells])

    def touch(self, moment: datetime | None = None) -> None:
        """Note that the data was read at `moment` (default now): an export was created."""
        ms = int(time.time() * 1000) if moment is None else parse_iso(moment)
        self.watermark_ms = max(self.watermark_ms, ms)

    def add_rows(self, exported_object: str, count: int) -> None:
        """Append rows dated after every existing row and every earlier read, up to now."""
        self.timelines[exported_object].add(count, not_before_ms=self.watermark_ms)
        self.touch()

    def keys(self, exported_object: str) -> list[str]:
        """All field keys of an object, in `fields.TABLES` order."""
        return list(TABLES[exported_object].keys)
