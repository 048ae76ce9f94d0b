"""Reliability fixtures: an emulator of RELIABILITY_ROWS, and control over the client's retry
pauses. Helpers (ground truth, configs, `on_nth_create`) live in tests/support."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import backoff._sync
import pytest

from tap_voucherify_exports.api import retries
from tests.support.emulator import reliability_emulator
from voucherify_emulator import Emulator


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
def emulator() -> Iterator[Emulator]:
    with reliability_emulator() as emu:
        yield emu
