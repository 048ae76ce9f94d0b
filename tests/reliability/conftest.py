"""Shared helpers for the reliability tests: capture a sync that may fail, compare with the
emulator's ground truth by primary key, time the retries the client sleeps through."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import backoff._sync
import pytest

from tap_voucherify_exports.api import retries
from tests.helpers import key_of, truth_keys
from voucherify_emulator import Emulator


def base_config(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    """`Emulator.tap_config` over the 2021-2025 rows (4 full yearly windows + 1 day), 30 s jobs."""
    return emu.tap_config(**{"end_date": "2025-01-02T00:00:00Z", "export_timeout": 30, **overrides})


def record_keys(messages: list[dict[str, Any]], stream: str) -> Counter:
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


def bookmarks(messages: list[dict[str, Any]], stream: str) -> list[str]:
    values = []
    for m in messages:
        if m["type"] == "STATE":
            value = m["value"].get("bookmarks", {}).get(stream, {}).get("replication_key_value")
            if value:
                values.append(value)
    return values


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every pause backoff takes between retries (really slept), in order."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(backoff._sync, "time", SimpleNamespace(sleep=sleep))
    return slept


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> float:
    """Exponential backoff starting at 50 ms instead of 1 s (the sequence is what is tested)."""
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.05)
    return 0.05


@pytest.fixture
def request_times(emulator: Emulator) -> list[float]:
    """Wall-clock arrival time of each request in `emulator.requests` (same index)."""
    times: list[float] = []
    recorder = emulator.recorder
    original = recorder.add

    def add(request: Any) -> None:
        times.append(time.time())
        original(request)

    recorder.add = add  # type: ignore[method-assign]
    return times


def on_nth_create(emu: Emulator, n: int, action: Callable[[], None]) -> None:
    """Run `action` (e.g. arm a fault) when the n-th `POST /v1/exports` arrives, before it is
    served: with max_concurrent_exports=1 that targets the n-th window exactly."""
    recorder = emu.recorder
    original = recorder.add
    seen = 0

    def add(request: Any) -> None:
        nonlocal seen
        original(request)
        if request.origin == "api" and request.method == "POST":
            seen += 1
            if seen == n:
                action()

    recorder.add = add  # type: ignore[method-assign]


ROWS = {"voucher": 400, "customer": 150, "publication": 150, "redemption": 150, "order": 100,
        "points_expiration": 40}  # fmt: skip


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=5, rows=ROWS, job_latency_seconds=0.02) as emu:
        yield emu
