"""singer-sdk's standard tap tests, run offline against the local emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_tap_test_class

from tap_voucherify_exports.emulator import Emulator
from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.integration.conftest import SMALL_ROWS, tap_config

# The SDK builds its test class from a config at import time, so the emulator starts here and a
# module fixture stops it.
_EMULATOR = Emulator(seed=5, rows=SMALL_ROWS, job_latency_seconds=0.01).start()

_StandardTests = get_tap_test_class(
    tap_class=TapVoucherifyExports,
    config=tap_config(_EMULATOR),
)


@pytest.fixture(scope="module", autouse=True)
def _stop_emulator() -> Iterator[None]:
    yield
    _EMULATOR.stop()


class TestTapVoucherifyExportsStandard(_StandardTests):  # type: ignore[misc, valid-type]
    """The SDK's tap, stream and attribute tests."""
