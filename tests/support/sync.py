"""Run a sync in-process and read what it wrote: build a catalog, run, pick messages apart."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Collection
from typing import Any

from tap_voucherify_exports.export_stream import VoucherifyExportStream
from tap_voucherify_exports.jobs.ledger import STATE_KEY as LEDGER_KEY
from tap_voucherify_exports.streams import STREAM_TYPES
from tap_voucherify_exports.tap import TapVoucherifyExports


def declared(stream_type: type[VoucherifyExportStream], attribute: str) -> Any:
    """What a stream declaration sets on its class: `name`, `primary_keys`, `replication_key`.

    singer-sdk types these per instance (set in `Stream.__init__`, or properties), so a type
    checker does not see the class attributes the declarations set; at run time they are there."""
    return getattr(stream_type, attribute)


STREAM_OBJECTS: dict[str, str] = {
    declared(stream, "name"): stream.exported_object for stream in STREAM_TYPES
}
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    declared(stream, "name"): tuple(declared(stream, "primary_keys")) for stream in STREAM_TYPES
}


def catalog_for(
    config: dict[str, Any], streams: Collection[str], deselected: Collection[str] = frozenset()
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
    deselected: Collection[str] = frozenset(),
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
    text = out.buffer.getvalue().decode("utf-8")
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


def bookmarks(messages: list[dict[str, Any]], stream: str) -> list[str]:
    """Every `replication_key_value` of `stream` in the STATE messages, in order."""
    values = []
    for m in messages:
        if m["type"] == "STATE":
            value = m["value"].get("bookmarks", {}).get(stream, {}).get("replication_key_value")
            if value:
                values.append(value)
    return values


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
