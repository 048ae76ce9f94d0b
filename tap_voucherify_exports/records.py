"""CSV text + field table → typed records, one converter per column chosen once per export.

Which column holds which field is columns.py's decision, made once from the header.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

import msgspec

from tap_voucherify_exports.columns import Column, ColumnMap, map_header, shorten
from tap_voucherify_exports.errors import CsvFormatError, TruncatedCsvError
from tap_voucherify_exports.fields import ExportedObjectTable, FieldType

LOGGER = logging.getLogger("tap_voucherify_exports")

# A `metadata` cell that is not a JSON object is kept, verbatim, under this key (see README).
RAW_TEXT_KEY = "_raw_text"
CELL_PREVIEW_CHARS = 80
# Characters of CSV text read at a time (see `_LineReader`).
BLOCK_CHARS = 1 << 16
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
    # Decimal keeps "2000.00" exactly as exported: never rescaled. A plain whole number
    # ("200000", minor units, the common case) is an int: exact too, and msgspec encodes an int
    # some 15 times faster than a Decimal (benchmarks/converters.py).
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
    return value if isinstance(value, dict) else {RAW_TEXT_KEY: cell}


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
    columns: Sequence[str], types: Sequence[FieldType], indexes: Sequence[int] | None = None
) -> RowConverter:
    """Build one function that turns a CSV row into a record, straight-line code per column.

    Generated once per export from the field table: strings become `row[i] or None`, every
    other type its converter on non-empty cells (the common case inline, `_INLINE_FORMS`). No
    per-cell loop, lookup or branch on type is left at run time. `columns[n]` is read from
    `row[indexes[n]]` (default: `row[n]`).
    """
    namespace: dict[str, Any] = {"fromiso": dt.datetime.fromisoformat}
    items = []
    positions = range(len(columns)) if indexes is None else indexes
    for index, key, field_type in zip(positions, columns, types, strict=True):
        if field_type is FieldType.STRING:
            items.append(f"{key!r}: row[{index}] or None")
            continue
        full, cell = f"convert_{index}", f"c_{index}"
        namespace[full] = CONVERTERS[field_type]
        form = _INLINE_FORMS.get(field_type, "{full}({c})").format(c=cell, full=full)
        items.append(f"{key!r}: ({form}) if ({cell} := row[{index}]) else None")
    source = "def convert_row(row):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<records.compile_row>", "exec"), namespace)  # noqa: S102 - keys from fields.py
    convert_row: RowConverter = namespace["convert_row"]
    return convert_row


def _preview(cell: str) -> str:
    return repr(cell if len(cell) <= CELL_PREVIEW_CHARS else cell[:CELL_PREVIEW_CHARS] + "…")


class _NulByteError(Exception):
    """A NUL byte in the body: no database text column accepts one."""


class _LineTooLongError(Exception):
    """A physical line longer than any valid export line can be."""


def max_line_chars(width: int) -> int:
    """The longest physical CSV line a valid export of `width` columns can have.

    The csv module refuses any cell over `csv.field_size_limit()` characters, and a quoted cell
    at most doubles in length (every `"` written as `""`) plus its quotes and a comma; a longer
    line could never be read anyway, and reading it whole first would cost memory in proportion
    to whatever the server sends.
    """
    return max(1, width) * (2 * csv.field_size_limit() + 3) + 2


class _LineReader:
    """Reads text lines with a length cap, remembering the last one (to spot a body cut mid-row)
    and refusing NUL bytes.

    Reads `BLOCK_CHARS` at a time and hands csv.reader each block's lines through C iterators
    (`io.StringIO` lines, chained): no Python code runs per line, which a `readline` loop costs
    about 1 µs per line. A block is cut after its last "\n" (the rest waits for the next one),
    so a "\r\n" is never split; `io.StringIO(newline="")` splits lines exactly as the body's
    `TextIOWrapper(newline="")` would.
    """

    def __init__(self, text: TextIO, max_chars: int) -> None:
        self._text = text
        self.max_chars = max_chars
        self.last = "\n"  # the end of the text handed on so far

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[io.StringIO]:
        read, carry = self._text.read, ""
        while block := read(BLOCK_CHARS):
            nul = block.find("\x00")
            if nul >= 0:
                # The lines before the NUL's line first: the error then names that line.
                yield self._lines(carry + block[: block.rfind("\n", 0, nul) + 1])
                raise _NulByteError
            cut = block.rfind("\n") + 1
            if cut == 0:
                carry += block
                if len(carry) > self.max_chars:
                    raise _LineTooLongError
                continue
            if carry and len(carry) + block.find("\n") >= self.max_chars:
                raise _LineTooLongError  # the line `carry` began ends in this block, too long
            yield self._lines(carry + block[:cut])
            carry = block[cut:]
        if carry:
            yield self._lines(carry)

    def _lines(self, text: str) -> io.StringIO:
        if text:
            self.last = text[-2:]
        return io.StringIO(text, newline="")


def row_converter(column_map: ColumnMap) -> RowConverter:
    """The row → record function for one export's column mapping."""
    direct = column_map.direct
    convert = compile_row(
        [column.field.property_name for column in direct],
        [column.field.type for column in direct],
        [column.index for column in direct],
    )
    folded = tuple((column.index, column.metadata_key) for column in column_map.folded)
    if not folded:
        return convert
    name = column_map.folded[0].field.property_name

    def convert_with_metadata(row: list[str]) -> dict[str, Any]:
        # `metadata` split into one column per key: the object again, its values the cell
        # text; keys with an empty cell are left out, and no key at all is null (like an
        # empty JSON cell).
        record = convert(row)
        record[name] = {key: row[index] for index, key in folded if row[index]} or None
        return record

    return convert_with_metadata


