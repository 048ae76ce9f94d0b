"""The emulator's ground truth by primary key, and a sync's records held against it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.support.sync import PRIMARY_KEYS, STREAM_OBJECTS
from voucherify_emulator import Emulator

TIMESTAMP_KEYS = {"date", "created_at"}


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


def record_keys(messages: list[dict[str, Any]], stream: str) -> Counter[tuple[str, ...]]:
    """The primary key of every RECORD of `stream`, counted."""
    return Counter(
        key_of(stream, m["record"])
        for m in messages
        if m["type"] == "RECORD" and m["stream"] == stream
    )


def assert_ground_truth(messages: list[dict[str, Any]], emu: Emulator, streams: set[str]) -> None:
    """Every stream's output is exactly the ground truth: same keys, none missing, none twice."""
    for stream in streams:
        got, want = record_keys(messages, stream), truth_keys(emu, stream)
        assert want, f"{stream}: the emulator has no rows; the test proves nothing"
        assert set(got) == set(want), f"{stream}: missing {len(set(want) - set(got))} keys"
        duplicates = {k: n for k, n in got.items() if n > want[k]}
        assert not duplicates, f"{stream}: emitted twice: {list(duplicates)[:5]}"
