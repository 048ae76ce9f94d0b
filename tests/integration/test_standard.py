"""singer-sdk's standard tap tests, run offline against the local emulator."""

from __future__ import annotations

from singer_sdk.testing import get_tap_test_class

from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.support.emulator import SMALL_ROWS, module_level_emulator, tap_config

# The SDK builds its test class from a config at import time, so the emulator starts here; the
# session's end stops it.
_EMULATOR = module_level_emulator(seed=5, rows=SMALL_ROWS, job_latency_seconds=0.01)
# A few vouchers in the bin, so `bin_entries` has records to test too.
_EMULATOR.remove_rows("voucher", 5, to_bin=True)

_StandardTests = get_tap_test_class(
    tap_class=TapVoucherifyExports,
    config=tap_config(_EMULATOR),
)


class TestTapVoucherifyExportsStandard(_StandardTests):  # type: ignore[misc, valid-type]
    """The SDK's tap, stream and attribute tests."""
