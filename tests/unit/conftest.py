"""Fixtures for unit tests: a config, the fake Exports API and a way to run a sync."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests_mock

from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.unit.fake_api import FakeVoucherify

SECRET = "sk-very-secret-token-123"


@pytest.fixture
def config() -> dict[str, Any]:
    return {
        "app_id": "app-id-1",
        "app_token": SECRET,
        "start_date": "2024-01-01T00:00:00Z",
        "end_date": "2024-03-01T00:00:00Z",
        "window_days": 30,
        "poll_interval_max": 0.01,
        "max_concurrent_exports": 1,
    }


@pytest.fixture
def fake() -> Iterator[FakeVoucherify]:
    with requests_mock.Mocker() as mocker:
        yield FakeVoucherify(mocker).install()


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


def run_sync(
    config: dict[str, Any],
    streams: set[str] | None = None,
    state: dict[str, Any] | None = None,
    deselected: set[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Run a full sync in-process and return the Singer messages it wrote."""
    catalog = catalog_for(config, streams or {"vouchers"}, deselected)
    tap = TapVoucherifyExports(config=config, catalog=catalog, state=state)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def records(messages: list[dict[str, Any]], stream: str = "vouchers") -> list[dict[str, Any]]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["value"] for m in messages if m["type"] == "STATE"]
