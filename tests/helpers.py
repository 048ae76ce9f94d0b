"""Helpers shared by unit and integration tests: build a catalog, run a sync, read messages."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import socket
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tap_voucherify_exports.jobs.ledger import STATE_KEY as LEDGER_KEY
from tap_voucherify_exports.streams import STREAM_TYPES
from tap_voucherify_exports.tap import TapVoucherifyExports

STREAM_OBJECTS = {stream.name: stream.exported_object for stream in STREAM_TYPES}
PRIMARY_KEYS = {stream.name: tuple(stream.primary_keys) for stream in STREAM_TYPES}
TIMESTAMP_KEYS = {"date", "created_at"}

if TYPE_CHECKING:
    from voucherify_emulator import Emulator


def closed_port() -> int:
    """A loopback port nothing listens on: bound to learn a free one, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def key_part(field: str, value: Any) -> str:
    """One primary-key cell of a record or a ground-truth row (CSV text), normalised: timestamps
    in one ISO form (`...Z` and `+00:00` agree), None as ""."""
    if field in TIMESTAMP_KEYS and value:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).isoformat()
    return "" if value is None else str(value)


def key_of(stream: str, row: dict[str, Any]) -> tuple[str, ...]:
    """The primary key of a record or a ground-truth row, normalised."""
    return tuple(key_part(f, row.get(f)) for f in PRIMARY_KEYS[stream])


def truth_keys(
    emu: Emulator, stream: str, cell: Callable[[str, Any], Any] = key_part
) -> Counter[tuple[Any, ...]]:
    """The primary key of every row the emulator holds for `stream`, counted (the ground truth).

    `cell` turns one key cell into the form compared against (e.g. a datetime for PostgreSQL)."""
    keys = PRIMARY_KEYS[stream]
    return Counter(
        tuple(cell(f, row.get(f)) for f in keys) for row in emu.ground_truth(STREAM_OBJECTS[stream])
    )


def catalog_for(
    config: dict[str, Any], streams: set[str], deselected: set[str] = frozenset()
) -> dict[str, Any]:
    """A catalog selecting `streams`, with the `deselected` properties turned off."""
    catalog = TapVoucherifyExports(config=config).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if not entry["breadcrumb"]:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in streams
            elif entry["breadcrumb"][-1] in deselected:
                entry["metadata"]["selected"] = False
    return catalog


def sync(
    config: dict[str, Any],
    streams: set[str] | None = None,
    state: dict[str, Any] | None = None,
    deselected: set[str] = frozenset(),
) -> tuple[list[dict[str, Any]], BaseException | None]:
    """Run a sync in-process; return every message written (even if it failed) and the error.

    The output writer writes to `sys.stdout.buffer`, here a BytesIO, so what a failed run wrote
    before failing is all there, as a target would have read it."""
    catalog = catalog_for(config, streams or {"vouchers"}, deselected)
    tap = TapVoucherifyExports(config=config, catalog=catalog, state=state)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            tap.sync_all()
        except Exception as exc:
            error = exc
    out.flush()
    text = out.buffer.getvalue().decode("utf-8")  # type: ignore[attr-defined]
    return [json.loads(line) for line in text.splitlines() if line.strip()], error


def run_sync(config: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    """Run a full sync in-process and return the Singer messages it wrote; raise its error."""
    messages, error = sync(config, **kwargs)
    if error is not None:
        raise error
    return messages


def records(messages: list[dict[str, Any]], stream: str = "vouchers") -> list[dict[str, Any]]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["value"] for m in messages if m["type"] == "STATE"]


def without_ledger(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with the ledger of exports (jobs/ledger.py) left out of every STATE, and the
    STATEs that only changed the ledger (written as exports are created, at times that depend
    on the threads) dropped: what singer-sdk's own writer would have written."""
    kept: list[dict[str, Any]] = []
    last: dict[str, Any] = {"bookmarks": {}}  # what the tap writes the ledger into at first
    for message in messages:
        if message["type"] == "STATE":
            value = {k: v for k, v in message["value"].items() if k != LEDGER_KEY}
            if value == last:
                continue
            last = value
            kept.append({**message, "value": value})
        else:
            kept.append(message)
    return kept


def spy_on_pieces(monkeypatch: Any, chunk_bytes: int) -> list[int]:
    """Cut exports in pieces of about `chunk_bytes` for `parallel_workers`, and list the size of
    each piece handed to a worker (proof that the workers read the sync)."""
    from tap_voucherify_exports.output import workers

    monkeypatch.setattr(workers, "PIECE_BYTES", chunk_bytes)
    sizes: list[int] = []
    submit = workers.ParallelParser.submit

    def spy(self: workers.ParallelParser, spec: workers.PieceSpec, data: bytes) -> Any:
        sizes.append(len(data))
        return submit(self, spec, data)

    monkeypatch.setattr(workers.ParallelParser, "submit", spy)
    return sizes
