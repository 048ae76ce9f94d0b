"""Which way a stream's records leave the tap, and on which processes.

Three ways: singer-sdk's own per-record loop; the RECORD fast path (output/fastpath.py),
whenever that loop would hand every record on unchanged; the tap's BATCH files
(output/batch.py). The fast ways read an export on the tap's process, or on the
`parallel_workers` processes (output/workers.py) when there are any.

The decisions are pure functions of what the stream knows; export_stream.py asks them and
builds nothing else. Why the fast path may stand in for the SDK's loop: docs/architecture.md,
"singer-sdk seams".
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from singer_sdk.helpers.types import Context, Record
from singer_sdk.mapper import StreamMap

from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.output.fastpath import maps_are_identity

T = TypeVar("T")
# What export_stream.py's `_sync_window` hands a window's records (or their encoded lines) to.
Emit = Callable[[Iterator[Any]], Generator[T, None, T | None]]
# Where it takes them from: the session's `records` or `encoded_records`.
Read = Callable[[ExportRequest], Iterator[Any]]


@dataclass(frozen=True)
class Route(Generic[T]):
    """One way out: where a window's records are read from, and what they are handed to."""

    emit: Emit[T]
    read: Read


def pass_on(records: Iterator[Record]) -> Generator[Record, None, None]:
    """The SDK loop's `emit`: the records go back to singer-sdk as they are read."""
    yield from records


def sdk_loop_is_identity(
    *,
    context: Context | None,
    record_limit: int | None,
    post_process_overridden: bool,
    stream_maps: list[StreamMap] | None,
    stream: str,
) -> bool:
    """Whether the SDK's per-record loop hands every record on unchanged: no partition keys to
    add, no dry-run record limit, no `post_process`, and no stream map, flattening or alias
    (`stream_maps` None: the maps do not matter, as for BATCH files, written before any map)."""
    return not (
        context
        or record_limit is not None
        or post_process_overridden
        or (stream_maps is not None and not maps_are_identity(stream_maps, stream))
    )


def fast_path_fits(
    *, loop_is_identity: bool, writer_is_ours: bool, counter_open: bool, batch_mode: bool
) -> bool:
    """Whether the RECORD fast path writes exactly what the SDK's loop would: the loop is an
    identity, the SDK writes through this tap's writer, its record counter is open (the fast
    path counts on it), and the run writes RECORD messages, not BATCH files."""
    return loop_is_identity and writer_is_ours and counter_open and not batch_mode


def workers_read(parallel_workers: int) -> bool:
    """Whether the `parallel_workers` processes read the exports of a stream that leaves by a
    fast way (RECORD fast path or BATCH files): only those take their encoded lines."""
    return parallel_workers > 1


def workers_unused_warning(parallel_workers: int, stream: str) -> str | None:
    """What to say (once per stream) when workers exist but this stream cannot use them."""
    if parallel_workers == 1:
        return None
    return (
        f"parallel_workers is {parallel_workers}, but {stream} is read in the tap's own process: "
        "its records go through singer-sdk's per-record path (stream maps, flattening, an alias, "
        "partitions, a dry run or a batch format other than jsonl)."
    )
