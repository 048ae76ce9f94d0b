"""Cell and row converters: CSV text → the schema's JSON-ready values, exact.

One converter per field type (`CONVERTERS`), and `compile_row`, which builds one function per
export that converts a whole row with the common cases inline.

Null spellings: an empty cell is null in every column. In a typed column (anything but a
string) the cells `null` and `NULL` are null too: no source shows how Voucherify writes a
missing value, and a converter cannot read either spelling anyway. In a string column they
stay text: a voucher code, a name or a metadata value may well be "NULL". The converters
themselves reject both spellings (each raises ValueError); the row function compiled with
`null=` turns them into null and calls `null()` once per cell (parsing/records.py counts them).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from tap_voucherify_exports.fields import FieldType

# A `metadata` cell that is not a JSON object is kept, verbatim, under this key (docs/types.md).
RAW_TEXT_KEY = "_raw_text"
# Cells that are null in a typed (non-string) column besides the empty cell (docstring above).
NULL_SPELLINGS = frozenset({"null", "NULL"})
_UTC = dt.timezone.utc
_CANONICAL_LENGTH = len("2022-03-09T09:16:32.521Z")
_decode_json = msgspec.json.Decoder().decode
_BOOLEANS = {"true": True, "false": False, "t": True, "f": False, "yes": True, "no": False,
             "1": True, "0": False}  # fmt: skip


def _integer(cell: str) -> int:
    try:
        return int(cell)
    except ValueError:
        number = _decimal(cell)  # "12.00" is an integer written as an amount
        if number != number.to_integral_value():
            raise ValueError("not a whole number") from None
        return int(number)


def _number(cell: str) -> int | Decimal:
    # Amounts pass through exactly as exported, never rescaled: no unit is assumed, since the
    # only real sample ("2000.00") and the docs' whole-number examples disagree (docs/types.md).
    # Decimal keeps "2000.00" as written; a plain whole number ("200000", the common case) is an
    # int: exact too, and msgspec encodes an int some 15 times faster than a Decimal
    # (benchmarks/converters.py).
    if cell.isdigit() and cell.isascii():
        return int(cell)
    return _decimal(cell)


def _decimal(cell: str) -> Decimal:
    try:
        number = Decimal(cell)  # Decimal ignores surrounding whitespace itself
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


def _boolean(cell: str) -> bool:
    exact = _BOOLEANS.get(cell)  # "true"/"false" as exported: no strip and lower per cell
    if exact is not None:
        return exact
    try:
        return _BOOLEANS[cell.strip().lower()]
    except KeyError:
        raise ValueError("not a boolean") from None


def _date_time(cell: str) -> str:
    if len(cell) == _CANONICAL_LENGTH and cell[-1] == "Z":
        # Voucherify's own form, "2022-03-09T09:16:32.521Z", is already RFC 3339 UTC: validate it
        # and keep it (formatting a datetime back costs more than the parse).
        dt.datetime.fromisoformat(cell)
        return cell
    parsed = dt.datetime.fromisoformat(cell.strip())
    # Voucherify: "exported date and times are always provided in the UTC time zone".
    if parsed.tzinfo is None:
        return parsed.isoformat() + "+00:00"
    return parsed.astimezone(_UTC).isoformat()


def _date(cell: str) -> str:
    text = cell.strip()
    if len(text) == len("2022-06-30"):
        return dt.date.fromisoformat(text).isoformat()
    return _date_time(text)[:10]


def _object(cell: str) -> dict[str, Any]:
    try:
        value = _decode_json(cell)
    except msgspec.DecodeError:
        try:
            # strict=False: a raw newline inside a JSON string is still the text the user stored.
            value = json.loads(cell, strict=False)
        except ValueError:
            value = None
    if isinstance(value, dict):
        return value
    if cell in NULL_SPELLINGS:
        raise ValueError("a null spelling")  # null, not text: the row function's to decide
    return {RAW_TEXT_KEY: cell}


def _integer_list(cell: str) -> list[int]:
    try:
        return list(map(int, cell.split(",")))  # the documented "1,2,3"
    except ValueError:
        text = cell.strip().strip("[]").replace(";", ",")
        return [int(part) for part in text.split(",") if part.strip()]


CONVERTERS: dict[FieldType, Callable[[str], Any]] = {
    FieldType.STRING: str,
    FieldType.INTEGER: _integer,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATE_TIME: _date_time,
    FieldType.OBJECT: _object,
    FieldType.INTEGER_LIST: _integer_list,
}


RowConverter = Callable[[list[str]], dict[str, Any]]


# The common case of a type, inline in the generated row function (no call), else its converter
# (`full`): each form must give exactly what CONVERTERS gives for every cell (test_records.py
# checks them on every cell of an export and on the edge cases). `c` is the cell, never empty.
_INLINE_FORMS: dict[FieldType, str] = {
    FieldType.NUMBER: "int({c}) if {c}.isdigit() and {c}.isascii() else {full}({c})",
    FieldType.INTEGER: "int({c}) if {c}.isdigit() and {c}.isascii() else {full}({c})",
    FieldType.BOOLEAN: 'True if {c} == "true" else False if {c} == "false" else {full}({c})',
    FieldType.DATE_TIME: (
        f'{{c}} if len({{c}}) == {_CANONICAL_LENGTH} and {{c}}[-1] == "Z" and fromiso({{c}}) '
        "else {full}({c})"
    ),
}


def compile_row(
    columns: Sequence[str],
    types: Sequence[FieldType],
    indexes: Sequence[int] | None = None,
    *,
    null: Callable[[], None] | None = None,
) -> RowConverter:
    """Build one function that turns a CSV row into a record, straight-line code per column.

    Generated once per export from the field table: strings become `row[i] or None`, every
    other type its converter on non-empty cells (the common case inline, `_INLINE_FORMS`). No
    per-cell loop, lookup or branch on type is left at run time. `columns[n]` is read from
    `row[indexes[n]]` (default: `row[n]`).

    Without `null`, a typed cell spelled `null`/`NULL` raises ValueError like any unreadable
    cell, and nothing is added to the common case. With it, such a cell is null and `null()` is
    called for it: the form parsing/records.py switches to once a row of an export needs it.
    """
    namespace: dict[str, Any] = {"fromiso": dt.datetime.fromisoformat}
    if null is not None:
        namespace["null_cells"] = frozenset({"", *NULL_SPELLINGS})
        namespace["null"] = null
    items = []
    positions = range(len(columns)) if indexes is None else indexes
    for index, key, field_type in zip(positions, columns, types, strict=True):
        if field_type is FieldType.STRING:
            items.append(f"{key!r}: row[{index}] or None")
            continue
        full, cell = f"convert_{index}", f"c_{index}"
        namespace[full] = CONVERTERS[field_type]
        form = _INLINE_FORMS.get(field_type, "{full}({c})").format(c=cell, full=full)
        if null is None:
            items.append(f"{key!r}: ({form}) if ({cell} := row[{index}]) else None")
        else:
            items.append(
                f"{key!r}: ({form}) if ({cell} := row[{index}]) not in null_cells "
                f"else (null() if {cell} else None)"
            )
    source = "def convert_row(row):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<records.compile_row>", "exec"), namespace)  # noqa: S102 - keys from fields.py
    convert_row: RowConverter = namespace["convert_row"]
    return convert_row
