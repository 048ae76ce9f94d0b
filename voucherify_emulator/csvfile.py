"""Render an export's CSV to a file on disk, and locate the cut points faults need.

Voucherify writes the file to S3 and serves it from the download host; the emulator writes it to
a temporary file with large buffered writes and never holds the whole file in memory.
"""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Iterable

from voucherify_emulator.api import DATES, NUMERIC, OBJECTS, Kind

_BUFFER = 1 << 20
_BATCH = 4096  # lines joined per write; also how often cancellation is checked
MALFORMED_KINDS = ("cell_count", "bad_number", "bad_date")


class Cancelled(Exception):  # noqa: N818 - a signal, not an error
    """The emulator is shutting down; the partial file is discarded."""


def labels(exported_object: str, keys: list[str]) -> list[str]:
    """Header labels (not keys) for the requested field order."""
    spec = OBJECTS[exported_object]
    return [spec.column(key).label for key in keys]


def corrupt(exported_object: str, keys: list[str], row: list[str], kind: str) -> list[str]:
    """Return a damaged copy of `row` for the `malformed_row` fault.

    `bad_number` / `bad_date` need such a column among `keys`; without one they fall back to a
    wrong cell count, which every reader can detect.
    """
    spec = OBJECTS[exported_object]
    kinds = [spec.column(key).kind if key in spec.keys else Kind.TEXT for key in keys]
    if kind == "bad_number" and any(k in NUMERIC for k in kinds):
        pos = next(n for n, k in enumerate(kinds) if k in NUMERIC)
        return [*row[:pos], "12.3.4x", *row[pos + 1 :]]
    if kind == "bad_date" and any(k in DATES for k in kinds):
        pos = next(n for n, k in enumerate(kinds) if k in DATES)
        return [*row[:pos], "2022-13-45T25:61:00.000Z", *row[pos + 1 :]]
    return [*row, "unexpected extra cell"]


def write_csv(
    path: str,
    exported_object: str,
    keys: list[str],
    rows: Iterable[list[str]] | None,
    *,
    lines: Iterable[str] | None = None,
    bom: bool,
    crlf: bool,
    malformed: tuple[int, str] | None,
    cancel: threading.Event,
    header: list[str] | None = None,
) -> int:
    """Write header + rows to `path` atomically (tmp + rename); return the data row count.

    Either `lines` (finished CSV lines, the fast path) or `rows` (cell lists written with the
    csv module) is given. `malformed` is (row position, kind) for the malformed_row fault and
    needs `rows`. `header` replaces the labels of `keys` (a shaped export, shapes.py).
    """
    tmp = f"{path}.part"
    terminator = "\r\n" if crlf else "\n"
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8", newline="", buffering=_BUFFER) as handle:
            if bom:
                handle.write("\ufeff")
            writer = csv.writer(handle, lineterminator=terminator)
            writer.writerow(labels(exported_object, keys) if header is None else header)
            if lines is not None:
                batch: list[str] = []
                for line in lines:
                    batch.append(line)
                    if len(batch) == _BATCH:
                        handle.write("".join(batch))
                        count += _BATCH
                        batch.clear()
                        if cancel.is_set():
                            raise Cancelled
                handle.write("".join(batch))
                count += len(batch)
            else:
                assert rows is not None
                position, kind = malformed if malformed else (-1, "")
                for row in rows:
                    writer.writerow(
                        corrupt(exported_object, keys, row, kind) if count == position else row
                    )
                    count += 1
                    if count % _BATCH == 0 and cancel.is_set():
                        raise Cancelled
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return count


def clean_cut_offset(path: str, size: int) -> int:
    """Byte offset inside the last record where a 'clean' truncation should end the body.

    The cut lands just before the last delimiter of the last line, so the final row has one
    cell too few and no line terminator; a client can only notice by looking at the content.
    """
    tail_len = min(size, 1 << 16)
    with open(path, "rb") as handle:
        handle.seek(size - tail_len)
        tail = handle.read(tail_len)
    body = tail.rstrip(b"\r\n")
    line_start = body.rfind(b"\n") + 1
    last_comma = body.rfind(b",")
    if last_comma > line_start:
        return size - tail_len + last_comma
    # A single-column row: cut it in half instead.
    return size - tail_len + line_start + max(1, (len(body) - line_start) // 2)
