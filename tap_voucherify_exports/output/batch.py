"""BATCH files straight from an export: its records as gzipped JSON lines, in constant memory.

singer-sdk's own batcher (`JSONLinesBatcher`) collects `batch_size` records in a list, then
serializes them one by one with the standard json module: slow, and memory in proportion to
`batch_size`. Here each export's records are encoded in blocks (`fastpath.BLOCK_RECORDS`, one
msgspec call each, the same bytes as the RECORD path's `record`) and compressed as they come
(ISA-L deflate at level 1 in a gzip container: a fraction of zlib's cost for files that are
transient staging), into files of at most `batch_size` rows, each file closed when full and
when the export ends. The order of BATCH and STATE messages is export_stream.py's contract
(`_advance_bookmark`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack
from itertools import islice
from typing import IO, Any

from isal import isal_zlib
from singer_sdk.contrib.msgspec import encoder
from singer_sdk.helpers._batch import BatchConfig

from tap_voucherify_exports.output.fastpath import BLOCK_RECORDS
from tap_voucherify_exports.output.singer_lines import EncodedRows, split_lines

# ISA-L's level 1 (of 0-3): 1.5 µs per voucher row against zlib level 1's 3.3 µs, files of the
# same size (6.1 MB per 50k rows); zlib's default level 6 takes 14.7 µs (benchmarks/README.md).
GZIP_LEVEL = 1
_GZIP_WBITS = 16 + isal_zlib.MAX_WBITS  # a gzip header and trailer, as `gzip.open` reads


class _BatchFile:
    """One batch file being written: rows in, a manifest out when it is closed."""

    def __init__(self, config: BatchConfig, filename: str, compressed: bool) -> None:
        self._storage = config.storage
        self._filename = filename
        self._open = ExitStack()  # `storage.open` is a context manager (fsspec underneath)
        self._handle: IO[bytes] = self._open.enter_context(self._storage.open(filename, "wb"))
        self._compress = (
            isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
            if compressed
            else None
        )
        self.rows = 0

    def write(self, lines: bytes, rows: int) -> None:
        """Append `rows` records encoded as JSON lines."""
        self._handle.write(self._compress.compress(lines) if self._compress else lines)
        self.rows += rows

    def close(self) -> list[str]:
        """Finish the file; its manifest (the one URL of it)."""
        with self._open:
            if self._compress:
                self._handle.write(self._compress.flush())
        return [self._storage.get_url(self._filename)]

    def abandon(self) -> None:
        """Close the file after an error: it is never announced in a BATCH message."""
        self._open.close()


class BatchFileWriter:
    """Writes one stream's records into jsonl(.gz) files where `batch_config` says."""

    def __init__(
        self,
        batch_config: BatchConfig,
        tap_name: str,
        stream_name: str,
        counted: Callable[[int], None],
    ) -> None:
        if batch_config.encoding.format != "jsonl":
            raise ValueError(f"unsupported batch format {batch_config.encoding.format!r}")
        self.config = batch_config
        self.compressed = batch_config.encoding.compression == "gzip"
        suffix = ".jsonl.gz" if self.compressed else ".jsonl"
        prefix = batch_config.storage.prefix or ""
        self._name = f"{prefix}{tap_name}--{stream_name}-{uuid.uuid4()}-{{}}{suffix}"
        self._files = 0
        self._counted = counted

    def write_export(
        self, records: Iterable[dict[str, Any]]
    ) -> Generator[list[str], None, list[str] | None]:
        """Yield the manifest of each file filled to `batch_size`; return the last one's (the
        export's rest), or None if no row was left for it."""
        iterator = iter(records)

        def encoded() -> Iterator[EncodedRows]:
            while block := list(islice(iterator, BLOCK_RECORDS)):
                yield EncodedRows(encoder.encode_lines(block), len(block))

        return (yield from self.write_encoded_export(encoded()))

    def write_encoded_export(
        self, blocks: Iterable[EncodedRows]
    ) -> Generator[list[str], None, list[str] | None]:
        """`write_export` for records already encoded (output/workers.py)."""
        size = self.config.batch_size
        file: _BatchFile | None = None
        try:
            for block in blocks:
                lines, rows = block.body, block.rows
                while rows:
                    if file is None:
                        file = self._new_file()
                    room = size - file.rows
                    if rows < room:
                        file.write(lines, rows)
                        break
                    head, lines = split_lines(lines, room) if rows > room else (lines, b"")
                    file.write(head, room)
                    rows -= room
                    yield self._close(file)
                    file = None
        except BaseException:
            if file is not None:
                file.abandon()
            raise
        return None if file is None else self._close(file)

    def _new_file(self) -> _BatchFile:
        self._files += 1
        return _BatchFile(self.config, self._name.format(self._files), self.compressed)

    def _close(self, file: _BatchFile) -> list[str]:
        manifest = file.close()
        self._counted(file.rows)
        return manifest
