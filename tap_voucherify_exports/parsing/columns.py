"""CSV header → columns: which column holds which requested field, decided once per export.

Voucherify documents that "these fields define the headers in the CSV file" but never promises
the columns come in the requested order, and writes human-readable labels whose exact text is
confirmed for four voucher fields only (fields.py). So every header cell is resolved to a field
by its key or its label, compared through `fields.normalised`, and columns are mapped by name
whatever their order. Position is used only as a guarded fallback; anything else fails before
the export's first row, naming the header and the requested fields. A reordered header, or two
string columns swapped, is therefore read correctly, and never silently read wrong.

A `metadata` field that comes back as one column per metadata key (`Metadata Color`,
`metadata.color`, or the bare key `color` when every other requested field is in the header)
instead of one JSON column is folded back into the `metadata` object.
Only the mapping lives here; turning rows into records is parsing/records.py's.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tap_voucherify_exports.errors import CsvFormatError
from tap_voucherify_exports.fields import (
    METADATA_KEY,
    METADATA_PREFIX,
    ExportedObjectTable,
    Field,
    normalised,
)

# A header cell naming one metadata key: "Metadata Color", "metadata.color", "Metadata: color".
# Inferred: no source shows how Voucherify writes a metadata key's column.
_METADATA_CELL = re.compile(r"^metadata\s*[\s._:/-]\s*(\S.*)$", re.IGNORECASE)
LIST_MOST = 40
CELL_PREVIEW_CHARS = 80


class Resolution(str, enum.Enum):
    """How one header cell was matched to a field."""

    KEY = "key"  # the cell is the field key (`campaign_id`, `metadata.region`)
    LABEL = "label"  # the cell is the field's label in fields.py (`Campaign ID`)
    POSITION = "position"  # unresolved; taken to be the field requested at its position
    METADATA_KEY = "metadata key"  # one key of a `metadata` split into per-key columns


@dataclass(frozen=True)
class Column:
    """One header cell and the field it holds."""

    index: int
    cell: str  # the header text as Voucherify wrote it
    field: Field  # for a METADATA_KEY column: the `metadata` field it folds into
    how: Resolution
    metadata_key: str = ""  # the key inside `metadata`, for a METADATA_KEY column


@dataclass(frozen=True)
class ColumnMap:
    """The mapping of one export's header, in header order."""

    columns: tuple[Column, ...]
    warning: str = ""  # set when unresolved cells were mapped by position

    @property
    def direct(self) -> tuple[Column, ...]:
        """Columns that are a field of their own (every column but folded metadata keys)."""
        return tuple(c for c in self.columns if c.how is not Resolution.METADATA_KEY)

    @property
    def folded(self) -> tuple[Column, ...]:
        """Columns folded into the `metadata` object."""
        return tuple(c for c in self.columns if c.how is Resolution.METADATA_KEY)


def shorten(items: Sequence[str], most: int = LIST_MOST) -> str:
    """A list for an error message, capped: a hostile header may have 10,000 columns."""
    shown = ", ".join(items[:most])
    return shown if len(items) <= most else f"{shown}, … ({len(items) - most} more)"


def preview(cell: str) -> str:
    """A cell for an error message, capped: a cell may be 100,000 characters long."""
    return repr(cell if len(cell) <= CELL_PREVIEW_CHARS else cell[:CELL_PREVIEW_CHARS] + "…")


class _Names:
    """Header text → field, over one table; a name two fields share resolves to neither."""

    def __init__(self, table: ExportedObjectTable) -> None:
        self.exact = {field.key: field for field in table.fields}
        self.by_key: dict[str, Field | None] = {}
        self.by_label: dict[str, Field | None] = {}
        for field in table.fields:
            for names, text in ((self.by_key, field.key), (self.by_label, field.label)):
                name = normalised(text)
                names[name] = field if names.get(name, field) is field else None

    def resolve(self, cell: str) -> tuple[Field, Resolution] | None:
        """The field a header cell names, and whether by key or by label; None if none."""
        if cell in self.exact:
            return self.exact[cell], Resolution.KEY
        name = normalised(cell)
        if field := self.by_label.get(name):
            return field, Resolution.LABEL
        if field := self.by_key.get(name):
            return field, Resolution.KEY
        return None


def map_header(
    stream_name: str,
    table: ExportedObjectTable,
    requested: Sequence[str],
    header: Sequence[str],
    *,
    trust_order: bool = False,
) -> ColumnMap:
    """Map each header cell to one of the `requested` field keys; raise `CsvFormatError`.

    A header none of whose cells resolves is mapped by position only with `trust_order` (the
    setting trust_column_order); otherwise it fails.
    """
    cells = [cell.lstrip("\ufeff").strip() for cell in header]
    wanted = set(requested)
    names = _Names(table)
    resolved = [names.resolve(cell) for cell in cells]
    metadata_split = METADATA_KEY in wanted and not any(
        hit and hit[0].key == METADATA_KEY for hit in resolved
    )
    columns: list[Column | None] = []
    claimed: dict[str, int] = {}
    for index, (cell, hit) in enumerate(zip(cells, resolved, strict=True)):
        if hit is not None and hit[0].key not in claimed:
            field, how = hit
            # An unrequested `metadata.<key>` field, with `metadata` split: one of its keys.
            folds = metadata_split and field.key.startswith(METADATA_PREFIX)
            if field.key in wanted or not folds:
                claimed[field.key] = index
                columns.append(Column(index, cell, field, how))
                continue
        key = _metadata_key(cell, table) if metadata_split else None
        if key is not None:
            columns.append(
                Column(index, cell, table.field(METADATA_KEY), Resolution.METADATA_KEY, key)
            )
        elif hit is not None:
            raise CsvFormatError(
                f"{stream_name}: the export's header names `{hit[0].key}` twice "
                f"(columns {claimed[hit[0].key] + 1} and {index + 1}). {context(cells, requested)}"
            )
        else:
            columns.append(None)
    warning = ""
    if metadata_split and _bare_keys(columns, cells, requested, claimed):
        # `metadata` missing, every other requested field found: the docs' "all metadata fields
        # defined in Metadata Schema" (customer exports) may well mean one column per key,
        # headed by the bare key (inferred; no sample shows it). The leftover columns are those.
        bare = [index for index, column in enumerate(columns) if column is None]
        for index in bare:
            columns[index] = Column(
                index,
                cells[index],
                table.field(METADATA_KEY),
                Resolution.METADATA_KEY,
                _configured_key(cells[index], table),
            )
        warning = (
            f"{stream_name}: the export's header has no `metadata` column but every other "
            f"requested field; its column(s) {shorten([cells[i] for i in bare])}, which match "
            "no field, are taken as metadata keys and folded into the `metadata` object."
        )
    if any(column and column.how is Resolution.METADATA_KEY for column in columns):
        claimed[METADATA_KEY] = -1
    if None not in columns:
        return ColumnMap(
            _complete(
                stream_name,
                columns,
                wanted=wanted,
                claimed=claimed,
                cells=cells,
                requested=requested,
            ),
            warning,
        )
    return _by_position(stream_name, columns, table, requested, cells, trust_order=trust_order)


