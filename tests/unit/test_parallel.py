"""output/workers.py: a CSV body cut into pieces of whole records, read by worker processes, gives
the records, errors and restarts of the one-process reader."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import urllib3

from tap_voucherify_exports.errors import CsvFormatError, TruncatedCsvError
from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.output import workers
from tap_voucherify_exports.output.singer_lines import EncodedRows
from tap_voucherify_exports.output.workers import (
    ParallelParser,
    ParallelPart,
    record_end,
    record_pieces,
)
from tap_voucherify_exports.parsing.records import CsvRecordReader, count_lines

FIELDS = ("id", "code", "value", "active", "metadata", "created_at")
HEADER = "id,code,value,active,metadata,created_at\r\n"


def rows(count: int) -> list[str]:
    """Rows with what makes cutting hard: quoted line breaks, doubled quotes, CRLF ends."""
    out = []
    for n in range(count):
        note = '"{""note"": ""line one\nline two"", ""n"": ' + str(n) + '}"'
        metadata = note if n % 3 == 0 else ""
        code = f'"CODE,{n}\r\nnext"' if n % 5 == 0 else f"CODE{n}"
        out.append(f"v_{n},{code},{n * 100},{'true' if n % 2 else 'false'},{metadata},"
                   f"2022-03-09T09:16:{n % 60:02d}.521Z\r\n")  # fmt: skip
    return out


BODY = (HEADER + "".join(rows(200))).encode()


def serial_reader() -> CsvRecordReader:
    return CsvRecordReader("vouchers", TABLES["voucher"], FIELDS)


def reads_of(data: bytes, sizes: list[int]) -> Callable[[int], bytes]:
    """`read(n)` over `data`, returning at most the next of `sizes` bytes each time (a socket)."""
    stream = io.BytesIO(data)
    cycle = iter(sizes * (len(data) + 1))
    return lambda n: stream.read(min(n, next(cycle)))


@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1000, 1 << 20])
def test_pieces_are_whole_records_and_join_to_the_body(monkeypatch, chunk_bytes):
    monkeypatch.setattr(workers, "PIECE_BYTES", chunk_bytes)
    read = reads_of(BODY, [chunk_bytes, 3, 50])
    pieces = list(record_pieces(read, skip=0, header=True, max_record=1 << 20))
    assert b"".join(pieces) == BODY
    assert pieces[0] == HEADER.encode()  # the header alone first
    parsed = [list(csv.reader(io.StringIO(p.decode(), newline=""), strict=True)) for p in pieces]
    assert sum(len(p) for p in parsed[1:]) == 200  # no record split across two pieces
    assert all(len(row) == len(FIELDS) for p in parsed for row in p)


def test_pieces_resume_after_skipped_bytes():
    pieces = list(record_pieces(reads_of(BODY, [100]), skip=0, header=True, max_record=1 << 20))
    skip = sum(map(len, pieces[:3]))
    rest = list(record_pieces(reads_of(BODY, [100]), skip=skip, header=False, max_record=1 << 20))
    assert b"".join(rest) == BODY[skip:]


def test_record_end_counts_quotes_from_the_record_start():
    data = b'a,"x\n""y""\nz"\nb,c\n"open\n'
    assert record_end(data, last=False) == data.index(b'z"\n') + 3
    assert record_end(data) == data.index(b"b,c\n") + 4
    assert record_end(b'"never closed\n\n') == 0


def test_a_body_with_no_record_end_fails_instead_of_growing(monkeypatch):
    monkeypatch.setattr(workers, "PIECE_BYTES", 64)
    body = HEADER.encode() + b'v_1,"unclosed' + b"x\n" * 1000
    with pytest.raises(CsvFormatError, match="no record ends within"):
        list(record_pieces(reads_of(body, [64]), skip=0, header=True, max_record=500))


@pytest.fixture(scope="module")
def parser() -> Iterator[ParallelParser]:
    workers = ParallelParser(2)
    yield workers
    workers.close()


def response_of(read: Callable[[int], bytes]) -> Any:
    return SimpleNamespace(raw=SimpleNamespace(read=read, decode_content=False))


def read_parallel(parser: ParallelParser, body: bytes) -> list[dict[str, Any]]:
    """Records as the workers encode them (bare JSON lines), decoded."""
    from singer_sdk.contrib.msgspec import decoder

    part = ParallelPart(parser, serial_reader(), None)
    lines = b"".join(c.body for c in part.read(response_of(reads_of(body, [333]))))
    return [decoder.decode(line) for line in lines.splitlines()]


def read_serial(body: bytes) -> list[dict[str, Any]]:
    from singer_sdk.contrib.msgspec import decoder, encoder

    text = io.TextIOWrapper(
        io.BytesIO(body), encoding="utf-8-sig", newline=""
    )  # as jobs/exports_api.py
    records = serial_reader().records(text)
    return [decoder.decode(encoder.encode(r)) for r in records]


def test_workers_give_the_one_process_records(parser, monkeypatch):
    monkeypatch.setattr(workers, "PIECE_BYTES", 500)
    body = b"\xef\xbb\xbf" + BODY  # a BOM, dropped as the one-process reader drops it
    assert read_parallel(parser, body) == read_serial(body)


def _broken(body: bytes, row: int, bad: str) -> bytes:
    lines = body.decode().split("\r\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(f"v_{row},"))
    lines[index] = bad
    return "\r\n".join(lines).encode()


BROKEN = {
    "bad cell": lambda: _broken(BODY, 151, "v_151,CODE151,12x,true,,2022-03-09T09:16:31.521Z"),
    "wrong width": lambda: _broken(BODY, 97, "v_97,CODE97,9700"),
    "NUL byte": lambda: _broken(BODY, 121, "v_121,CO\x00DE,1,true,,2022-03-09T09:16:01.521Z"),
    "bad UTF-8": lambda: BODY.replace(b"CODE173,", b"CODE\xff173,"),
    "bad quote": lambda: _broken(BODY, 133, 'v_133,"CODE"133,1,true,,2022-03-09T09:16:13.521Z'),
    "cut mid-row": lambda: BODY[: BODY.index(b"v_188,") + 20],
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_errors_name_the_line_the_one_process_reader_names(parser, monkeypatch, case):
    monkeypatch.setattr(workers, "PIECE_BYTES", 400)
    body = BROKEN[case]()
    with pytest.raises(CsvFormatError) as one:
        read_serial(body)
    with pytest.raises(CsvFormatError) as two:
        read_parallel(parser, body)
    assert type(two.value) is type(one.value)
    if case == "bad UTF-8":
        # The one-process reader decodes ahead of the csv reader ("near" its position); a
        # worker decodes its piece first and names the very line.
        exact = count_lines(body[: body.index(b"\xff")]) + 1
        assert str(two.value) == str(one.value.moved(exact - (one.value.line or 0)))
    else:
        assert str(two.value) == str(one.value)


def test_a_bare_quote_the_cutter_cannot_see_fails_loudly(parser, monkeypatch):
    """`"` inside an unquoted cell: Python's csv reads it as text, but it flips the quote count
    the cutter relies on, so a piece may end inside a quoted cell. The worker's strict reader
    then fails at the piece's end: an error, never a wrong record."""
    monkeypatch.setattr(workers, "PIECE_BYTES", 300)
    body = _broken(BODY, 41, 'v_41,CO"DE41,1,true,,2022-03-09T09:16:41.521Z')
    assert len(read_serial(body)) == 200  # the one-process reader reads it
    with pytest.raises(CsvFormatError) as error:
        read_parallel(parser, body)
    assert str(error.value).startswith("vouchers: malformed CSV at line ")
    bare_quote_line = count_lines(body[: body.index(b'CO"DE41')]) + 1
    assert error.value.line is not None
    assert error.value.line > bare_quote_line  # the end of the piece that ran on past it
    assert "with parallel_workers 1 the tap reads it as text" in str(error.value)


