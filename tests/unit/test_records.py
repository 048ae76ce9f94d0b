import io
from decimal import Decimal

import pytest
from singer_sdk.contrib.msgspec import encoder

from tap_voucherify_exports.errors import CsvFormatError, TruncatedCsvError
from tap_voucherify_exports.fields import TABLES, FieldType
from tap_voucherify_exports.parsing.converters import CONVERTERS, RAW_TEXT_KEY, compile_row
from tap_voucherify_exports.parsing.records import CsvRecordReader

FIELDS = ("id", "code", "value", "active", "metadata", "created_at")


def read(text: str, fields=FIELDS, skip_rows: int = 0):
    reader = CsvRecordReader("vouchers", TABLES["voucher"], fields)
    return list(reader.records(io.StringIO(text, newline=""), skip_rows=skip_rows))


@pytest.mark.parametrize(
    ("field_type", "cell", "expected"),
    [
        (FieldType.STRING, "Zoë 🎉", "Zoë 🎉"),
        (FieldType.INTEGER, "42", 42),
        (FieldType.INTEGER, "42.00", 42),
        (FieldType.INTEGER, "-3", -3),
        (FieldType.NUMBER, "2000.00", Decimal("2000.00")),
        (FieldType.NUMBER, "200000", Decimal("200000")),
        (FieldType.BOOLEAN, "true", True),
        (FieldType.BOOLEAN, "FALSE", False),
        (FieldType.BOOLEAN, "True", True),
        (FieldType.DATE, "2022-06-30", "2022-06-30"),
        (FieldType.DATE, "2022-06-30T00:00:00.000Z", "2022-06-30"),
        (FieldType.DATE_TIME, "2022-03-09T09:16:32.521Z", "2022-03-09T09:16:32.521Z"),
        (FieldType.DATE_TIME, "2022-03-09T10:16:32+01:00", "2022-03-09T09:16:32+00:00"),
        (FieldType.DATE_TIME, "2022-03-09 09:16:32", "2022-03-09T09:16:32+00:00"),
        (FieldType.OBJECT, '{"a": "x,\\"y\\"\\n"}', {"a": 'x,"y"\n'}),
        (FieldType.OBJECT, "not json, really", {RAW_TEXT_KEY: "not json, really"}),
        (FieldType.OBJECT, "[1, 2]", {RAW_TEXT_KEY: "[1, 2]"}),
        (FieldType.INTEGER_LIST, "1,2,3", [1, 2, 3]),
        (FieldType.INTEGER_LIST, "[0, 6]", [0, 6]),
    ],
)
def test_each_converter_types_its_cell(field_type, cell, expected):
    assert CONVERTERS[field_type](cell) == expected


@pytest.mark.parametrize(
    ("cell", "json"),
    [("2000.00", b"2000.00"), ("200000", b"200000"), ("0012", b"12"), ("-5", b"-5"),
     (" 7 ", b"7"), ("1E+3", b"1E+3"), ("0.10", b"0.10"), ("\u0661\u0662", b"12")],
)  # fmt: skip
def test_numbers_are_written_exactly_as_exported_never_rescaled(cell, json):
    # Whole numbers become ints, the rest Decimals: the RECORD bytes are Decimal's either way.
    assert encoder.encode(CONVERTERS[FieldType.NUMBER](cell)) == json
    assert encoder.encode(Decimal(cell)) == json


@pytest.mark.parametrize(
    ("field_type", "cell"),
    [
        (FieldType.INTEGER, "4.5"),
        (FieldType.INTEGER, "x"),
        (FieldType.NUMBER, "NaN"),
        (FieldType.NUMBER, "12,5"),
        (FieldType.NUMBER, "\u00b2"),
        (FieldType.BOOLEAN, "maybe"),
        (FieldType.DATE, "2022-13-01"),
        (FieldType.DATE_TIME, "yesterday"),
        (FieldType.INTEGER_LIST, "1,a"),
    ],
)
def test_each_converter_rejects_what_it_cannot_type(field_type, cell):
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError is the contract
        CONVERTERS[field_type](cell)


