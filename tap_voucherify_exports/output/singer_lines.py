"""Singer RECORD lines from records encoded as JSON lines, in whole blocks.

Shared by the RECORD fast path (output/fastpath.py) and the `parallel_workers` processes
(output/workers.py), which wrap their pieces' records themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from singer_sdk.contrib.msgspec import encoder


@dataclass(frozen=True)
class Envelope:
    """What every RECORD message of a stream carries besides its record: the stream's name and
    its table version (None unless the stream versions its rows)."""

    stream: str
    version: int | None


@dataclass(frozen=True)
class EncodedRows:
    """Some records of an export as JSON lines (msgspec `encode_lines`), or as their RECORD
    messages (when the spec has an `envelope`), and how many; `lines`: the CSV lines read;
    `nulls`: the typed cells spelled `null`/`NULL` among them, read as null; `outside`: the rows
    read and dropped, their cursor outside the export's window (parsing/window_rows.py); `keys`:
    the records' `id` cells when kept (parsing/records.py `keep_keys`), else None."""

    body: bytes
    rows: int
    lines: int = 0
    nulls: int = 0
    outside: int = 0
    keys: list[str] | None = None


def wrap_lines(envelope: Envelope, body: bytes, time_extracted: dt.datetime) -> bytes:
    """The RECORD messages of records encoded as JSON lines (`encode_lines`).

    msgspec escapes newlines inside JSON strings, so the only b"\\n" in `encode_lines` output
    are the line ends: replacing each with "envelope end + line end + envelope start" wraps
    every record at once.
    """
    head = b'{"type":"RECORD","stream":' + encoder.encode(envelope.stream) + b',"record":'
    tail = b',"time_extracted":' + encoder.encode(time_extracted) + b"}"
    if envelope.version is not None:
        tail = b',"version":' + encoder.encode(envelope.version) + tail
    # One join: each `+` would copy the whole block again.
    return b"".join((head, body[:-1].replace(b"\n", tail + b"\n" + head), tail, b"\n"))


def split_lines(body: bytes, lines: int) -> tuple[bytes, bytes]:
    """`body` (JSON lines) cut after its first `lines` lines."""
    end = -1
    for _ in range(lines):
        end = body.index(b"\n", end + 1)
    return body[: end + 1], body[end + 1 :]
