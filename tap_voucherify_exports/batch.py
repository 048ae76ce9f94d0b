"""BATCH files straight from an export: its records as gzipped JSON lines, in constant memory.

singer-sdk's own batcher (`JSONLinesBatcher`) collects `batch_size` records in a list, then
serializes them one by one with the standard json module: slow, and memory in proportion to
`batch_size`. Here each export's records are encoded in chunks (`fastpath.CHUNK_RECORDS`, one
msgspec call each, the same bytes as the RECORD path's `record`) and compressed as they come
(ISA-L deflate at level 1 in a gzip container: a fraction of zlib's cost for files that are
transient staging), into files of at most `batch_size` rows, each file closed when full and
when the export ends. A file's rows are all before the next BATCH message, so the STATE the SDK
writes after it (`_sync_batches`) never covers a row not in an announced file.
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

from tap_voucherify_exports.fastpath import CHUNK_RECORDS

# ISA-L's level 1 (of 0-3): 1.5 µs per voucher row against zlib level 1's 3.3 µs, files of the
# same size (6.1 MB per 50k rows); zlib's default level 6 takes 14.7 µs (benchmarks/README.md).
GZIP_LEVEL = 1
_GZIP_WBITS = 16 + isal_zlib.MAX_WBITS  # a gzip header and trailer, as `gzip.open` reads


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
        while True:
            manifest, rows = self._write_file(iterator)
            if rows < self.config.batch_size:
                return manifest
            yield manifest  # type: ignore[misc]  # a full file always has a manifest

    def _write_file(self, records: Iterator[dict[str, Any]]) -> tuple[list[str] | None, int]:
        """Write up to `batch_size` records to a new file; no file when there is none."""
        chunk = list(islice(records, min(CHUNK_RECORDS, self.config.batch_size)))
        if not chunk:
            return None, 0
        self._files += 1
        filename = self._name.format(self._files)
        storage = self.config.storage
        rows = 0
        with ExitStack() as stack:
            handle: IO[bytes] = stack.enter_context(storage.open(filename, "wb"))
            compress = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
            while chunk:
                data = encoder.encode_lines(chunk)
                handle.write(compress.compress(data) if self.compressed else data)
                rows += len(chunk)
                left = self.config.batch_size - rows
                chunk = list(islice(records, min(CHUNK_RECORDS, left))) if left else []
            if self.compressed:
                handle.write(compress.flush())
        self._counted(rows)
        return [storage.get_url(filename)], rows
