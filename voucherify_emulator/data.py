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
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime

from voucherify_emulator.api import OBJECTS
from voucherify_emulator.cells import (
    QUOTED_KEYS,
    ROW_KEYS,
    UPDATED_AFTER_CREATION_MAX_MS,
    Cell,
    CellTables,
)
from voucherify_emulator.changes import Change, ChangeLog, apply_change
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


# Stands for a per-row cell while a template row goes through the csv module: a character no
# generated cell holds and that the module writes unquoted (NUL was, but Python 3.10's csv
# module cannot write NUL at all).
_ROW_CELL = "\x01"


def _runs(template: list[str], row_positions: list[int], terminator: str) -> list[str]:
    """The CSV text between per-row cells: run0 cell run1 cell ... runN (runN ends the line)."""
    if any(_ROW_CELL in cell for cell in template):
        raise ValueError(f"a template cell holds {_ROW_CELL!r}, which stands for a per-row cell")
    buffer = io.StringIO()
    # The csv module quotes line breaks only if they are in its lineterminator: keep "\r\n".
    csv.writer(buffer, lineterminator="\r\n").writerow(
        [_ROW_CELL if pos in row_positions else cell for pos, cell in enumerate(template)]
    )
    runs = buffer.getvalue()[:-2].split(_ROW_CELL)
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
        self._cell_tables = CellTables(seed, rows)
        self._cells = self._cell_tables.tables
        self.changes = ChangeLog(seed)

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
        self,
        exported_object: str,
        keys: list[str],
        segments: list[Segment],
        indexes: Sequence[int],
        changed: Mapping[int, Change] | None = None,
    ) -> Iterator[list[str]]:
        """Yield the cells of `keys` for every row in `indexes` (in that order), as changed by
        `changed` (a `ChangeLog.snapshot`; None: as generated)."""
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
            if changed and i in changed:
                apply_change(exported_object, keys, row, h, changed[i])
            yield row

    def lines(
        self,
        exported_object: str,
        keys: list[str],
        segments: list[Segment],
        indexes: Sequence[int],
        terminator: str,
        *,
        changed: Mapping[int, Change] | None = None,
    ) -> Iterator[str]:
        """Yield finished CSV lines for `indexes`: the fast path for files.

        The template cells of a row are pre-rendered (with the csv module, so quoting is
        identical) as text runs between the per-row cells; a line is then one join. Must agree
        byte for byte with `csv.writer(...).writerow(row)` for every row of `rows()`. A changed
        row is rendered by `rows()` and the csv module instead.
        """
        if changed:
            yield from self._lines_with_changes(
                exported_object, keys, segments, indexes, terminator, changed
            )
            return
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

    def _lines_with_changes(  # noqa: PLR0917 - the arguments of lines(), passed on
        self,
        exported_object: str,
        keys: list[str],
        segments: list[Segment],
        indexes: Sequence[int],
        terminator: str,
        changed: Mapping[int, Change],
    ) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=terminator)
        for row in self.rows(exported_object, keys, segments, indexes, changed):
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    def updated_at_window(
        self,
        exported_object: str,
        after_ms: int | None,
        before_ms: int | None,
        inclusive: bool,
        changed: Mapping[int, Change],
    ) -> list[int]:
        """Indexes of the rows whose current `updated_at` is inside (after, before), oldest
        update first. Rows never updated (empty `updated_at`) are in no such window.

        A generated `updated_at` is at most UPDATED_AFTER_CREATION_MAX_MS after created_at, so
        only rows created in (after - that, before) can carry one inside the window.
        """
        timeline = self.timelines[exported_object]

        def inside(ms: int) -> bool:
            above = after_ms is None or ms > after_ms or (inclusive and ms == after_ms)
            below = before_ms is None or ms < before_ms or (inclusive and ms == before_ms)
            return above and below

        lower = None if after_ms is None else after_ms - UPDATED_AFTER_CREATION_MAX_MS
        candidates = timeline.window(lower, before_ms, inclusive=True)
        start = self._bases[exported_object]
        found = []
        for i, ms in iter_ms(timeline.snapshot(), candidates):
            if i in changed:
                continue
            updated = self._cell_tables.generated_updated_ms(exported_object, i, mix(start + i), ms)
            if updated is not None and inside(updated):
                found.append((updated, i))
        found += [(ms, i) for i, (ms, _) in changed.items() if inside(ms)]
        return [i for _, i in sorted(found)]

    def updated_at_order(
        self, exported_object: str, indexes: range, changed: Mapping[int, Change]
    ) -> list[int]:
        """`indexes` ordered by current `updated_at`, rows never updated first (inference)."""
        start = self._bases[exported_object]
        segments = self.timelines[exported_object].snapshot()

        def updated(i: int, ms: int) -> int:
            if i in changed:
                return changed[i][0]
            generated = self._cell_tables.generated_updated_ms(
                exported_object, i, mix(start + i), ms
            )
            return -1 if generated is None else generated

        ordered = sorted((updated(i, ms), i) for i, ms in iter_ms(segments, indexes))
        return [i for _, i in ordered]

    def update_rows(self, exported_object: str, count: int) -> list[int]:
        """Change `count` existing rows (see changes.py); return their indexes."""
        total = self.timelines[exported_object].count
        indexes = self.changes.update(exported_object, count, total, self.watermark_ms)
        self.touch()
        return indexes

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
