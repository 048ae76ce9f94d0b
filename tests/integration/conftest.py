"""Integration fixtures: a real emulator on 127.0.0.1 and a tap config pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from voucherify_emulator import Emulator

SMALL_ROWS = {
    "voucher": 400,
    "redemption": 300,
    "publication": 200,
    "customer": 200,
    "points_expiration": 50,
    "order": 100,
    "voucher_transactions": 150,
}


def tap_config(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    """`Emulator.tap_config` from a year before the data (an empty first window), 30 s jobs."""
    return emulator.tap_config(
        **{"start_date": "2020-01-01T00:00:00Z", "export_timeout": 30, **overrides}
    )


_MODULE_EMULATORS: list[Emulator] = []


def module_level_emulator(**kwargs: Any) -> Emulator:
    """An emulator for code that needs one at import time (the SDK's standard test class).

    It is stopped when the session ends, whether or not the module's tests ran: a server thread
    left running would keep the interpreter from exiting.
    """
    emulator = Emulator(**kwargs).start()
    _MODULE_EMULATORS.append(emulator)
    return emulator


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    while _MODULE_EMULATORS:
        _MODULE_EMULATORS.pop().stop()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=11, rows=SMALL_ROWS, job_latency_seconds=0.02) as emu:
        yield emu
