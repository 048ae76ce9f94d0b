"""Fixtures for unit tests: a config, the fake Exports API and a way to run a sync."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests_mock

from tests.support.fake_api import SECRET, FakeVoucherify


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every `time.sleep` of the test, recorded instead of slept (backoff's pauses among them)."""
    waited: list[float] = []
    monkeypatch.setattr(time, "sleep", waited.append)
    return waited


@pytest.fixture
def config() -> dict[str, Any]:
    return {
        "app_id": "app-id-1",
        "app_token": SECRET,
        "start_date": "2024-01-01T00:00:00Z",
        "end_date": "2024-03-01T00:00:00Z",
        "window_days": 30,
        "backfill_window_days": 30,  # the window tests count jobs per 30 days, first run or not
        "poll_interval_max": 0.01,
        "max_concurrent_exports": 1,
        "max_requests_per_minute": 100000,  # the rate gate has tests of its own
        "full_refresh_days": 0,  # cursor tests plan exact windows; test_refresh.py turns it on
    }


@pytest.fixture
def fake() -> Iterator[FakeVoucherify]:
    with requests_mock.Mocker() as mocker:
        yield FakeVoucherify(mocker).install()
