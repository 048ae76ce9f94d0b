"""The tap's field tables (fields.py) against the emulator's own reading of the API (api.py).

The two are written separately from the research digest, so this test is where a misreading on
either side shows. Every legitimate difference is named below with its reason; anything else
fails, naming the object, the key and both readings.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tap_voucherify_exports.fields import TABLES, FieldType
from voucherify_emulator.api import OBJECTS, Kind

KIND_OF_TYPE = {
    FieldType.STRING: Kind.TEXT,
    FieldType.INTEGER: Kind.INTEGER,
    FieldType.NUMBER: Kind.DECIMAL,
    FieldType.BOOLEAN: Kind.BOOLEAN,
    FieldType.DATE: Kind.DATE,
    FieldType.DATE_TIME: Kind.DATETIME,
    FieldType.OBJECT: Kind.JSON,
    FieldType.INTEGER_LIST: Kind.INTEGER_LIST,
}

# Amounts: the docs' examples are whole numbers (`7700`), so the emulator writes integers; the
# tap types them `number` because the only real CSV sample shows an amount as `2000.00`
# (voucher `value`), and a number column reads integers too.
AMOUNTS_TYPED_NUMBER = {
    ("voucher", "gift_balance"),
    ("voucher", "discount_amount_limit"),
    ("redemption", "order_amount"),
    ("redemption", "gift_amount"),
    ("customer", "orders_total_amount"),
    ("customer", "orders_average_amount"),
    ("customer", "orders_last_order_amount"),
    ("order", "amount"),
    ("order", "discount_amount"),
    ("order", "items_discount_amount"),
    ("order", "total_discount_amount"),
    ("order", "total_amount"),
    ("voucher_transactions", "balance"),
    ("voucher_transactions", "amount"),
}
# No publication header is documented; both sides infer. The emulator borrows the redemption
# Dashboard label "Voucher code", the tap title-cases. The tap maps columns by position.
LABELS = {("publication", "voucher_code"): ("Voucher Code", "Voucher code")}


def test_the_same_exported_objects():
    assert set(TABLES) == set(OBJECTS)


@pytest.mark.parametrize("exported_object", sorted(TABLES))
def test_the_same_field_keys(exported_object):
    # Order may differ (vouchers, customers): the tap requests its own order and the CSV columns
    # follow `parameters.fields`; the emulator's order only shows in "Allowed fields: ...".
    tap, emulator = set(TABLES[exported_object].keys), set(OBJECTS[exported_object].keys)
    assert tap == emulator, (
        f"only in the tap: {tap - emulator}; only in the emulator: {emulator - tap}"
    )


@pytest.mark.parametrize("exported_object", sorted(TABLES))
def test_labels_and_kinds_agree_but_for_the_named_differences(exported_object):
    spec = OBJECTS[exported_object]
    for field in TABLES[exported_object].fields:
        column, where = spec.column(field.key), (exported_object, field.key)
        if where in LABELS:
            assert (field.label, column.label) == LABELS[where]
        else:
            assert field.label == column.label, (
                f"{where}: tap {field.label!r}, emulator {column.label!r}"
            )
        if where in AMOUNTS_TYPED_NUMBER:
            assert (field.type, column.kind) == (FieldType.NUMBER, Kind.INTEGER)
        else:
            assert KIND_OF_TYPE[field.type] == column.kind, (
                f"{where}: tap {field.type.value}, emulator {column.kind.value}"
            )


def test_every_named_difference_still_exists():
    """A difference fixed on one side must be removed here, so the list stays true."""
    for exported_object, key in AMOUNTS_TYPED_NUMBER:
        assert TABLES[exported_object].field(key).type is FieldType.NUMBER
        assert OBJECTS[exported_object].column(key).kind is Kind.INTEGER
    for (exported_object, key), (tap, emulator) in LABELS.items():
        assert TABLES[exported_object].field(key).label == tap
        assert OBJECTS[exported_object].column(key).label == emulator


def test_the_emulator_never_imports_the_tap():
    code = (
        "import sys, voucherify_emulator.__main__, voucherify_emulator.emulator; "
        "print(sorted(m for m in sys.modules if m.startswith('tap_voucherify_exports')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
