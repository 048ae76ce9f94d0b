"""CSV text + field table → typed records, one converter per column chosen once per export.

Which column holds which field is parsing/columns.py's decision, made once from the header.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn, TextIO

from tap_voucherify_exports.errors import LINE, CsvFormatError, TruncatedCsvError
from tap_voucherify_exports.fields import ExportedObjectTable
from tap_voucherify_exports.parsing.columns import (
    Column,
    ColumnMap,
    Resolution,
    map_header,
    preview,
    shorten,
)
from tap_voucherify_exports.parsing.converters import (
    CONVERTERS,
    NULL_SPELLINGS,
    RowConverter,
    compile_row,
)
from tap_voucherify_exports.parsing.evidence import EVIDENCE_ROWS, check_positions, evidence_note
from tap_voucherify_exports.parsing.window_rows import CANONICAL_CHARS, WindowBounds

LOGGER = logging.getLogger("tap_voucherify_exports")
# The property a list endpoint names its items by (`id`: vouchers.json, customers.json,
# redemptions.json), kept per row of a window whose count is checked (jobs/counts.py).
KEY_PROPERTY = "id"

# Characters of CSV text read at a time (see `_LineReader`).
BLOCK_CHARS = 1 << 16


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


def row_converter(column_map: ColumnMap, null: Callable[[], None] | None = None) -> RowConverter:
    """The row → record function for one export's column mapping; with `null`, the form that
    reads `null`/`NULL` in typed columns as null, calling `null()` for each (converters.py)."""
    direct = column_map.direct
    convert = compile_row(
        [column.field.property_name for column in direct],
        [column.field.type for column in direct],
        [column.index for column in direct],
        null=null,
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


def count_lines(data: bytes) -> int:
    """The physical lines `data` ends, as csv.reader counts them over `newline=""` text:
    "\n", "\r\n" and a lone "\r" each end one."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


class _Replay:
    """Rows already read, as `(cells, line)`, read again like a csv reader (`line_num`)."""

    def __init__(self, rows: list[tuple[list[str], int]]) -> None:
        self._rows = rows
        self.line_num = 0

    def __iter__(self) -> Iterator[list[str]]:
        for row, line in self._rows:
            self.line_num = line
            yield row


class _Ending:
    """The end of a block of text (whether its last row was cut off), as `_LineReader.last`."""

    def __init__(self, text: str) -> None:
        self.last = text[-2:]


