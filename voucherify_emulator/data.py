"""Synthetic, deterministic rows for every exported object in `api.OBJECTS`.

The row hash is `mix(base(seed, object) + index)` and each cell a function of (index, hash,
created_at ms) defined in `cells.py`. Nothing is stored, so any window of a million-row object
can be rendered in one pass, and two emulators with the same seed and row counts agree cell for
cell. `rows()` yields cell lists (ground truth, the csv-module path); `lines()` yields finished
CSV lines (the fast path for files) and must agree with it byte for byte.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from voucherify_emulator.api import OBJECTS
from voucherify_emulator.cells import QUOTED_KEYS, ROW_KEYS, Cell, CellTables
from voucherify_emulator.hashing import MASK64, base, mix
from voucherify_emulator.timeline import Segment, Timeline, iter_ms, parse_iso

TEMPLATES = 4096  # distinct combinations of hash-only cells (a power of two)
_GOLDEN = 0x9E3779B97F4A7C15  # splitmix64 increment (see hashing.mix)


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
        unknown = set(rows) - set(OBJECTS)
        if unknown:
            raise ValueError(f"unknown exported objects: {sorted(unknown)}")
        self.seed = seed
        # Wall-clock ms of the last export creation (or of start-up); rows added later are dated
        # after it. See Timeline.add.
        self.watermark_ms = int(time.time() * 1000)
        self.timelines = {
            name: Timeline(rows.get(name, 200), base(seed, f"{name}:time") & 0xFFFF)
            for name in OBJECTS
        }
        self._bases = {name: base(seed, name) for name in OBJECTS}
        self._cells = CellTables(seed, rows).tables

    # --- public API -----------------------------------------------------------------------------
    def _template(self, exported_object: str, keys: list[str]) -> Callable[[int], list[str]]:
        # Cells that depend only on the row hash are drawn from TEMPLATES template rows (picked
        # by the low hash bits): one list copy per row instead of one call per cell. Templates
        # are built on first use, so a 40-row export does not pay for all 4096.
        salt = self._bases[exported_object] ^ 0x5DEECE66D
        per_row = ROW_KEYS[exported_object]
        cells = [
            (pos, self._cells[exported_object][key])
            for pos, key in enumerate(keys)
            if key not in per_row
        ]

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
        row_cells = [
            (pos, self._cells[exported_object][key])
            for pos, key in enumerate(keys)
            if key in per_row
        ]
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
        self,
        exported_object: str,
        keys: list[str],
        segments: list[Segment],
        indexes: range,
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
            if keys[pos] in QUOTED_KEYS
            else self._cells[exported_object][keys[pos]]
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
        """All field keys of an object, in `api.OBJECTS` order."""
        return list(OBJECTS[exported_object].keys)
