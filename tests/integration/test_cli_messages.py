"""What a user sees: the installed `tap-voucherify-exports` run as a subprocess, its stderr and
exit status, for bad settings and for errors the tap raises on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.helpers.capabilities import BATCH_CONFIG, FLATTENING_CONFIG, STREAM_MAPS_CONFIG

from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.support.cli import TAP, error_lines, patched_tap, run_tap
from tests.support.network import closed_port
from tests.support.sync import catalog_for
from voucherify_emulator import Emulator

# The tap's CLI with retries 100 times shorter (backoff from 10 ms, not 1 s; no setting sets it),
# for failures that are retried before the run ends: the same entry point as TAP otherwise.
QUICK_RETRIES_TAP = patched_tap("tap_voucherify_exports.api.retries", BACKOFF_BASE_SECONDS=0.01)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=5, rows={"voucher": 30, "customer": 20}, job_latency_seconds=0.05) as emu:
        yield emu


def good_config(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    return emu.tap_config(
        **{"start_date": "2020-01-01T00:00:00Z", "window_days": 3650, **overrides}
    )


# One row (or more) per setting the tap declares (tap.py), and some of singer-sdk's: a bad value
# and the start of its line. `metadata_keys` has its own test below, in every command.
BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"app_id": ""}, "Setting `app_id` is required: the Voucherify Application ID from "),
    (
        {"download_url": "eu"},
        "Setting `download_url` must be an http(s) URL such as https://download.voucherify.io "
        "(or leave it unset: the region's download host); got 'eu'.",
    ),
    ({"auth_method": "token"}, "Setting `auth_method` must be one of app_keys, oauth; got "),
    ({"oauth_scope": 3}, "Setting `oauth_scope`: 3 is not of type 'string', 'null'."),
    (
        {"backfill_window_days": 0},
        "Setting `backfill_window_days` must be at least 1; got 0.",
    ),
    ({"full_refresh_days": -1}, "Setting `full_refresh_days` must be at least 0; got -1."),
    ({"min_window_seconds": 0}, "Setting `min_window_seconds` must be at least 1; got 0."),
    (
        {"min_window_seconds": 86401, "window_days": 1},
        "Setting `min_window_seconds` must not exceed `window_days` (1 days = 86400 s); got ",
    ),
    ({"poll_interval_max": 0}, "Setting `poll_interval_max` must be at least 0.01; got 0."),
    ({"request_timeout": "slow"}, "Setting `request_timeout` must be a number; got 'slow'."),
    (
        {"max_requests_per_minute": 0},
        "Setting `max_requests_per_minute` must be at least 1; got 0.",
    ),
    (
        {"max_requests_per_hour": 0},
        "Setting `max_requests_per_hour` must be at least 1; got 0.",
    ),
    (
        {"max_requests_per_hour": -100},
        "Setting `max_requests_per_hour` must be at least 1; got -100.",
    ),
    (
        {"max_requests_per_hour": "100/h"},
        "Setting `max_requests_per_hour` must be a number; got '100/h'.",
    ),
    (
        {"max_requests_per_hour": 99.5},
        "Setting `max_requests_per_hour` must be a whole number; got 99.5.",
    ),
    (
        {"creation_only_streams": ["redemptions"]},
        "Setting `creation_only_streams` names redemptions: only vouchers, customers, orders "
        "export changed rows; got ['redemptions'].",
    ),
    (
        {"creation_only_streams": "vouchers"},
        "Setting `creation_only_streams` must be a list of stream names; got 'vouchers'.",
    ),
    (
        {"verify_counts": "strict"},
        "Setting `verify_counts` must be one of off, warn, fail; got 'strict'.",
    ),
    (
        {"start_date": "yesterday"},
        "Setting `start_date` must be an ISO 8601 date or date-time such as "
        "2024-01-01T00:00:00Z; got 'yesterday'.",
    ),
    ({"window_days": 0}, "Setting `window_days` must be at least 1; got 0."),
    ({"api_url": "ftp://x"}, "Setting `api_url` must be an http(s) URL such as "),
    ({"api_url": "eu1"}, "or a region name (eu, us1, as1); got 'eu1'."),
    (
        {"end_date": "2019-06-01"},
        "Setting `end_date` must be later than `start_date`; got end_date '2019-06-01', "
        "start_date '2020-01-01T00:00:00Z'.",
    ),
    ({"max_concurrent_exports": 1.5}, "Setting `max_concurrent_exports` must be a whole"),
    ({"delete_exports": "yes"}, "Setting `delete_exports` must be true or false; got 'yes'."),
    ({"export_timeout": -1}, "Setting `export_timeout` must be at least 0.01; got -1."),
    ({"app_token": ""}, "Setting `app_token` is required"),
    ({"stream_maps": 3}, "Setting `stream_maps`: 3 is not of type 'object', 'null'."),
    ({"parallel_workers": 0}, "Setting `parallel_workers` must be at least 1; got 0."),
    ({"parallel_workers": 33}, "Setting `parallel_workers` must be at most 32; got 33."),
    (
        {"trust_column_order": "yes"},
        "Setting `trust_column_order` must be true or false; got 'yes'.",
    ),
    (
        {
            "flattening_enabled": True,
            "flattening_max_depth": 1,
            "batch_config": {"encoding": {"format": "jsonl"}, "storage": {"root": "file://"}},
        },
        "Setting `flattening_enabled` does not apply to BATCH files (singer-sdk flattens "
        "SCHEMA and RECORD messages only), so with `batch_config` the SCHEMA and the files "
        "would disagree",
    ),
]


def test_the_bad_settings_table_has_a_row_for_every_setting_the_tap_declares() -> None:
    # singer-sdk adds its own settings to the class's schema once a tap is built: not those.
    sdk = {
        name
        for builtin in (STREAM_MAPS_CONFIG, FLATTENING_CONFIG, BATCH_CONFIG)
        for name in builtin["properties"]
    }
    declared = set(TapVoucherifyExports.config_jsonschema["properties"]) - sdk - {"metadata_keys"}
    assert "max_requests_per_hour" in declared
    assert declared - {name for overrides, _ in BAD_SETTINGS for name in overrides} == set()


@pytest.mark.parametrize(("overrides", "line"), BAD_SETTINGS)
def test_a_bad_setting_is_one_line_naming_it_before_any_message_or_request(
    emu: Emulator, tmp_path: Path, overrides: dict[str, Any], line: str
) -> None:
    result = run_tap(good_config(emu, **overrides), tmp_path)
    assert result.returncode == 1, result.stderr
    errors = error_lines(result.stderr)
    assert any(error.startswith(line) or line in error for error in errors), result.stderr
    assert errors[-1] == "Config validation failed: nothing was synced."
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # not even a SCHEMA: a target creates no table
    assert emu.requests == []


def test_every_bad_setting_is_reported_at_once(emu: Emulator, tmp_path: Path) -> None:
    config = good_config(emu, start_date="yesterday", window_days=0, api_url="ftp://x")
    result = run_tap(config, tmp_path)
    assert result.returncode == 1
    named = [error.split("`")[1] for error in error_lines(result.stderr)[:-1]]
    assert named == ["api_url", "start_date", "window_days"]


def test_test_mode_reports_bad_settings_the_same_way(emu: Emulator, tmp_path: Path) -> None:
    result = run_tap(good_config(emu, window_days=0), tmp_path, "--test")
    assert result.returncode == 1
    assert "Setting `window_days` must be at least 1; got 0." in error_lines(result.stderr)
    assert "Traceback" not in result.stderr
    assert emu.requests == []


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (None, "Config file '{path}' does not exist."),
        ("{app_id: a}", "Config file '{path}' is not JSON: Expecting property name enclosed in "
                        "double quotes at line 1, column 2."),
        ("", "Config file '{path}' is not JSON: Expecting value at line 1, column 1."),
        ('["app_id", "a"]', "Config file '{path}' holds a JSON list, not an object of settings "),
    ],
    ids=["missing", "not-json", "empty", "a-list"],
)  # fmt: skip
@pytest.mark.parametrize("command", [(), ("--discover",), ("--test",), ("--probe",)],
                         ids=["sync", "discover", "test", "probe"])  # fmt: skip
def test_a_config_file_that_cannot_be_read_is_one_line_naming_it(
    tmp_path: Path, content: str | None, line: str, command: tuple[str, ...]
) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    result = subprocess.run(
        [str(TAP), "--config", str(path), *command],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    [error] = error_lines(result.stderr)
    assert error.startswith(line.format(path=path)), error
    assert len(result.stderr.splitlines()) == 1, result.stderr  # nothing else, no traceback
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_config_directory_is_named_and_env_still_reads_the_environment(tmp_path: Path) -> None:
    folder = subprocess.run(
        [str(TAP), "--config", str(tmp_path), "--discover"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert folder.returncode == 1
    [error] = error_lines(folder.stderr)
    assert error == f"Config file '{tmp_path}' is a directory, not a JSON file."
    # `--config ENV` is singer-sdk's: settings from TAP_VOUCHERIFY_EXPORTS_*, no file to check.
    env = {"TAP_VOUCHERIFY_EXPORTS_START_DATE": "2024-01-01T00:00:00Z"}
    discovered = subprocess.run(
        [str(TAP), "--config", "ENV", "--discover"],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **env},
    )  # fmt: skip
    assert discovered.returncode == 0, discovered.stderr
    assert '"vouchers"' in discovered.stdout


def warning_lines(stderr: str) -> list[str]:
    """The text of each WARNING log line."""
    return [line.split("| ", 3)[-1] for line in stderr.splitlines() if "| WARNING" in line]


@pytest.mark.parametrize(
    "command",
    [(), ("--discover",), ("--test",), ("--test=schema",), ("--probe",)],
    ids=["sync", "discover", "test", "test-schema", "probe"],
)
@pytest.mark.parametrize(
    ("metadata_keys", "line"),
    [
        (
            {"vouchers": {"tier": "float"}},
            "Setting `metadata_keys` gives `vouchers` key `tier` the type 'float'; allowed: "
            "string, integer, number, boolean, date-time.",
        ),
        (
            {"points_expirations": ["region"]},
            "Setting `metadata_keys` names the stream `points_expirations`, which has no "
            "metadata fields; streams with metadata: vouchers, redemptions, publications, "
            "customers, orders.",
        ),
    ],
    ids=["bad-type", "stream-without-metadata"],
)
def test_a_bad_metadata_keys_is_one_line_naming_it_in_every_command(
    emu: Emulator, tmp_path: Path, command: tuple[str, ...], metadata_keys: Any, line: str
) -> None:
    # The catalog depends on `metadata_keys`: even discovery, which goes on past other bad
    # settings, stops (meltano runs it before every sync).
    result = run_tap(good_config(emu, metadata_keys=metadata_keys), tmp_path, *command)
    assert result.returncode == 1, result.stderr
    [error, last] = error_lines(result.stderr)
    assert error.startswith(line), error
    outcome = "no catalog was written" if command == ("--discover",) else "nothing was synced"
    assert last == f"Config validation failed: {outcome}."
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert emu.requests == []


def test_discovery_names_a_bad_setting_the_catalog_does_not_need_and_writes_the_catalog(
    emu: Emulator, tmp_path: Path
) -> None:
    # Discovery needs no credentials and no sync setting (`meltano select --list` may come
    # before they are set): each problem is a warning naming it; the sync refuses to start.
    result = run_tap(good_config(emu, window_days=0), tmp_path, "--discover")
    assert result.returncode == 0, result.stderr
    assert warning_lines(result.stderr) == [
        "Setting `window_days` must be at least 1; got 0. (The catalog does not depend on it; "
        "a sync will not start until it is fixed.)"
    ]
    assert error_lines(result.stderr) == []
    streams = {stream["tap_stream_id"] for stream in json.loads(result.stdout)["streams"]}
    assert "vouchers" in streams
    assert emu.requests == []


def test_about_describes_the_tap_without_reading_the_config(emu: Emulator, tmp_path: Path) -> None:
    result = run_tap(good_config(emu, metadata_keys={"vouchers": 3}), tmp_path, "--about")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Name: tap-voucherify-exports\n")
    assert "| ERROR" not in result.stderr
    assert emu.requests == []


def test_a_rejected_token_is_one_line_with_a_hint_and_no_traceback(
    emu: Emulator, tmp_path: Path
) -> None:
    result = run_tap(good_config(emu, app_token="wrong"), tmp_path)
    assert result.returncode == 1
    errors = error_lines(result.stderr)
    assert any(error.startswith("Voucherify API error 401") for error in errors), errors
    assert errors[-1] == (
        "Hint: Check app_id and app_token (Project Settings > API keys), and that api_url is "
        "the region of that project (eu, us1 or as1)."
    )
    assert "Traceback" not in result.stderr
    assert "wrong" not in result.stderr


def test_a_rejected_token_writes_nothing_to_stdout_so_a_target_creates_no_table(
    emu: Emulator, tmp_path: Path
) -> None:
    # Even with a state to resume from (the SDK writes it first) and exports planned ahead.
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"bookmarks": {"vouchers": {"replication_key": "created_at",
        "replication_key_value": "2021-01-01T00:00:00+00:00"}}}))  # fmt: skip
    result = run_tap(good_config(emu, app_token="wrong"), tmp_path, "--state", str(state))
    assert result.returncode == 1
    assert result.stdout == ""
    [error, hint] = error_lines(result.stderr)
    assert error.startswith("Voucherify API error 401")
    assert hint.startswith("Hint: Check app_id and app_token")
    assert [(r.method, r.path) for r in emu.requests] == [("GET", "/v1/exports")]
    assert emu.exports == []


def test_the_probe_with_a_rejected_token_is_one_line_and_a_hint_not_a_failure_per_stream(
    emu: Emulator, tmp_path: Path
) -> None:
    result = run_tap(good_config(emu, app_token="wrong"), tmp_path, "--probe")
    assert result.returncode == 1
    [error, hint] = error_lines(result.stderr)
    assert error.startswith("Voucherify API error 401")
    assert hint.startswith("Hint: Check app_id and app_token")
    assert result.stdout == ""
    assert [(r.method, r.path) for r in emu.requests] == [("GET", "/v1/exports")]


def test_the_traceback_is_there_at_loglevel_debug(emu: Emulator, tmp_path: Path) -> None:
    result = run_tap(good_config(emu, app_token="wrong"), tmp_path, env={"LOGLEVEL": "DEBUG"})
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "VoucherifyAPIError" in result.stderr


def test_an_export_timeout_says_which_settings_to_change(emu: Emulator, tmp_path: Path) -> None:
    emu.inject("never_finish", times=None)
    result = run_tap(good_config(emu, export_timeout=0.5), tmp_path)
    assert result.returncode == 1
    errors = error_lines(result.stderr)
    assert any("did not finish within 0.5 s (export_timeout)" in error for error in errors)
    assert errors[-1] == (
        "Hint: Raise export_timeout, or lower window_days so each export is smaller."
    )
    assert "Traceback" not in result.stderr


def unreachable_config() -> dict[str, Any]:
    """A config whose api_url is a loopback port nothing listens on."""
    api_url = f"http://127.0.0.1:{closed_port()}"
    return {
        "app_id": "a",
        "app_token": "app-token-1",
        "api_url": api_url,
        "start_date": "2024-01-01",
    }


@pytest.mark.parametrize(
    ("mode", "tries"),
    [((), 8), (("--test",), 2), (("--probe",), 2)],
    ids=["sync", "test-mode", "probe"],
)
def test_an_unreachable_api_url_ends_the_run_with_one_line_naming_it_and_a_hint(
    tmp_path: Path, mode: tuple[str, ...], tries: int
) -> None:
    config = unreachable_config()
    result = run_tap(config, tmp_path, *mode, tap=QUICK_RETRIES_TAP)
    assert result.returncode == 1, result.stderr
    # Only these two: neither backoff's "Giving up" nor the SDK's "An unhandled error occurred".
    [line, hint] = error_lines(result.stderr)
    assert line.startswith(
        f"Cannot connect to api_url {config['api_url']}: connection refused after {tries} tries"
    )
    assert hint.startswith("Hint: Check api_url (a region name, eu, us1 or as1, or an https ")
    # Each retry said once (the sync's first call comes before any export is prefetched).
    warnings = warning_lines(result.stderr)
    assert [w.split(":")[0] for w in warnings] == [
        f"Retrying in {0.01 * 2**n:.1f} s after try {n + 1}" for n in range(tries - 1)
    ]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # the first call failed: not even a SCHEMA (or the probe's report)


# A check's time limit: before, 8 tries took two minutes (1 + 2 + … + 60 s of backoff).
CONNECTION_CHECK_SECONDS_MAX = 30


@pytest.mark.parametrize(
    ("api_url", "reason"),
    [
        (f"http://127.0.0.1:{closed_port()}", "connection refused"),
        # RFC 6761: no name under .invalid resolves.
        ("https://api.voucherify-exports-tap.invalid", "its host name does not resolve (DNS)"),
    ],
    ids=["refused", "dns"],
)
@pytest.mark.parametrize("check", ["--test", "--probe"])
def test_a_check_fails_on_an_unreachable_host_in_seconds_after_two_tries(
    tmp_path: Path, api_url: str, reason: str, check: str
) -> None:
    config = {**unreachable_config(), "api_url": api_url}
    started = time.monotonic()
    result = run_tap(config, tmp_path, check)  # the tap's own backoff, as a user runs it
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    [line, _] = error_lines(result.stderr)
    assert line.startswith(f"Cannot connect to api_url {api_url}: {reason} after 2 tries")
    [warning] = warning_lines(result.stderr)
    assert warning.startswith("Retrying in 1.0 s after try 1: Cannot connect to api_url")
    assert elapsed < CONNECTION_CHECK_SECONDS_MAX, elapsed


def test_a_sync_says_each_retry_once_for_all_the_exports_it_prefetched(
    emu: Emulator, tmp_path: Path
) -> None:
    # Three exports are created at once (max_concurrent_exports 3); each is refused twice.
    emu.inject("server_error", phase="create", times=6, status=503)
    config = good_config(emu, max_concurrent_exports=3)
    result = run_tap(config, tmp_path)  # the tap's own backoff: 1 s, then 2 s
    assert result.returncode == 0, result.stderr
    creates = [r for r in emu.requests if r.method == "POST" and r.path == "/v1/exports"]
    assert len(creates) == len(emu.exports) + 6
    retries = [w for w in warning_lines(result.stderr) if w.startswith("Retrying")]
    assert [w.split(":")[0] for w in retries] == [
        "Retrying in 1.0 s after try 1",
        "Retrying in 2.0 s after try 2",
    ], retries


def test_an_unreachable_api_url_shows_the_traceback_at_loglevel_debug(tmp_path: Path) -> None:
    env = {"LOGLEVEL": "DEBUG"}
    result = run_tap(unreachable_config(), tmp_path, env=env, tap=QUICK_RETRIES_TAP)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ConnectFailedError" in result.stderr


def test_exports_are_deleted_once_synced_by_default(emu: Emulator, tmp_path: Path) -> None:
    result = run_tap(good_config(emu), tmp_path)
    assert result.returncode == 0, result.stderr
    assert emu.exports, "the sync created no export"
    assert all(job.deleted for job in emu.exports)
    assert "left on Voucherify" not in result.stderr


def test_exports_kept_by_choice_are_listed_in_a_warning(emu: Emulator, tmp_path: Path) -> None:
    result = run_tap(good_config(emu, delete_exports=False), tmp_path)
    assert result.returncode == 0, result.stderr
    assert emu.exports
    assert not any(job.deleted for job in emu.exports)
    warnings = [line for line in result.stderr.splitlines() if "| WARNING" in line]
    [left] = [line for line in warnings if "left on Voucherify" in line]
    assert f"{len(emu.exports)} exports left on Voucherify because delete_exports is false" in left
    assert all(job.id in left for job in emu.exports)


def test_test_mode_checks_the_connection_with_a_handful_of_calls_and_cleans_up(
    emu: Emulator, tmp_path: Path
) -> None:
    # The tap's own polling schedule (1 s, then 1.5 times longer), kept even with delete off.
    config = good_config(emu, poll_interval_max=None, delete_exports=False)
    result = run_tap(config, tmp_path, "--test")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "| ERROR" not in result.stderr
    assert "| WARNING" not in result.stderr
    [job] = emu.exports
    assert job.deleted
    assert f"Connection test OK: export {job.id} was created, generated, downloaded from " in (
        result.stderr
    )
    calls = [(request.method, request.path.split("/exp_")[0]) for request in emu.requests]
    assert calls[:2] == [("GET", "/v1/exports"), ("POST", "/v1/exports")]
    assert calls[-1] == ("DELETE", "/v1/exports")
    assert len(calls) <= 8, calls


def test_test_mode_with_a_wrong_token_says_so_with_the_hint(emu: Emulator, tmp_path: Path) -> None:
    result = run_tap(good_config(emu, app_token="wrong"), tmp_path, "--test")
    assert result.returncode == 1
    errors = error_lines(result.stderr)
    assert errors[0].startswith("Voucherify API error 401")
    assert errors[0].endswith(f"on GET {emu.api_url}/v1/exports?…")  # query redacted
    assert errors[1].startswith("Hint: Check app_id and app_token")
    assert emu.exports == []
    assert "Traceback" not in result.stderr


def test_test_schema_still_writes_the_schemas_and_calls_nothing(
    emu: Emulator, tmp_path: Path
) -> None:
    result = run_tap(good_config(emu), tmp_path, "--test=schema")
    assert result.returncode == 0, result.stderr
    streams = {json.loads(line)["stream"] for line in result.stdout.splitlines()}
    assert "vouchers" in streams
    assert emu.requests == []


# --- shapes the real API might answer in (voucherify_emulator/shapes.py) ---------------------


def lines_at(stderr: str, level: str) -> list[str]:
    """The text of each log line at `level` (INFO, WARNING, ERROR)."""
    return [line.split("| ", 3)[-1] for line in stderr.splitlines() if f"| {level}" in line]


def run_vouchers(
    emu: Emulator, tmp_path: Path, **overrides: Any
) -> subprocess.CompletedProcess[str]:
    """The tap syncing the vouchers stream alone."""
    config = good_config(emu, **overrides)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, {"vouchers"})))
    return run_tap(config, tmp_path, "--catalog", str(catalog))


@pytest.mark.parametrize("workers", [1, 2])
def test_null_spellings_are_counted_in_the_stream_summary_line(
    emu: Emulator, tmp_path: Path, workers: int
) -> None:
    emu.set_shape(null="NULL")
    result = run_vouchers(emu, tmp_path, parallel_workers=workers)
    assert result.returncode == 0, result.stderr
    [summary] = [line for line in lines_at(result.stderr, "INFO") if " s waiting for " in line]
    assert summary.startswith("vouchers: 30 rows from 1 export; ")
    assert summary.endswith(" cells spelled null/NULL in typed columns read as null")
    assert '"type":"RECORD"' in result.stdout.replace(" ", "")


@pytest.mark.parametrize("workers", [1, 2])
def test_bare_key_metadata_columns_are_one_warning_naming_the_keys(
    emu: Emulator, tmp_path: Path, workers: int
) -> None:
    emu.set_shape(metadata="bare")
    result = run_vouchers(emu, tmp_path, parallel_workers=workers)
    assert result.returncode == 0, result.stderr
    [warning] = lines_at(result.stderr, "WARNING")
    assert warning.startswith("vouchers: the export's header has no `metadata` column but ")
    assert "its column(s) city, cjk, count," in warning


@pytest.mark.parametrize("workers", [1, 2])
def test_a_header_of_unknown_labels_is_one_error_line_and_no_record(
    emu: Emulator, tmp_path: Path, workers: int
) -> None:
    emu.set_shape(relabel={key: f"Spalte {n}" for n, key in enumerate(TABLES["voucher"].keys)})
    result = run_vouchers(emu, tmp_path, parallel_workers=workers)
    assert result.returncode == 1
    [line] = lines_at(result.stderr, "ERROR")
    assert line.startswith(
        "vouchers: cannot tell which column holds which field: no header cell matches a field "
        "key or label, so nothing shows the columns come in the requested order. Header seen: "
        "Spalte 0, Spalte 1, "
    )
    assert line.endswith("Set trust_column_order to read them by position anyway.")
    assert '"type":"RECORD"' not in result.stdout.replace(" ", "")
    assert "Traceback" not in result.stderr
    trusted = run_vouchers(emu, tmp_path, parallel_workers=workers, trust_column_order=True)
    assert trusted.returncode == 0, trusted.stderr
    [warning] = lines_at(trusted.stderr, "WARNING")
    assert warning.endswith("trust_column_order is on: their cells are not checked.")


def test_a_column_by_position_that_does_not_fit_is_the_same_one_line_with_workers(
    emu: Emulator, tmp_path: Path
) -> None:
    emu.set_shape(swap=["code", "campaign_id"], relabel={"code": "Kod", "campaign_id": "Kampania"})
    one, two = (run_vouchers(emu, tmp_path, parallel_workers=w) for w in (1, 2))
    assert one.returncode == two.returncode == 1
    [line] = lines_at(one.stderr, "ERROR")
    assert lines_at(two.stderr, "ERROR") == [line]
    assert line.startswith(
        "vouchers: column 8 ('Kod') matches no field key or label and was taken by position "
        "for `campaign_id`, but line 2 holds 'V"
    )
    assert "not an id starting with camp_: the columns cannot be told apart." in line
    for result in (one, two):
        assert '"type":"RECORD"' not in result.stdout.replace(" ", "")
        assert "Traceback" not in result.stderr