class CsvRecordReader:
    """Reads one export's CSV into typed records for the requested fields."""

    def __init__(
        self,
        stream_name: str,
        table: ExportedObjectTable,
        fields: Sequence[str],
        warn: Callable[[str], None] = _log_warning,
        *,
        trust_order: bool = False,
        bounds: WindowBounds | None = None,
        keep_keys: int = 0,
    ) -> None:
        self.stream_name = stream_name
        self.table = table
        self.fields = tuple(fields)
        self.warn = warn
        self.trust_order = trust_order  # the setting trust_column_order (parsing/evidence.py)
        self.column_map: ColumnMap | None = None  # set once the header is read
        self._convert_row: RowConverter | None = None
        self._width = 0  # the header's cells
        # Typed cells spelled `null`/`NULL` read as null so far, in every file this reader read.
        self.nulls = 0
        # The window the export was asked for: rows outside it are dropped and counted
        # (parsing/window_rows.py), in every file this reader read.
        self.bounds = bounds
        self.outside = 0
        self._cursor_at: int | None = None  # the cursor's column, when the header has it
        # The `id` cells of the rows handed on, in every file this reader read, while there are
        # at most `keep_keys` of them (None past that, or when not kept): a short window's
        # keys are compared with the list endpoint's (jobs/counts.py).
        self.keep_keys = keep_keys
        self.keys: list[str] | None = [] if keep_keys else None
        self._key_at: int | None = None  # the `id` column, when keys are kept

    def records(self, text: TextIO, *, skip_rows: int = 0) -> Iterator[dict[str, Any]]:
        """Yield typed records from CSV text (opened with newline=''); skip rows already emitted.

        When a column is mapped by position, the first `EVIDENCE_ROWS` rows are read and their
        cells checked (parsing/evidence.py) before the first record is yielded.
        """
        tracker = _LineReader(text, max_line_chars(len(self.fields)))
        reader = csv.reader(tracker, strict=True)
        with self._read_errors(reader, tracker):
            self._read_header(reader)
            first: list[tuple[list[str], int]] = []
            if self.needs_evidence:
                first = self._first_rows(reader, tracker)
                self.check_evidence(first)
            self.announce()
            if first:
                yield from self._typed(_Replay(first), tracker, skip_rows)
                skip_rows = max(0, skip_rows - len(first))
            yield from self._typed(reader, tracker, skip_rows)

    def header(self, text: str) -> None:
        """Map the columns of a header line (output/workers.py): the errors `records` raises
        for it; no warning yet (`announce`)."""
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        with self._read_errors(reader, _Ending(text)):
            self._read_header(reader)

    def _read_header(self, reader: Any) -> None:
        header = next(reader, None)
        if header is None:
            raise TruncatedCsvError(f"{self.stream_name}: the export body is empty (no header).")
        column_map = map_header(
            self.stream_name, self.table, self.fields, header, trust_order=self.trust_order
        )
        self.use_columns(column_map, len(header))

    @property
    def needs_evidence(self) -> bool:
        """Whether a column is mapped by position and its cells must be checked first."""
        assert self.column_map is not None
        return not self.trust_order and any(
            column.how is Resolution.POSITION for column in self.column_map.columns
        )

    def check_evidence(self, rows: Sequence[tuple[list[str], int]]) -> None:
        """Check the columns mapped by position against `rows`, the first rows read ((cells,
        line) each); raise `CsvFormatError` naming the first cell that does not fit."""
        assert self.column_map is not None
        check_positions(self.stream_name, self.column_map, rows, self.fields)

    def announce(self) -> None:
        """Warn about the mapping (once per run, in the session), with what was checked."""
        assert self.column_map is not None
        warning = self.column_map.warning
        note = evidence_note(self.column_map, trusted=self.trust_order)
        if note:
            warning = f"{warning} {note}"
            self.column_map = dataclasses.replace(self.column_map, warning=warning)
        if warning:
            self.warn(warning)

    def evidence_rows(self, data: bytes) -> list[tuple[list[str], int]]:
        """The first `EVIDENCE_ROWS` rows of whole records cut from the body after its header
        (output/workers.py), with their lines counted from `data`'s start; the errors of
        `piece_records` reading them."""
        text = self._decoded(data)
        ending = _Ending(text)
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        with self._read_errors(reader, ending):
            return self._first_rows(reader, ending)

    def _first_rows(
        self, reader: Any, ending: _Ending | _LineReader
    ) -> list[tuple[list[str], int]]:
        """Up to `EVIDENCE_ROWS` rows (blank lines skipped) with their lines; a row of the wrong
        width fails here as `_typed` would fail on it."""
        rows: list[tuple[list[str], int]] = []
        width = self._width
        for row in itertools.islice(reader, EVIDENCE_ROWS * 2):  # blank lines count too
            if len(row) != width:
                if not row:
                    continue
                self._wrong_width(row, width, reader.line_num, ending.last)
            rows.append((row, reader.line_num))
            if len(rows) == EVIDENCE_ROWS:
                break
        return rows

    @property
    def width(self) -> int:
        """The cells of the header read last (0 before one is read)."""
        return self._width

    def use_columns(self, column_map: ColumnMap, width: int) -> None:
        """Read rows by `column_map`, the mapping of a header of `width` cells."""
        self.column_map = column_map
        self._width = width
        self._convert_row = row_converter(column_map)
        bounds = self.bounds
        self._cursor_at = next(
            (
                column.index
                for column in column_map.direct
                if bounds is not None and column.field.property_name == bounds.cursor
            ),
            None,
        )
        self._key_at = next(
            (c.index for c in column_map.direct if c.field.property_name == KEY_PROPERTY), None
        )
        if self._key_at is None:
            self.keys = None  # no `id` column: nothing to compare

    def _null(self) -> None:
        self.nulls += 1

    def piece_records(self, data: bytes) -> list[dict[str, Any]]:
        """The records of whole rows cut from the body after its header (output/workers.py), as
        downloaded. Same records and errors as `records` reading them, except that an error's
        line counts from the piece's start (`CsvFormatError.moved` puts it in the file)."""
        text = self._decoded(data)
        ending = _Ending(text)
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        with self._read_errors(reader, ending):
            return list(self._typed(reader, ending, 0))

    def _decoded(self, data: bytes) -> str:
        """Whole records cut from the body as text; bad UTF-8 or a NUL byte fail naming the
        line, counted from `data`'s start."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CsvFormatError(
                f"{self.stream_name}: the export is not valid UTF-8 near line {LINE}: {exc.reason}",
                count_lines(data[: exc.start]) + 1,
            ) from None
        nul = text.find("\x00")
        if nul >= 0:
            line = count_lines(text[:nul].encode()) + 1
            raise CsvFormatError(f"{self.stream_name}: line {LINE} contains a NUL byte.", line)
        return text

    def _typed(
        self, reader: Any, ending: _Ending | _LineReader, skip_rows: int
    ) -> Iterator[dict[str, Any]]:
        """The rows `reader` parses, typed; bad rows raise naming their line. A row whose
        cursor lies outside `bounds` is dropped and counted in `outside` (`skip_rows` counts
        it: it was read)."""
        assert self.column_map is not None
        assert self._convert_row is not None
        convert_row, direct = self._convert_row, self.column_map.direct
        width = self._width
        rows_read = 0
        at, bounds = self._cursor_at, self.bounds
        low, high = (bounds.low, bounds.high) if bounds is not None else ("", "")
        keys, key_at, keep = self.keys, self._key_at or 0, self.keep_keys
        for row in reader:
            if len(row) != width:
                if not row:
                    continue
                self._wrong_width(row, width, reader.line_num, ending.last)
            rows_read += 1
            if rows_read <= skip_rows:
                continue
            if at is not None:
                # Voucherify's own form compares as text (two comparisons a row); any other
                # cell is parsed.
                cell = row[at]
                if not (low <= cell <= high and len(cell) == CANONICAL_CHARS and cell[-1] == "Z"):
                    assert bounds is not None
                    if not bounds.inside(cell):
                        self.outside += 1
                        continue
            if keys is not None:
                keys.append(row[key_at])
                if len(keys) > keep:  # a window too large to compare keys of: stop keeping
                    self.keys = keys = None
            try:
                record = convert_row(row)
            except (ValueError, TypeError):
                record = self._slow_row(row, direct, reader.line_num)
                convert_row = self._convert_row
            yield record

    def _slow_row(self, row: list[str], columns: Sequence[Column], line: int) -> dict[str, Any]:
        """A row the common form could not type: it may hold a null spelling, so this export's
        rows are read with the form that reads them as null from now on (converters.py); a cell
        that form cannot type either fails, naming it."""
        assert self.column_map is not None
        self._convert_row = row_converter(self.column_map, self._null)
        try:
            return self._convert_row(row)
        except (ValueError, TypeError):
            self._bad_cell(row, columns, line)

    @contextlib.contextmanager
    def _read_errors(self, reader: Any, ending: _Ending | _LineReader) -> Iterator[None]:
        """Turns what the csv module and `_LineReader` raise into errors naming the line."""
        name = self.stream_name
        try:
            yield
        except csv.Error as exc:
            error = CsvFormatError if ending.last.endswith(("\n", "\r")) else TruncatedCsvError
            raise error(f"{name}: malformed CSV at line {LINE}: {exc}", reader.line_num) from None
        except _LineTooLongError:
            assert isinstance(ending, _LineReader)
            raise CsvFormatError(
                f"{name}: line {LINE} is longer than {ending.max_chars} characters, more than "
                f"{len(self.fields)} cells of at most {csv.field_size_limit()} characters can "
                "take: not a valid export.",
                reader.line_num + 1,
            ) from None
        except _NulByteError:
            raise CsvFormatError(
                f"{name}: line {LINE} contains a NUL byte.", reader.line_num + 1
            ) from None
        except UnicodeDecodeError as exc:
            raise CsvFormatError(
                f"{name}: the export is not valid UTF-8 near line {LINE}: {exc.reason}",
                reader.line_num + 1,
            ) from None

    def _wrong_width(self, row: list[str], width: int, line: int, last_line: str) -> None:
        message = (
            f"{self.stream_name}: line {LINE} has {len(row)} cells but the header has {width} "
            f"columns ({shorten(self.fields)})."
        )
        if not last_line.endswith(("\n", "\r")):
            raise TruncatedCsvError(
                message + " The body ended mid-row: the download was cut short.", line
            )
        raise CsvFormatError(message, line)

    def _bad_cell(self, row: list[str], columns: Sequence[Column], line: int) -> NoReturn:
        for column in columns:
            cell = row[column.index]
            try:
                if cell and cell not in NULL_SPELLINGS:  # null, or text in a string column
                    CONVERTERS[column.field.type](cell)
            except (ValueError, TypeError) as exc:
                raise CsvFormatError(
                    f"{self.stream_name}: line {LINE}, column `{column.field.key}`: cannot read "
                    f"{preview(cell)} as {column.field.type.value} ({exc}).",
                    line,
                ) from None
        raise CsvFormatError(f"{self.stream_name}: line {LINE}: unreadable row.", line)
