"""Security: secrets never leave the process in logs, errors or state; hostile export files end
in a clear error in bounded memory. (HTTPS for non-loopback hosts is a config error: see
tests/unit/test_settings.py::test_bad_config_fails_with_the_setting_named, the
`http://api.example.com` case.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import traceback
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from tap_voucherify_exports.fields import TABLES
from tests.support.emulator import base_config
from tests.support.hostile import HostileServer, repeated
from tests.support.sync import catalog_for, sync
from voucherify_emulator import Emulator
from voucherify_emulator.tapconfig import tap_config

SECRET = "sk_live_7f3c9a1e5b2d4c6e8a0b"  # distinctive: any occurrence is a leak
APP_ID = "app_5e8d2b7c91f0"  # likewise: the app keys are a pair, neither half is logged
TAP = Path(sys.executable).with_name("tap-voucherify-exports")
JWT_PREFIX = "eyJ"  # base64url of '{"' : every JWT header (and payload) starts with it


def without_export_ids(text: str, export_ids: list[str]) -> str:
    """`text` with the emulator's export ids cut out before looking for JWT_PREFIX: they are not
    secrets, and 24 random alphanumerics hold "eyJ" about once in 11,000 ids. (A full-suite run
    once found "eyJ" in an output with no token in it, most likely in an export id.)"""
    for export_id in export_ids:
        text = text.replace(export_id, "exp_…")
    return text


Arm = Callable[[Emulator], None]
SCENARIOS: dict[str, tuple[Arm, bool]] = {
    # name: (faults to arm, whether the run is expected to succeed)
    "429": (lambda e: e.inject("rate_limit", phase="download", retry_after=1), True),
    "5xx": (lambda e: e.inject("server_error", phase="any", times=2, status=502), True),
    "401-download": (lambda e: e.inject("expire_token", ttl_seconds=0, times=2), True),
    "reset-download": (lambda e: e.inject("reset_download", after_bytes=3000), True),
    "error-status-split": (lambda e: e.inject("job_error", times=1), True),
    "error-status-exhausted": (lambda e: e.inject("job_error", times=None), False),
    "token-keeps-expiring": (lambda e: e.inject("expire_token", ttl_seconds=0, times=None), False),
    "malformed-row": (lambda e: e.inject("malformed_row", kind="bad_date"), False),
    "foreign-host": (lambda e: e.inject("foreign_download_host"), False),
}
# The same with auth_method oauth: the app keys go only to the token endpoint, bearers elsewhere.
OAUTH_SCENARIOS: dict[str, tuple[Arm, bool]] = {
    # The bearer expires before the download: a 401, a second token, the run completes.
    "oauth-renewed": (lambda e: e.inject("expire_oauth_token", phase="download"), True),
    "oauth-5xx": SCENARIOS["5xx"],
    # Every download finds its bearer expired: renewal after renewal, then the run fails.
    "oauth-keeps-expiring": (
        lambda e: e.inject("expire_oauth_token", phase="download", times=None),
        False,
    ),
}


@pytest.mark.parametrize("scenario", [*SCENARIOS, *OAUTH_SCENARIOS])
def test_no_secret_or_download_token_in_any_output_at_debug_level(tmp_path, scenario):
    auth_method = "oauth" if scenario in OAUTH_SCENARIOS else "app_keys"
    arm, succeeds = {**SCENARIOS, **OAUTH_SCENARIOS}[scenario]
    emulator = Emulator(
        seed=9, rows={"voucher": 200}, job_latency_seconds=0.02, app_id=APP_ID, app_token=SECRET
    )
    with emulator as emu:
        config = base_config(
            emu, max_concurrent_exports=1, min_window_seconds=90 * 86400, auth_method=auth_method
        )
        (tmp_path / "config.json").write_text(json.dumps(config))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog_for(config, {"vouchers"})))
        arm(emu)
        run = subprocess.run(
            [str(TAP), "--config", str(tmp_path / "config.json"),
             "--catalog", str(tmp_path / "catalog.json")],
            check=False, capture_output=True, text=True, timeout=60,
            env={**os.environ, "LOGLEVEL": "DEBUG"},
        )  # fmt: skip
        tokens = [r.query["token"][0] for r in emu.requests if "token" in r.query]
        bearers = emu.oauth.issued
        sent = {r.headers.get("Authorization", "").removeprefix("Bearer ") for r in emu.requests}
        export_ids = [job.id for job in emu.exports]
    output = run.stdout + run.stderr
    assert (run.returncode == 0) is succeeds, run.stderr[-2000:]
    assert " DEBUG " in run.stderr  # debug logging really was on (urllib3 logs every URL)
    assert SECRET not in output
    assert APP_ID not in output
    assert JWT_PREFIX not in without_export_ids(output, export_ids)
    if succeeds:
        assert tokens  # the download tokens the emulator minted reached the tap
    for token in tokens:
        assert token not in output
        assert token.split(".")[2] not in output  # not even the signature alone
    if auth_method == "oauth":
        assert set(bearers) <= sent  # every token issued was used: the tap really held each
        assert len(bearers) >= (1 if scenario == "oauth-5xx" else 2)
    else:
        assert bearers == []
    for bearer in bearers:
        assert bearer not in output
        assert bearer[:12] not in output  # not even a prefix of one
    if not succeeds:
        assert "Traceback" in run.stderr or "ERROR" in run.stderr


def test_errors_and_state_carry_no_secret_in_process(tmp_path):
    with Emulator(seed=9, rows={"voucher": 200}, job_latency_seconds=0.02, app_token=SECRET) as emu:
        emu.inject("expire_token", ttl_seconds=0, times=None)
        messages, error = sync(base_config(emu, max_concurrent_exports=1))
        export_ids = [job.id for job in emu.exports]
    assert error is not None
    rendered = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    rendered += json.dumps([m for m in messages if m["type"] == "STATE"])
    assert SECRET not in rendered
    assert JWT_PREFIX not in without_export_ids(rendered, export_ids)


# --- hostile export files ------------------------------------------------------------------------
MB = 1 << 20
KEYS = TABLES["voucher"].keys
HEADER = (",".join(KEYS) + "\r\n").encode()
PEAK_LIMIT = 50 * MB


def hostile_config(url: str) -> dict[str, object]:
    return tap_config(url, "a", SECRET, window_days=1, start_date="2024-01-01T00:00:00Z",
                      end_date="2024-01-02T00:00:00Z")  # fmt: skip


def run_hostile(body) -> tuple[BaseException | None, int, int]:
    """Sync one export whose file is `body`; return the error, peak traced memory, downloads."""
    with HostileServer(body) as server:
        tracemalloc.start()
        try:
            messages, error = sync(hostile_config(server.url))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert not [m for m in messages if m["type"] == "RECORD"]
    marks = [m["value"].get("bookmarks", {}).get("vouchers", {}) for m in messages
             if m["type"] == "STATE"]  # fmt: skip
    assert not [mark for mark in marks if mark.get("replication_key_value")]
    return error, peak, server.downloads


HOSTILE = {
    "50MB-unquoted-cell": (
        lambda: repeated(HEADER + b"v1,", b"A", 50 * MB, b"\r\n"),
        r"vouchers: line 2 is longer than \d+ characters",
    ),
    "50MB-quoted-cell-one-line": (
        lambda: repeated(HEADER + b'v1,"', b"A", 50 * MB, b'"\r\n'),
        r"vouchers: line 2 is longer than \d+ characters",
    ),
    "50MB-quoted-cell-many-lines": (
        lambda: repeated(HEADER + b'v1,"', b"AAAAAAA\n", 50 * MB, b'"\r\n'),
        r"vouchers: malformed CSV at line \d+: field larger than field limit",
    ),
    "NUL-bytes": (
        lambda: (None, iter([HEADER, b"v1,\x00abc" + b"," * (len(KEYS) - 2) + b"\r\n"])),
        r"vouchers: line 2 contains a NUL byte",
    ),
    "10k-cells-in-a-row": (
        lambda: (None, iter([HEADER, b",".join([b"x"] * 10_000) + b"\r\n"])),
        r"vouchers: line 2 has 10000 cells but the header has 33 columns",
    ),
    "10k-columns-header": (
        lambda: (None, iter([",".join(f"c{i}" for i in range(10_000)).encode() + b"\r\n"])),
        r"vouchers: cannot tell which column holds which field: .* it has 10000 columns for 33 "
        r"requested fields",
    ),
    "invalid-UTF-8": (
        lambda: (None, iter([HEADER, b"v1,\xff\xfe\xfa" + b"," * (len(KEYS) - 2) + b"\r\n"])),
        r"vouchers: the export is not valid UTF-8 near line \d+: invalid start byte",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_csv_fails_clearly_in_bounded_memory(case):
    body, message = HOSTILE[case]
    error, peak, downloads = run_hostile(body)
    assert error is not None
    assert re.search(message, str(error)), str(error)[:500]
    assert peak < PEAK_LIMIT, f"peak traced memory {peak / MB:.0f} MB"
    assert downloads == 1  # a hostile file is not a broken download: no retry


def test_a_10k_column_header_error_message_stays_short():
    body, _ = HOSTILE["10k-columns-header"]
    error, _, _ = run_hostile(body)
    assert len(str(error)) < 4000
