"""Rows outside the window their export was asked for are dropped and counted, on one process
and in a worker's piece, and a resumed read skips the rows it dropped too."""

import datetime as dt
import io

import pytest

from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.jobs.windows import Window
from tap_voucherify_exports.parsing.records import CsvRecordReader
from tap_voucherify_exports.parsing.window_rows import WindowBounds

UTC = dt.timezone.utc
WINDOW = Window(dt.datetime(2022, 1, 1, tzinfo=UTC), dt.datetime(2022, 2, 1, tzinfo=UTC))
BOUNDS = WindowBounds.of(WINDOW, "created_at")


@pytest.mark.parametrize(
    ("cell", "inside"),
    [
        ("2022-01-15T10:00:00.000Z", True),
        ("2021-12-31T23:59:59.999Z", True),  # start - 1 ms: the `$after` the filter sent
        ("2022-02-01T00:00:00.000Z", True),  # the end itself: `$before` may be inclusive
        ("2021-12-31T23:59:59.998Z", False),
        ("2022-02-01T00:00:00.001Z", False),
        ("2019-05-01T00:00:00.000Z", False),
        ("2022-01-15T10:00:00+00:00", True),  # not Voucherify's form: parsed
        ("2022-01-15T10:00:00", True),  # no zone: UTC, as Voucherify says
        ("2022-01-31T23:30:00-01:00", False),  # 00:30 on 1 February in UTC
        ("", False),  # no cursor: no filter on it selects the row
        ("null", False),
        ("not a date", True),  # the converter names it
    ],
)
def test_a_cursor_cell_is_inside_the_filters_bounds_with_the_1_ms_edge(
    cell: str, inside: bool
) -> None:
    assert BOUNDS.inside(cell) is inside


CSV = (
    "ID,Creation Date\n"
    "v_1,2019-01-01T00:00:00.000Z\n"
    "v_2,2022-01-10T00:00:00.000Z\n"
    "v_3,2024-01-01T00:00:00.000Z\n"
    "v_4,2022-01-20T00:00:00.000Z\n"
)


def reader() -> CsvRecordReader:
    return CsvRecordReader("vouchers", TABLES["voucher"], ("id", "created_at"), bounds=BOUNDS)


def test_rows_outside_the_window_are_dropped_and_counted() -> None:
    read = reader()
    records = list(read.records(io.StringIO(CSV, newline="")))
    assert [r["id"] for r in records] == ["v_2", "v_4"]
    assert read.outside == 2


def test_a_resumed_read_skips_the_rows_read_before_dropped_ones_included() -> None:
    read = reader()
    # Three rows were read before the download broke: v_1 (dropped), v_2, v_3 (dropped).
    records = list(read.records(io.StringIO(CSV, newline=""), skip_rows=3))
    assert [r["id"] for r in records] == ["v_4"]
    assert read.outside == 0


def test_a_workers_piece_drops_the_same_rows() -> None:
    read = reader()
    read.header(CSV.split("\n", 1)[0] + "\n")
    records = read.piece_records(CSV.split("\n", 1)[1].encode())
    assert [r["id"] for r in records] == ["v_2", "v_4"]
    assert read.outside == 2


def test_without_the_cursor_in_the_header_nothing_is_checked() -> None:
    read = CsvRecordReader("vouchers", TABLES["voucher"], ("id",), bounds=BOUNDS)
    records = list(read.records(io.StringIO("ID\nv_1\n", newline="")))
    assert [r["id"] for r in records] == ["v_1"]