def test_header_of_labels_is_mapped_to_requested_fields_by_label():
    rows = read(
        "ID,Code,Value,Active,Metadata,Creation Date\nv1,C,1.5,true,,2024-01-01T00:00:00Z\n"
    )
    assert rows == [
        {
            "id": "v1",
            "code": "C",
            "value": Decimal("1.5"),
            "active": True,
            "metadata": None,
            "created_at": "2024-01-01T00:00:00+00:00",
        }
    ]


def test_header_of_field_keys_is_mapped_by_name_in_any_order():
    rows = read("code,id,value,active,metadata,created_at\nC,v1,1,false,{},2024-01-01T00:00:00Z\n")
    assert rows[0]["id"] == "v1"
    assert rows[0]["code"] == "C"


def test_empty_cells_are_null():
    rows = read("id,code,value,active,metadata,created_at\nv1,,,,,\n")
    assert rows == [
        {
            "id": "v1",
            "code": None,
            "value": None,
            "active": None,
            "metadata": None,
            "created_at": None,
        }
    ]


def test_bom_crlf_and_quoted_newlines_commas_and_quotes_are_read():
    text = (
        "\ufeffID,Code,Value,Active,Metadata,Creation Date\r\n"
        'v1,"a,b",1,true,"{""note"": ""line1\r\nline2, \\""q\\""""}",2024-01-01T00:00:00Z\r\n'
        "v2,plain,2,false,,2024-01-02T00:00:00Z\r\n"
    )
    rows = read(text)
    assert [row["id"] for row in rows] == ["v1", "v2"]
    assert rows[0]["code"] == "a,b"
    assert rows[0]["metadata"] == {"note": 'line1\r\nline2, "q"'}


def test_columns_missing_from_the_header_are_named_with_header_and_request():
    with pytest.raises(
        CsvFormatError,
        match=r"missing requested field\(s\) active, metadata, created_at\. "
        r"Header seen: ID, Code, Value\. Requested fields: id, code",
    ):
        read("ID,Code,Value\nv1,C,1\n")


def test_row_with_wrong_cell_count_names_stream_and_line():
    text = "ID,Code,Value,Active,Metadata,Creation Date\nv1,C,1,true,,2024-01-01T00:00:00Z\nv2,C\n"
    with pytest.raises(CsvFormatError, match=r"vouchers: line 3 has 2 cells"):
        read(text)


def test_bad_cell_names_stream_line_column_and_value():
    text = "ID,Code,Value,Active,Metadata,Creation Date\nv1,C,abc,true,,2024-01-01T00:00:00Z\n"
    with pytest.raises(
        CsvFormatError, match=r"vouchers: line 2, column `value`: cannot read 'abc'"
    ):
        read(text)


def test_row_cut_mid_way_at_end_of_body_is_a_truncation():
    with pytest.raises(TruncatedCsvError):
        read("ID,Code,Value,Active,Metadata,Creation Date\nv1,C,1,tr")


def test_quoted_cell_cut_at_end_of_body_is_a_truncation():
    with pytest.raises(TruncatedCsvError):
        read('ID,Code,Value,Active,Metadata,Creation Date\nv1,C,1,true,"{""a')


def test_empty_body_is_a_truncation():
    with pytest.raises(TruncatedCsvError):
        read("")


def test_skip_rows_resumes_after_rows_already_emitted():
    text = "id,code,value,active,metadata,created_at\nv1,,,,,\nv2,,,,,\nv3,,,,,\n"
    assert [row["id"] for row in read(text, skip_rows=2)] == ["v3"]


def test_nul_byte_gives_a_clear_error():
    with pytest.raises(CsvFormatError, match="line"):
        read("id,code,value,active,metadata,created_at\nv1,\x00,,,,\n")


def test_huge_cell_gives_a_clear_error_instead_of_exhausting_memory():
    with pytest.raises(CsvFormatError, match="field larger than field limit"):
        read("id,code,value,active,metadata,created_at\nv1," + "x" * 200_000 + ",,,,\n")


