"""Integration fixtures: a real emulator on 127.0.0.1 (tests/support/emulator.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.emulator import small_emulator, stop_module_emulators
from voucherify_emulator import Emulator


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_module_emulators()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with small_emulator() as emu:
        yield emu
