"""parsing/evidence.py: a column mapped by position is read only once its cells in the first rows
fit the field it was taken for; nothing of the export is yielded before."""

from __future__ import annotations

import io

import pytest

from tap_voucherify_exports.errors import CsvFormatError
from tap_voucherify_exports.fields import TABLES, FieldType
from tap_voucherify_exports.parsing.evidence import EVIDENCE_ROWS
from tap_voucherify_exports.parsing.records import CsvRecordReader

VOUCHER = TABLES["voucher"]
REQUESTED = ("id", "code", "value", "campaign_id", "created_at")


def reader_of(requested=REQUESTED, *, trust=False, table=VOUCHER):
    warnings: list[str] = []
    reader = CsvRecordReader("vouchers", table, requested, warnings.append, trust_order=trust)
    return reader, warnings


def body(header: str, rows: int, bad: dict[int, str] | None = None) -> str:
    """`rows` good rows (id, code, value, campaign_id, created_at); `bad` replaces row n."""
    good = "v_{n},CODE{n},{n}.50,camp_{m},2024-01-01T00:00:00.000Z"
    lines = [header, *((bad or {}).get(n, good.format(n=n, m=n % 3)) for n in range(rows))]
    return "\n".join(lines) + "\n"


def test_a_column_whose_cells_fit_is_read_by_position_with_one_warning_saying_what_was_checked():
    reader, warnings = reader_of()
    text = body("ID,Code,Wert,Kampagne,Creation Date", 3)
    records = list(reader.records(io.StringIO(text, newline="")))
    assert [r["campaign_id"] for r in records] == ["camp_0", "camp_1", "camp_2"]
    [warning] = warnings
    assert "Wert, Kampagne match no field key or label" in warning
    assert warning.endswith(
        "Their cells in the first rows (up to 100) fit value (a number), "
        "campaign_id (an id starting with camp_)."
    )


@pytest.mark.parametrize(
    ("bad", "column", "what"),
    [
        ("v_7,CODE7,seven,camp_1,2024-01-01T00:00:00.000Z", "3 ('Wert')", "not a number"),
        ("v_7,CODE7,1,V0A1B2C3,2024-01-01T00:00:00.000Z", "4 ('Kampagne')",
         "not an id starting with camp_"),
        ("v_7,CODE7,1,camp 1,2024-01-01T00:00:00.000Z", "4 ('Kampagne')",
         "not an id starting with camp_"),
    ],
)  # fmt: skip
def test_a_cell_that_does_not_fit_fails_before_the_first_record_naming_column_header_and_fields(
    bad, column, what
):
    reader, warnings = reader_of()
    records = reader.records(io.StringIO(body("ID,Code,Wert,Kampagne,Creation Date", 50, {7: bad})))
    with pytest.raises(CsvFormatError) as error:
        next(records)  # not even the six rows before it
    message = str(error.value)
    assert message.startswith(f"vouchers: column {column} matches no field key or label and was")
    assert "line 9 holds" in message
    assert what in message
    assert "Header seen: ID, Code, Wert, Kampagne, Creation Date." in message
    assert "Requested fields: id, code, value, campaign_id, created_at." in message
    assert message.endswith("Set trust_column_order to read them by position anyway.")
    assert warnings == []


def test_only_the_first_rows_are_checked_and_held_back():
    late = EVIDENCE_ROWS + 5
    text = body("ID,Code,Wert,Kampagne,Creation Date", late + 3, {late: f"v_{late},C,x,camp_1,"})
    reader, _ = reader_of()
    records = reader.records(io.StringIO(text, newline=""))
    first = [next(records) for _ in range(late)]  # past the check: rows flow one by one again
    assert first[-1]["id"] == f"v_{late - 1}"
    with pytest.raises(CsvFormatError, match=rf"line {late + 2}, column `value`: cannot read 'x'"):
        next(records)


