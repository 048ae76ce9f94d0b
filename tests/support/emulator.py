"""Emulators for the integration, reliability and emulator tests; tap configs pointing at them;
hooks on the requests they receive."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

import requests

from voucherify_emulator import Emulator, RecordedRequest

# Integration tests: a few hundred rows per object, every object.
SMALL_ROWS = {
    "voucher": 400,
    "redemption": 300,
    "publication": 200,
    "customer": 200,
    "points_expiration": 50,
    "order": 100,
    "voucher_transactions": 150,
}
# Reliability tests: the objects the fault matrix syncs, over 2021-2025.
RELIABILITY_ROWS = {"voucher": 400, "customer": 150, "publication": 150, "redemption": 150,
                    "order": 100, "points_expiration": 40}  # fmt: skip


def small_emulator() -> Emulator:
    """An emulator of SMALL_ROWS answering jobs in 20 ms, not started (a context manager)."""
    return Emulator(seed=11, rows=SMALL_ROWS, job_latency_seconds=0.02)


def reliability_emulator() -> Emulator:
    """An emulator of RELIABILITY_ROWS answering jobs in 20 ms, not started."""
    return Emulator(seed=5, rows=RELIABILITY_ROWS, job_latency_seconds=0.02)


def tap_config(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    """`Emulator.tap_config` from a year before the data (an empty first window), 30 s jobs."""
    return emulator.tap_config(
        **{"start_date": "2020-01-01T00:00:00Z", "export_timeout": 30, **overrides}
    )


def base_config(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    """`Emulator.tap_config` over the 2021-2025 rows (4 full yearly windows + 1 day), 30 s jobs."""
    return emu.tap_config(**{"end_date": "2025-01-02T00:00:00Z", "export_timeout": 30, **overrides})


_MODULE_EMULATORS: list[Emulator] = []


def module_level_emulator(**kwargs: Any) -> Emulator:
    """An emulator for code that needs one at import time (the SDK's standard test class).

    It is stopped by `stop_module_emulators` when the session ends (a conftest hook), whether or
    not the module's tests ran: a server thread left running would keep the interpreter from
    exiting.
    """
    emulator = Emulator(**kwargs).start()
    _MODULE_EMULATORS.append(emulator)
    return emulator


def stop_module_emulators() -> None:
    """Stop every emulator `module_level_emulator` started."""
    while _MODULE_EMULATORS:
        _MODULE_EMULATORS.pop().stop()


def is_create(request: RecordedRequest, exported_object: str | None = None) -> bool:
    """Whether `request` is a `POST /v1/exports` (of `exported_object`, if given)."""
    if request.origin != "api" or request.method != "POST":
        return False
    body = request.body if isinstance(request.body, dict) else {}
    return exported_object is None or body.get("exported_object") == exported_object


def on_nth_create(
    emu: Emulator, n: int, action: Callable[[], None], exported_object: str | None = None
) -> None:
    """Run `action` (e.g. arm a fault) when the n-th `POST /v1/exports` (of `exported_object`,
    if given) arrives, before it is served: with max_concurrent_exports=1 that targets the n-th
    window exactly."""
    seen = 0

    def count(request: RecordedRequest) -> None:
        nonlocal seen
        if is_create(request, exported_object):
            seen += 1
            if seen == n:
                action()

    emu.on_request(count)


def export_creates(emu: Emulator, exported_object: str | None = None) -> int:
    """How many `POST /v1/exports` (of `exported_object`, if given) the emulator has received."""
    return sum(1 for r in emu.requests if is_create(r, exported_object))


def arrival_times(emu: Emulator) -> list[float]:
    """When each request in `emu.requests` arrived (epoch seconds, same index)."""
    return [request.at for request in emu.requests]


def list_calls(emu: Emulator, path: str) -> list[RecordedRequest]:
    """The `GET` calls the emulator received on one list endpoint (`/v1/vouchers`, …)."""
    return [
        r
        for r in emu.requests
        if r.origin == "api" and r.method == "GET" and r.path.rstrip("/") == path
    ]


def busiest_window(calls: list[RecordedRequest], window: float) -> int:
    """The most of `calls` that arrived within any `window` seconds (a sliding window)."""
    times = sorted(r.at for r in calls)
    return max((bisect.bisect_left(times, t + window) - n for n, t in enumerate(times)), default=0)


def busiest_span(emu: Emulator, seconds: float) -> int:
    """The most calls to the API and download origins that arrived within any `seconds`."""
    return busiest_window([r for r in emu.requests if r.origin in ("api", "download")], seconds)


def create_export_as_someone_else(emu: Emulator) -> str:
    """An export made on the account by another client: the tap must never touch it."""
    response = requests.post(
        f"{emu.api_url}/v1/exports",
        headers={"X-App-Id": emu.app_id, "X-App-Token": emu.app_token},
        json={"exported_object": "voucher", "parameters": {"fields": ["id", "code"]}},
        timeout=10,
    )
    response.raise_for_status()
    export_id: str = response.json()["id"]
    return export_id