def test_a_broken_download_resumes_after_the_pieces_handed_on(parser, monkeypatch):
    """The pieces cut before the break are handed on; the restart skips exactly their bytes."""
    from singer_sdk.contrib.msgspec import decoder

    monkeypatch.setattr(workers, "PIECE_BYTES", 700)
    part = ParallelPart(parser, serial_reader(), None)
    cut = len(BODY) // 2 + 37
    stream = io.BytesIO(BODY)

    def breaking(n: int) -> bytes:
        if stream.tell() >= cut:
            raise urllib3.exceptions.ProtocolError("Connection reset by peer")
        return stream.read(min(n, 250, cut - stream.tell()))

    chunks: list[EncodedRows] = []
    with pytest.raises(urllib3.exceptions.ProtocolError):
        chunks.extend(part.read(response_of(breaking)))
    assert 0 < part.rows < 200
    chunks.extend(part.read(response_of(reads_of(BODY, [250]))))  # the restart: the whole body
    records = [decoder.decode(line) for c in chunks for line in c.body.splitlines()]
    assert records == read_serial(BODY)
    assert part.rows == 200


def test_a_body_cut_mid_row_is_truncated_so_the_download_restarts(parser, monkeypatch):
    monkeypatch.setattr(workers, "PIECE_BYTES", 700)
    part = ParallelPart(parser, serial_reader(), None)
    short = BODY[: BODY.index(b"v_190,") + 12]
    with pytest.raises(TruncatedCsvError):
        list(part.read(response_of(reads_of(short, [250]))))
    before = part.rows
    rest = list(part.read(response_of(reads_of(BODY, [250]))))
    assert before + sum(c.rows for c in rest) == part.rows == 200