def _bare_keys(
    columns: Sequence[Column | None],
    cells: Sequence[str],
    requested: Sequence[str],
    claimed: dict[str, int],
) -> bool:
    """Whether the unresolved cells can only be `metadata`'s keys: there are some, each has a
    text, and every requested field but `metadata` is in the header."""
    unresolved = [cells[index] for index, column in enumerate(columns) if column is None]
    return (
        bool(unresolved)
        and all(unresolved)
        and all(key in claimed for key in requested if key != METADATA_KEY)
    )


def _metadata_key(cell: str, table: ExportedObjectTable) -> str | None:
    """The metadata key a split-out column holds; a configured key's own spelling if it is one."""
    match = _METADATA_CELL.match(cell)
    if match is None:
        return None
    return _configured_key(match.group(1).strip(), table)


def _configured_key(text: str, table: ExportedObjectTable) -> str:
    """`text`, or the spelling of the `metadata_keys` key it names."""
    for field in table.fields:
        key = field.key.removeprefix(METADATA_PREFIX)
        if key != field.key and normalised(key) == normalised(text):
            return key
    return text


def _complete(
    stream_name: str,
    columns: list[Column | None],
    *,
    wanted: set[str],
    claimed: dict[str, int],
    cells: list[str],
    requested: Sequence[str],
) -> tuple[Column, ...]:
    """Every cell resolved: the header must hold exactly the requested fields."""
    unexpected = [key for key in claimed if key not in wanted]
    missing = [key for key in requested if key not in claimed]
    if unexpected or missing:
        problems = []
        if missing:
            problems.append(f"missing requested field(s) {shorten(missing)}")
        if unexpected:
            problems.append(f"unrequested field(s) {shorten(unexpected)}")
        raise CsvFormatError(
            f"{stream_name}: the export's columns do not match the request: "
            f"{'; '.join(problems)}. {context(cells, requested)}"
        )
    return tuple(column for column in columns if column is not None)


def _by_position(
    stream_name: str,
    columns: list[Column | None],
    table: ExportedObjectTable,
    requested: Sequence[str],
    cells: list[str],
    *,
    trust_order: bool,
) -> ColumnMap:
    """Some cells did not resolve: position is taken only if the rest sit where requested, and
    only if some cell resolved at all (unless `trust_order`); parsing/evidence.py then checks
    the cells of the columns mapped by position."""
    unresolved = [cells[index] for index, column in enumerate(columns) if column is None]
    # A header of another width fails below, naming the widths: trusting the order cannot help.
    if len(unresolved) == len(cells) == len(requested) and not trust_order:
        raise CsvFormatError(
            f"{stream_name}: cannot tell which column holds which field: no header cell matches "
            f"a field key or label, so nothing shows the columns come in the requested order. "
            f"{context(cells, requested)} Set trust_column_order to read them by position "
            "anyway."
        )
    misplaced = [
        column.cell
        for column in columns
        if column is not None
        and (
            column.how is Resolution.METADATA_KEY
            or column.index >= len(requested)
            or requested[column.index] != column.field.key
        )
    ]
    if len(cells) != len(requested) or misplaced:
        reason = (
            f"it has {len(cells)} columns for {len(requested)} requested fields"
            if len(cells) != len(requested)
            else f"resolved column(s) {shorten(misplaced)} are not at their requested position"
        )
        raise CsvFormatError(
            f"{stream_name}: cannot tell which column holds which field: header cell(s) "
            f"{shorten(unresolved)} match no field key or label, and {reason}. "
            f"{context(cells, requested)}"
        )
    mapped = tuple(
        column or Column(index, cells[index], table.field(requested[index]), Resolution.POSITION)
        for index, column in enumerate(columns)
    )
    others = (
        "every other column is at its requested position"
        if len(unresolved) < len(cells)
        else "trust_column_order is on"
    )
    warning = (
        f"{stream_name}: header cell(s) {shorten(unresolved)} match no field key or label; "
        f"{others}, so they are mapped by position to "
        f"{shorten([c.field.key for c in mapped if c.how is Resolution.POSITION])}."
    )
    return ColumnMap(mapped, warning)


def context(cells: Sequence[str], requested: Sequence[str]) -> str:
    """The header and the requested fields, for an error message."""
    return f"Header seen: {shorten(cells)}. Requested fields: {shorten(requested)}."
