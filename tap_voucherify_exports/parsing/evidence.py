"""Columns mapped by position need evidence: their cells in an export's first rows must fit.

A header cell that matches no field key or label is taken for the field requested at its place
only when every other column sits where requested (parsing/columns.py). That is still a guess:
so before any record of the export leaves, the cells of each such column in the first
`EVIDENCE_ROWS` rows read must look like the field they were taken for. A typed column's cells
must convert (a date like a date, a number like a number, `metadata` as a JSON object); an id
column's must begin with the field's Voucherify prefix (`camp_`, `cust_`, fields.py's
`ID_PREFIXES`), or, for a user's own source id, hold no space; an empty cell or a null spelling
fits any column but `id`. Free text cannot be checked: the mapping's warning names those
columns, and what was checked of the others. A cell that does not
fit fails the export before its first record, naming the column, the line, the value, the
header and the requested fields. The setting `trust_column_order` skips the check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tap_voucherify_exports.errors import LINE, CsvFormatError
from tap_voucherify_exports.fields import Field, FieldType
from tap_voucherify_exports.parsing.columns import (
    ColumnMap,
    Resolution,
    context,
    preview,
    shorten,
)
from tap_voucherify_exports.parsing.converters import CONVERTERS, NULL_SPELLINGS, RAW_TEXT_KEY

# Rows whose cells are checked: enough to see a column's kind, few enough that holding their
# records back until the check passes costs nothing.
EVIDENCE_ROWS = 100
_A = {FieldType.INTEGER: "an", FieldType.OBJECT: "an", FieldType.INTEGER_LIST: "an"}

Fits = Callable[[str], bool]


def _converts(field_type: FieldType) -> Fits:
    convert = CONVERTERS[field_type]

    def fits(cell: str) -> bool:
        try:
            value = convert(cell)
        except (ValueError, TypeError):
            return False
        return not (field_type is FieldType.OBJECT and RAW_TEXT_KEY in value and len(value) == 1)

    return fits


def _an_id(field: Field) -> Fits:
    prefixes = field.id_prefixes

    def fits(cell: str) -> bool:
        return cell.startswith(prefixes) and not any(char.isspace() for char in cell)

    return fits


def expectation(field: Field) -> tuple[str, Fits] | None:
    """What a cell of `field` must look like, and the test; None for free text."""
    if field.type is not FieldType.STRING:
        what = field.type.value if field.type is not FieldType.OBJECT else "JSON object"
        return f"{_A.get(field.type, 'a')} {what}", _converts(field.type)
    if field.id_prefixes:
        return f"an id starting with {' or '.join(field.id_prefixes)}", _an_id(field)
    if field.is_identifier:
        return "an id (no spaces)", _an_id(field)
    return None


def check_positions(
    stream_name: str,
    column_map: ColumnMap,
    rows: Sequence[tuple[list[str], int]],
    requested: Sequence[str],
) -> None:
    """Raise `CsvFormatError` at the first cell of a column mapped by position that does not
    fit its field, in `rows` ((cells, line) of the first rows read, each as wide as the header).
    """
    header = [column.cell for column in column_map.columns]
    for column in column_map.columns:
        if column.how is not Resolution.POSITION:
            continue
        expected = expectation(column.field)
        if expected is None:
            continue
        what, fits = expected
        for row, line in rows:
            cell = row[column.index]
            empty = cell == "" or cell in NULL_SPELLINGS
            if (empty and column.field.key != "id") or (not empty and fits(cell)):
                continue
            raise CsvFormatError(
                f"{stream_name}: column {column.index + 1} ({column.cell!r}) matches no field key "
                f"or label and was taken by position for `{column.field.key}`, but line {LINE} "
                f"holds {preview(cell)} there, not {what}: the columns cannot be told apart. "
                f"{context(header, requested)} Set trust_column_order to read them by position "
                "anyway.",
                line,
            )


def evidence_note(column_map: ColumnMap, *, trusted: bool) -> str:
    """What was checked of the columns mapped by position, for the mapping's one warning."""
    positioned = [c for c in column_map.columns if c.how is Resolution.POSITION]
    if not positioned:
        return ""
    if trusted:
        return "trust_column_order is on: their cells are not checked."
    checked = [
        f"{c.field.key} ({expected[0]})"
        for c in positioned
        if (expected := expectation(c.field)) is not None
    ]
    free = [c.field.key for c in positioned if expectation(c.field) is None]
    parts = []
    if checked:
        parts.append(
            f"Their cells in the first rows (up to {EVIDENCE_ROWS}) fit {shorten(checked)}."
        )
    if free:
        parts.append(f"Free text, which no check can tell apart: {shorten(free)}.")
    return " ".join(parts)
