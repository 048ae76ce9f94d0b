"""Fixtures for the emulator's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.emulator import small_emulator
from voucherify_emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with small_emulator() as emu:
        yield emu