EDGE_CELLS: dict[FieldType, list[str]] = {
    FieldType.NUMBER: ["0", "200000", "2000.00", "-5", " 7 ", "1E+3", "0012", "\u0661\u0662", "x"],
    FieldType.INTEGER: ["0", "42", "-3", "42.00", "4.5", "\u0661", "x"],
    FieldType.BOOLEAN: ["true", "false", "TRUE", "t", "0", " yes ", "maybe"],
    FieldType.DATE_TIME: ["2022-03-09T09:16:32.521Z", "2022-03-09T09:16:32.521+00:00",
                          "2022-03-09 09:16:32", "2022-13-09T09:16:32.521Z", "yesterday"],
    FieldType.DATE: ["2022-06-30", "2022-06-30T00:00:00.000Z", "x"],
    FieldType.OBJECT: ['{"a": 1}', "{}", "nope"],
    FieldType.INTEGER_LIST: ["1,2,3", "[0, 6]", "1,a"],
}  # fmt: skip


def _converted(convert, cell):
    try:
        return convert(cell)
    except ValueError as exc:
        return type(exc)


EDGE_TYPES = sorted(EDGE_CELLS, key=lambda t: t.value)


@pytest.mark.parametrize("field_type", EDGE_TYPES)
def test_the_compiled_row_types_every_cell_as_its_converter_does(field_type):
    """The inline common cases of `compile_row` give exactly what CONVERTERS give."""
    convert_row = compile_row(["cell"], [field_type])
    for cell in EDGE_CELLS[field_type]:
        expected = _converted(CONVERTERS[field_type], cell)
        got = _converted(lambda c: convert_row([c])["cell"], cell)
        assert got == expected, cell
        assert type(got) is type(expected), cell


@pytest.mark.parametrize("field_type", EDGE_TYPES)
def test_the_compiled_row_that_reads_null_spellings_types_every_other_cell_the_same(field_type):
    nulls = []
    convert_row = compile_row(["cell"], [field_type], null=lambda: nulls.append(1))
    for cell in EDGE_CELLS[field_type]:
        got = _converted(lambda c: convert_row([c])["cell"], cell)
        assert got == _converted(CONVERTERS[field_type], cell), cell
    assert nulls == []
    assert [convert_row([cell])["cell"] for cell in ("null", "NULL", "")] == [None, None, None]
    assert nulls == [1, 1], "an empty cell is null without being counted"


@pytest.mark.parametrize("field_type", sorted(set(FieldType) - {FieldType.STRING}, key=str))
def test_every_typed_converter_refuses_a_null_spelling_itself(field_type):
    # The spellings are the row function's to read as null, counted: never typed as a value
    # (a metadata `null` would otherwise be kept as the text {"_raw_text": "null"}).
    for cell in ("null", "NULL"):
        with pytest.raises(ValueError):  # noqa: PT011 - any ValueError is the contract
            CONVERTERS[field_type](cell)


def read_counting(text, fields=FIELDS):
    reader = CsvRecordReader("vouchers", TABLES["voucher"], fields)
    return list(reader.records(io.StringIO(text, newline=""))), reader.nulls


def test_null_spellings_in_typed_columns_are_null_and_counted_but_text_in_string_columns():
    header = "ID,Code,Value,Active,Metadata,Creation Date\n"
    rows, nulls = read_counting(
        header
        + "v1,NULL,2000.00,true,{},2024-01-01T00:00:00.000Z\n"  # no null here: the common form
        + "v2,null,null,NULL,null,NULL\n"  # the first null switches this export's form
        + "v3,C,7,null,,2024-01-01T00:00:00.000Z\n"
    )
    assert rows == [
        {"id": "v1", "code": "NULL", "value": Decimal("2000.00"), "active": True,
         "metadata": {}, "created_at": "2024-01-01T00:00:00.000Z"},
        {"id": "v2", "code": "null", "value": None, "active": None, "metadata": None,
         "created_at": None},
        {"id": "v3", "code": "C", "value": 7, "active": None, "metadata": None,
         "created_at": "2024-01-01T00:00:00.000Z"},
    ]  # fmt: skip
    assert nulls == 5


@pytest.mark.parametrize("cell", ["Null", "nil", "None", "n/a", " null"])
def test_any_other_unreadable_cell_after_a_null_still_names_line_column_and_value(cell):
    text = (
        "ID,Code,Value,Active,Metadata,Creation Date\n"
        "v1,C,null,true,,2024-01-01T00:00:00Z\n"
        f"v2,C,{cell},true,,2024-01-01T00:00:00Z\n"
    )
    with pytest.raises(
        CsvFormatError, match=rf"vouchers: line 3, column `value`: cannot read '{cell}' as number"
    ):
        read(text)