def test_workers_read_null_spellings_as_the_one_process_reader_and_count_them(parser, monkeypatch):
    monkeypatch.setattr(workers, "PIECE_BYTES", 500)
    body = BODY.replace(b",true,", b",null,").replace(b",false,,", b",false,NULL,")
    serial = serial_reader()
    one = list(serial.records(io.TextIOWrapper(io.BytesIO(body), encoding="utf-8", newline="")))
    part = ParallelPart(parser, serial_reader(), None)
    from singer_sdk.contrib.msgspec import decoder

    lines = b"".join(c.body for c in part.read(response_of(reads_of(body, [333]))))
    assert [decoder.decode(line) for line in lines.splitlines()] == read_serial(body)
    spelled = body.count(b",null,") + body.count(b",NULL,")
    assert sum(r["active"] is None for r in one) == 100
    assert spelled > 100
    assert part.nulls == serial.nulls == spelled


@pytest.mark.parametrize("bad_row", [None, 4, 82, 151])
def test_columns_by_position_are_checked_before_any_piece_is_handed_on(
    parser, monkeypatch, bad_row
):
    # 400-byte pieces: the first 100 rows span many, all read before a worker gets one.
    monkeypatch.setattr(workers, "PIECE_BYTES", 400)
    body = BODY.replace(b",value,", b",Wert,", 1)
    if bad_row is not None:
        body = _broken(body, bad_row, f"v_{bad_row},C,12x,true,,2022-03-09T09:16:31.521Z")
    if bad_row is None:
        assert read_parallel(parser, body) == read_serial(body)
        return
    with pytest.raises(CsvFormatError) as one:
        read_serial(body)
    part = ParallelPart(parser, serial_reader(), None)
    handed_on: list[EncodedRows] = []
    with pytest.raises(CsvFormatError) as two:
        handed_on.extend(part.read(response_of(reads_of(body, [333]))))
    assert str(two.value) == str(one.value)
    if bad_row < 100:  # a check failed: nothing of the export left
        assert "taken by position for `value`" in str(one.value)
        assert handed_on == []
    else:  # past the checked rows: the usual error, after the rows before it
        assert "column `value`: cannot read '12x'" in str(one.value)