@pytest.mark.parametrize(
    ("requested", "header", "cells"),
    [
        (("id", "code"), "Kennung,Code", "V0A1,CODE"),  # an id without its prefix
        (("id", "code"), "Kennung,Code", ",CODE"),  # an empty primary key
        (("code", "created_at"), "Code,Erstellt", "C,gestern"),  # a date-time
        # metadata that is no JSON object (with `code` unknown too: else the bare-key rule would
        # take `Metadaten` for a metadata key, parsing/columns.py)
        (("id", "code", "metadata"), "ID,Kod,Metadaten", "v_1,C,red"),
        (("code", "customer_source_id"), "Code,Quelle", "C,jan kowalski"),  # a source id: spaces
        (("code", "active"), "Code,Aktiv", "C,vielleicht"),
    ],
)
def test_each_kind_of_column_is_checked_for_what_it_must_hold(requested, header, cells):
    reader, _ = reader_of(requested)
    with pytest.raises(CsvFormatError, match="matches no field key or label and was taken"):
        list(reader.records(io.StringIO(f"{header}\n{cells}\n", newline="")))


def test_empty_cells_null_spellings_and_free_text_fit_any_column_but_the_primary_key():
    requested = ("id", "code", "customer_id", "gift_balance", "discount_type")
    reader, warnings = reader_of(requested)
    text = "ID,Code,Kunde,Guthaben,Rabatt\nv_1,C,,null,whatever\nv_2,C,NULL,,PERCENT\n"
    records = list(reader.records(io.StringIO(text, newline="")))
    assert [r["customer_id"] for r in records] == [None, "NULL"]  # text stays text
    assert [r["gift_balance"] for r in records] == [None, None]
    assert "Free text, which no check can tell apart: discount_type." in warnings[0]


def test_a_header_with_no_known_cell_fails_unless_the_order_is_trusted():
    # The example: German labels for id, name, email.
    requested = ("id", "name", "email")
    text = "Kunden-ID,Vollname,E-Mail-Adresse\ncust_1,Ada,ada@example.com\n"
    reader, _ = reader_of(requested, table=TABLES["customer"])
    with pytest.raises(CsvFormatError) as error:
        list(reader.records(io.StringIO(text, newline="")))
    assert str(error.value) == (
        "vouchers: cannot tell which column holds which field: no header cell matches a field "
        "key or label, so nothing shows the columns come in the requested order. Header seen: "
        "Kunden-ID, Vollname, E-Mail-Adresse. Requested fields: id, name, email. Set "
        "trust_column_order to read them by position anyway."
    )
    reader, warnings = reader_of(requested, trust=True, table=TABLES["customer"])
    records = list(reader.records(io.StringIO(text, newline="")))
    assert records == [{"id": "cust_1", "name": "Ada", "email": "ada@example.com"}]
    [warning] = warnings
    assert "trust_column_order is on, so they are mapped by position to id, name, email" in warning
    assert warning.endswith("trust_column_order is on: their cells are not checked.")


def test_a_trusted_order_skips_the_check():
    reader, _ = reader_of(trust=True)
    text = body("ID,Code,Wert,Kampagne,Creation Date", 3, {1: "v_1,C,1,V0A1,"})
    assert [r["campaign_id"] for r in reader.records(io.StringIO(text, newline=""))] == [
        "camp_0",
        "V0A1",
        "camp_2",
    ]


def test_a_header_with_every_cell_known_is_not_checked():
    reader, warnings = reader_of()
    text = body("ID,Code,Value,Campaign ID,Creation Date", 2, {1: "v_1,C,1,V0A1,"})
    assert len(list(reader.records(io.StringIO(text, newline="")))) == 2
    assert warnings == []


def test_a_metadata_key_named_like_an_id_is_the_users_text_not_an_id():
    table = VOUCHER.with_metadata({"external_id": FieldType.STRING})
    reader, warnings = reader_of(("id", "metadata.external_id"), table=table)
    text = "ID,Extern\nv_1,ab 12\n"
    records = list(reader.records(io.StringIO(text, newline="")))
    assert records == [{"id": "v_1", "metadata__external_id": "ab 12"}]
    assert "Free text, which no check can tell apart: metadata.external_id." in warnings[0]
