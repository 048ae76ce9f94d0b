"""Changed rows over real HTTP: sync, change rows in the emulator, sync again from the state; a
target upserting on the primary key then holds the emulator's current ground truth."""

from __future__ import annotations

from typing import Any

from tap_voucherify_exports.export_stream import CHANGES_STATE_KEY
from tests.support.emulator import tap_config
from tests.support.sync import PRIMARY_KEYS, STREAM_OBJECTS, records, run_sync, states
from voucherify_emulator import Emulator

CHANGING = {"vouchers": "voucher", "customers": "customer", "orders": "order"}


def upsert(table: dict[str, dict[str, Any]], messages: list[dict], stream: str) -> None:
    """What a target does with a stream's records: insert or replace by primary key."""
    (key,) = PRIMARY_KEYS[stream]
    for record in records(messages, stream):
        table[record[key]] = record


def same_values(record: dict[str, Any], truth: dict[str, str]) -> bool:
    """The record carries the ground-truth row's mutable values (compared as CSV text)."""
    for field in ("updated_at", "redemption_count", "loyalty_points", "status"):
        if field in truth:
            value = record[field]
            if (value is None and truth[field]) or (
                value is not None and str(value) != truth[field]
            ):
                return False
    return True


def test_a_second_sync_after_changes_leaves_a_target_equal_to_the_current_ground_truth(
    emulator: Emulator,
) -> None:
    config = tap_config(emulator)
    first = run_sync(config, streams=set(CHANGING))
    tables: dict[str, dict[str, dict[str, Any]]] = {stream: {} for stream in CHANGING}
    for stream in CHANGING:
        upsert(tables[stream], first, stream)
    exports_before = len(emulator.exports)

    for exported_object in CHANGING.values():
        emulator.update_rows(exported_object, 9)
        emulator.add_rows(exported_object, 4)
    second = run_sync(config, streams=set(CHANGING), state=states(first)[-1])

    for stream, exported_object in CHANGING.items():
        upsert(tables[stream], second, stream)
        truth = {row["id"]: row for row in emulator.ground_truth(exported_object)}
        assert tables[stream].keys() == truth.keys(), stream
        stale = [key for key, row in truth.items() if not same_values(tables[stream][key], row)]
        assert not stale, f"{stream}: {len(stale)} rows not current, e.g. {stale[:3]}"
        # Only what changed or was created since the first sync, not the backfill again.
        assert 13 <= len(records(second, stream)) <= 13 + 6, stream

    jobs = emulator.exports[exports_before:]
    assert {job.parameters["order"] for job in jobs} == {"created_at", "updated_at"}
    assert len(jobs) == 2 * len(CHANGING)  # one created_at and one updated_at window each
    final = states(second)[-1]["bookmarks"]
    for stream in CHANGING:
        assert final[stream][CHANGES_STATE_KEY]["replication_key"] == "updated_at"


def test_append_only_streams_export_only_new_rows_on_the_second_sync(emulator: Emulator) -> None:
    streams = set(STREAM_OBJECTS) - set(CHANGING) - {"points_expirations"}
    config = tap_config(emulator)
    first = run_sync(config, streams=streams)
    for stream in streams:
        emulator.add_rows(STREAM_OBJECTS[stream], 3)
    second = run_sync(config, streams=streams, state=states(first)[-1])
    for stream in streams:
        assert 3 <= len(records(second, stream)) <= 6, stream
    assert all("updated_at" not in str(job.parameters) for job in emulator.exports)
