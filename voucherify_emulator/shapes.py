"""What an export's columns look like: header text, column order, metadata, refused fields.

By default the emulator writes what the research digest describes: one column per requested
field, in the requested order, headed by its label, `metadata` as one JSON cell. Voucherify
promises none of that beyond the four-column sample (digest §3), so a `Shape` can make the
emulator answer the other ways a real account might, for a tap to be tested against each:

- `header`: `labels` (default) or `keys` (`campaign_id` instead of `Campaign ID`);
- `order`: `requested` (default) or `reversed`; `swap`: two field keys whose columns trade places;
- `relabel`: field key → header text written instead of its label (an unknown label);
- `metadata`: `json` (default), `split`: `metadata` answered as one column per metadata key
  (`Metadata region`, …), or `bare`: the same columns headed by the bare key (`region`, …), as
  the docs' "all metadata fields defined in Metadata Schema" may mean — the digest says the
  shape of `metadata` is not documented;
- `null`: the text written for a missing value in a typed column (every kind but text), e.g.
  `null` or `NULL`; default `""`, an empty cell. Text columns stay empty: no source shows how
  Voucherify writes a missing value;
- `reject`: exported_object → field keys refused with the documented 400
  `invalid_export_fields`, whose "Allowed fields" list then leaves them out (the spec's own
  example omits redemption `order_id`);
- `parts`: the file split into this many files, each a CSV with the header and a contiguous
  run of the rows (Voucherify says a large export "can split into multiple chunks", and shows
  no shape); `result`: where `result` lists them: `url` (one URL, or a list under `url`),
  `urls` (a list), `parts` (objects with a `url`), or `unknown` (the first under `url`, the
  rest under a key a client has never seen: the shape a client must refuse, not half-read);
- `ignore_filters`: exported_objects whose exports ignore `parameters.filters` and hold every
  row, as Voucherify does with filter conditions it does not understand (PHP SDK 5.1.0
  changelog) and as a Dashboard bug did with voucher date filters (fixed 2026-06-22);
- `refuse_objects`: exported_objects this account cannot export: creating one is answered with
  the spec's captured 400 `invalid_payload`, whose list of allowed values lacks them (the
  spec's own example lacks `voucher_transactions`).

`metadata.<key>` fields ("expressed as metadata.X", digest §3) are served in every shape: the
key's value in the row's metadata JSON, text as is, anything else as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from voucherify_emulator.api import OBJECTS, Kind
from voucherify_emulator.pools import METADATA

HEADERS = ("labels", "keys")
ORDERS = ("requested", "reversed")
RESULTS = ("url", "urls", "parts", "unknown")
METADATA_SHAPES = ("json", "split", "bare")
NULL_SPELLINGS = ("", "null", "NULL")
METADATA_PREFIX = "metadata."


def _metadata_keys() -> tuple[str, ...]:
    keys: set[str] = set()
    for text in METADATA:
        if text:
            keys.update(json.loads(text))
    return tuple(sorted(keys))


# Every key the metadata pool uses: the columns of a `split` metadata.
SPLIT_KEYS = _metadata_keys()


@dataclass
class Shape:
    """How exports are answered; see the module docstring."""

    header: str = "labels"
    order: str = "requested"
    swap: tuple[str, str] | None = None
    relabel: dict[str, str] = field(default_factory=dict)
    metadata: str = "json"
    reject: dict[str, list[str]] = field(default_factory=dict)
    parts: int = 1
    result: str = "url"
    null: str = ""
    ignore_filters: list[str] = field(default_factory=list)
    refuse_objects: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("header", self.header, HEADERS),
            ("order", self.order, ORDERS),
            ("metadata", self.metadata, METADATA_SHAPES),
            ("result", self.result, RESULTS),
            ("null", self.null, NULL_SPELLINGS),
        ):
            if value not in allowed:
                raise ValueError(f"shape {name} must be one of {allowed}; got {value!r}")
        if self.swap is not None:
            if len(self.swap) != 2:  # noqa: PLR2004 - a pair
                raise ValueError("shape swap must name two field keys")
            self.swap = (str(self.swap[0]), str(self.swap[1]))
        if not isinstance(self.parts, int) or self.parts < 1:
            raise ValueError(
                f"shape parts must be a whole number of at least 1; got {self.parts!r}"
            )
        for obj in self.reject:
            if obj not in OBJECTS:
                raise ValueError(f"shape reject: unknown exported_object {obj!r}")
        self.ignore_filters = list(self.ignore_filters)
        self.refuse_objects = list(self.refuse_objects)
        for name, objects in (
            ("ignore_filters", self.ignore_filters),
            ("refuse_objects", self.refuse_objects),
        ):
            for obj in objects:
                if obj not in OBJECTS:
                    raise ValueError(f"shape {name}: unknown exported_object {obj!r}")

    @property
    def is_default(self) -> bool:
        """Whether files look exactly as without a shape (the generator's fast path)."""
        return self == Shape(
            reject=self.reject,
            parts=self.parts,
            result=self.result,
            ignore_filters=self.ignore_filters,
            refuse_objects=self.refuse_objects,
        )

    def result_body(self, urls: list[str]) -> dict[str, Any]:
        """The export's `result` listing these file URLs, in this shape's `result` form."""
        if self.result == "urls":
            return {"urls": urls}
        if self.result == "parts":
            return {"parts": [{"url": url} for url in urls]}
        if self.result == "unknown" and len(urls) > 1:
            return {"url": urls[0], "next_parts": urls[1:]}
        return {"url": urls[0] if len(urls) == 1 else urls}

    def to_json(self) -> dict[str, Any]:
        """The shape as the control endpoint reports it."""
        return {
            "header": self.header,
            "order": self.order,
            "swap": list(self.swap) if self.swap else None,
            "relabel": self.relabel,
            "metadata": self.metadata,
            "reject": self.reject,
            "parts": self.parts,
            "result": self.result,
            "null": self.null,
            "ignore_filters": self.ignore_filters,
            "refuse_objects": self.refuse_objects,
        }


def metadata_value(metadata_cell: str, key: str) -> str:
    """One key's cell, from a row's metadata JSON cell: text as is, else compact JSON."""
    if not metadata_cell:
        return ""
    value = json.loads(metadata_cell).get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


Cell = Callable[[list[str]], str]


@dataclass(frozen=True)
class Layout:
    """One export's columns: the keys the dataset renders, and each column's header and cell."""

    base_keys: list[str]
    header: list[str]
    cells: list[Cell]
    null: str = ""  # the shape's spelling of a missing typed value (part of the file's identity)

    def rows(self, base_rows: Iterable[list[str]]) -> Iterator[list[str]]:
        """The file's rows from the dataset's rows of `base_keys`."""
        cells = self.cells
        for row in base_rows:
            yield [cell(row) for cell in cells]


def _direct(position: int) -> Cell:
    return lambda row: row[position]


def _or_null(position: int, spelling: str) -> Cell:
    return lambda row: row[position] or spelling


def _from_metadata(position: int, key: str) -> Cell:
    return lambda row: metadata_value(row[position], key)


def layout(exported_object: str, keys: list[str], shape: Shape) -> Layout:
    """The columns of an export of `keys` under `shape`."""
    spec = OBJECTS[exported_object]
    base_keys: list[str] = []

    def base(key: str) -> int:
        if key not in base_keys:
            base_keys.append(key)
        return base_keys.index(key)

    columns: list[tuple[str, str, Cell]] = []  # (field key, header text, cell)
    for key in keys:
        if key.startswith(METADATA_PREFIX):
            meta = key[len(METADATA_PREFIX) :]
            text = key if shape.header == "keys" else f"Metadata {meta}"
            columns.append((key, text, _from_metadata(base("metadata"), meta)))
        elif key == "metadata" and shape.metadata != "json":
            for meta in SPLIT_KEYS:
                if shape.metadata == "bare":
                    text = meta
                else:
                    text = f"metadata.{meta}" if shape.header == "keys" else f"Metadata {meta}"
                columns.append((key, text, _from_metadata(base("metadata"), meta)))
        else:
            text = key if shape.header == "keys" else spec.column(key).label
            typed = shape.null and spec.column(key).kind is not Kind.TEXT
            cell = _or_null(base(key), shape.null) if typed else _direct(base(key))
            columns.append((key, text, cell))
    columns = [(k, shape.relabel.get(k, text), cell) for k, text, cell in columns]
    if shape.order == "reversed":
        columns.reverse()
    if shape.swap is not None:
        found = [n for n, column in enumerate(columns) if column[0] in shape.swap]
        if len(found) == 2:  # noqa: PLR2004 - a pair
            first, second = found
            columns[first], columns[second] = columns[second], columns[first]
    return Layout(
        base_keys,
        [text for _, text, _ in columns],
        [cell for _, _, cell in columns],
        shape.null,
    )
