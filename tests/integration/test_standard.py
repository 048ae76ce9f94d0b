"""singer-sdk's standard tap tests, run offline against the local emulator."""

from __future__ import annotations

from singer_sdk.testing import get_tap_test_class

from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.support.emulator import SMALL_ROWS, module_level_emulator, tap_config
from tests.support.sync import catalog_for

# The SDK builds its test class from a config at import time, so the emulator starts here; the
# session's end stops it.
_EMULATOR = module_level_emulator(seed=5, rows=SMALL_ROWS, job_latency_seconds=0.01)
# A few vouchers in the bin, so `bin_entries` has records to test too.
_EMULATOR.remove_rows("voucher", 5, to_bin=True)

_CONFIG = tap_config(_EMULATOR)
# Every stream selected, voucher_transactions too (not selected by default: streams.py).
_ALL = {s["tap_stream_id"] for s in TapVoucherifyExports(config=_CONFIG).catalog_dict["streams"]}
_StandardTests = get_tap_test_class(
    tap_class=TapVoucherifyExports,
    config=_CONFIG,
    catalog=catalog_for(_CONFIG, _ALL),
)


class TestTapVoucherifyExportsStandard(_StandardTests):  # type: ignore[misc, valid-type]
    """The SDK's tap, stream and attribute tests."""