def _log_warning(message: str) -> None:
    LOGGER.warning("%s", message)


class CsvRecordReader:
    """Reads one export's CSV into typed records for the requested fields."""

    def __init__(
        self,
        stream_name: str,
        table: ExportedObjectTable,
        fields: Sequence[str],
        warn: Callable[[str], None] = _log_warning,
    ) -> None:
        self.stream_name = stream_name
        self.table = table
        self.fields = tuple(fields)
        self.warn = warn
        self.column_map: ColumnMap | None = None  # set once the header is read

    def records(self, text: TextIO, *, skip_rows: int = 0) -> Iterator[dict[str, Any]]:
        """Yield typed records from CSV text (opened with newline=''); skip rows already emitted."""
        tracker = _LineReader(text, max_line_chars(len(self.fields)))
        reader = csv.reader(tracker, strict=True)
        rows_read = 0
        try:
            header = next(reader, None)
            if header is None:
                raise TruncatedCsvError(
                    f"{self.stream_name}: the export body is empty (no header)."
                )
            self.column_map = column_map = map_header(
                self.stream_name, self.table, self.fields, header
            )
            if column_map.warning:
                self.warn(column_map.warning)
            convert_row = row_converter(column_map)
            width = len(header)
            for row in reader:
                if len(row) != width:
                    if not row:
                        continue
                    self._wrong_width(row, width, reader.line_num, tracker.last)
                rows_read += 1
                if rows_read <= skip_rows:
                    continue
                try:
                    yield convert_row(row)
                except (ValueError, TypeError):
                    self._bad_cell(row, column_map.direct, reader.line_num)
        except csv.Error as exc:
            error = CsvFormatError if tracker.last.endswith(("\n", "\r")) else TruncatedCsvError
            raise error(
                f"{self.stream_name}: malformed CSV at line {reader.line_num}: {exc}"
            ) from None
        except _LineTooLongError:
            raise CsvFormatError(
                f"{self.stream_name}: line {reader.line_num + 1} is longer than "
                f"{tracker.max_chars} characters, more than {len(self.fields)} cells of at most "
                f"{csv.field_size_limit()} characters can take: not a valid export."
            ) from None
        except _NulByteError:
            raise CsvFormatError(
                f"{self.stream_name}: line {reader.line_num + 1} contains a NUL byte."
            ) from None
        except UnicodeDecodeError as exc:
            raise CsvFormatError(
                f"{self.stream_name}: the export is not valid UTF-8 near line "
                f"{reader.line_num + 1}: {exc.reason}"
            ) from None

    def _wrong_width(self, row: list[str], width: int, line: int, last_line: str) -> None:
        message = (
            f"{self.stream_name}: line {line} has {len(row)} cells but the header has {width} "
            f"columns ({shorten(self.fields)})."
        )
        if not last_line.endswith(("\n", "\r")):
            raise TruncatedCsvError(
                message + " The body ended mid-row: the download was cut short."
            )
        raise CsvFormatError(message)

    def _bad_cell(self, row: list[str], columns: Sequence[Column], line: int) -> None:
        for column in columns:
            cell = row[column.index]
            try:
                if cell:
                    CONVERTERS[column.field.type](cell)
            except (ValueError, TypeError) as exc:
                raise CsvFormatError(
                    f"{self.stream_name}: line {line}, column `{column.field.key}`: cannot read "
                    f"{_preview(cell)} as {column.field.type.value} ({exc})."
                ) from None
        raise CsvFormatError(f"{self.stream_name}: line {line}: unreadable row.")  # unreachable
