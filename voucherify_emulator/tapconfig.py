"""The one builder of tap configs for tests, the crash-resume harness and the benchmarks.

Setting names are those of tap-voucherify-exports (its README's settings table); they are spelled
here rather than imported, so the emulator stays independent of the tap it serves.
"""

from __future__ import annotations

from typing import Any

from voucherify_emulator.timeline import INITIAL_START_MS, iso_ms

DATA_START = iso_ms(INITIAL_START_MS).replace(".000Z", "Z")  # the first initial row's date


def tap_config(
    api_url: str,
    app_id: str,
    app_token: str,
    download_url: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A tap config for a server at `api_url`: yearly windows from the data's start, fast polls.

    An override of None removes that setting, leaving it at the tap's default (the benchmarks
    measure with the tap's own polling).
    """
    config: dict[str, Any] = {
        "app_id": app_id,
        "app_token": app_token,
        "api_url": api_url,
        "download_url": download_url,
        "start_date": DATA_START,
        "window_days": 365,
        "poll_interval_max": 0.05,
        **overrides,
    }
    return {key: value for key, value in config.items() if value is not None}
