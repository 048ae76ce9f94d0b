"""Config → a frozen, validated `Settings` object. Side-effect free; errors name the setting.

Every setting is checked, not just the first bad one: `parse_settings` raises one
`SettingsError` listing every problem, one line each, naming the setting and the value, so a
user fixes a config in one round. The tap runs it when it is built, before any message or
request (tap.py's `_validate_config` seam).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_voucherify_exports.config.values import (
    REGIONS,
    boolean_setting,
    credential,
    download_origin_for,
    flattening_setting,
    optional_whole_number,
    origin_setting,
    parse_creation_only_streams,
    parse_metadata_keys,
    parse_timestamp,
    positive_number,
    whole_number,
)
from tap_voucherify_exports.errors import SettingProblems, SettingsError

DEFAULT_API_URL = REGIONS["eu"][0]
WINDOW_DAYS_DEFAULT = 30
MIN_WINDOW_SECONDS_DEFAULT = 60
POLL_INTERVAL_MAX_SECONDS_DEFAULT = 30
EXPORT_TIMEOUT_SECONDS_DEFAULT = 3600
REQUEST_TIMEOUT_SECONDS_DEFAULT = 300
MAX_CONCURRENT_EXPORTS_DEFAULT = 3
# Each export is a downloadable CSV of customer data on the account until it is deleted.
DELETE_EXPORTS_DEFAULT = True
# Columns whose header cell matches no field are read by position only after their cells in the
# export's first rows fit their fields (parsing/evidence.py); true skips that check.
TRUST_COLUMN_ORDER_DEFAULT = False
# Backfill (a stream's first run, no bookmark): yearly windows make a 4-year backfill 5 jobs per
# stream, not 49; a window that ends in ERROR is still split in half (see export_stream.py).
BACKFILL_WINDOW_DAYS_DEFAULT = 365
# 30 % of the smallest paid plan (Business, 100 requests a minute, research digest §5): the
# shop's own calls keep the other 70 %.
MAX_REQUESTS_PER_MINUTE_DEFAULT = 30
# 1 = parse in the tap's own process. More only pays on a machine with a core to spare for each
# (benchmarks/README.md, "Two cores"); the cap keeps a typo from starting hundreds of processes.
PARALLEL_WORKERS_DEFAULT = 1
PARALLEL_WORKERS_MAX = 32
AUTH_METHODS = ("app_keys", "oauth")
# Each closed window's rows checked against a list endpoint's `total` (jobs/counts.py): one call
# per closed window, about a fifth of what its export costs, and none for a run whose only window
# ends now. `warn` by default: the check is cheap, and `fail` stops syncs on a difference that
# deletes between the export and the count can explain (docs/reliability.md#completeness).
VERIFY_COUNTS_MODES = ("off", "warn", "fail")
VERIFY_COUNTS_DEFAULT = "warn"
# Days between two full refreshes of vouchers, customers and orders (docs/incremental.md#deletes
# says why a week); 0: never.
FULL_REFRESH_DAYS_DEFAULT = 7
OAUTH_SCOPE_DEFAULT = "exports"


@dataclass(frozen=True)
class Settings:
    """Everything a sync needs, validated once before any request."""

    app_id: str
    app_token: str = field(repr=False)
    api_origin: str
    download_origin: str
    start_date: dt.datetime
    end_date: dt.datetime | None
    window: dt.timedelta
    backfill_window: dt.timedelta
    min_window: dt.timedelta
    poll_interval_max_seconds: float
    export_timeout_seconds: float
    request_timeout_seconds: float
    max_concurrent_exports: int
    delete_exports: bool
    max_requests_per_minute: int = MAX_REQUESTS_PER_MINUTE_DEFAULT
    # None: no hourly cap of the tap's own (Voucherify's headers still pace it).
    max_requests_per_hour: int | None = None
    auth_method: str = "app_keys"
    oauth_scope: str = OAUTH_SCOPE_DEFAULT
    # stream name → {metadata key: type name}, each requested as the field `metadata.<key>`.
    metadata_keys: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Streams of CHANGE_STREAMS that export only rows created since the last sync.
    creation_only_streams: frozenset[str] = frozenset()
    # Processes that parse, type and encode CSV (output/workers.py); 1 = none: the tap's own
    # process.
    parallel_workers: int = PARALLEL_WORKERS_DEFAULT
    # Read columns mapped by position without checking their cells (parsing/evidence.py).
    trust_column_order: bool = TRUST_COLUMN_ORDER_DEFAULT
    # What a closed window whose rows differ from the list's `total` does (jobs/counts.py).
    verify_counts: str = VERIFY_COUNTS_DEFAULT
    # How often a stream with deletes to find exports every row under a new table version
    # (export_stream.py); None: never.
    full_refresh: dt.timedelta | None = dt.timedelta(days=FULL_REFRESH_DAYS_DEFAULT)

    @property
    def trusted_origins(self) -> frozenset[str]:
        """The only origins that may ever receive the credentials."""
        return frozenset({self.api_origin, self.download_origin})

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in any log line or error message."""
        return (self.app_token,)


def parse_settings(  # noqa: PLR0915 - one check per setting, every setting in one place
    config: Mapping[str, Any], schema_errors: Iterable[str] = ()
) -> Settings:
    """Validate a tap config into `Settings`, or raise one `SettingsError` listing every problem.

    `schema_errors` are singer-sdk's JSON-schema messages for the same config (the tap passes
    them): each is kept unless this function already reported the setting in its own words, so
    the SDK's built-in settings (stream_maps, flattening, batch_config) are checked too.
    """
    problems = SettingProblems()
    app_id = problems.check("app_id", lambda: credential(config, "app_id"), "")
    app_token = problems.check("app_token", lambda: credential(config, "app_token"), "")

    api_url = str(config.get("api_url") or DEFAULT_API_URL).strip()
    region = REGIONS.get(api_url.lower())
    api_origin = (
        region[0]
        if region
        else problems.check("api_url", lambda: origin_setting("api_url", api_url), DEFAULT_API_URL)
    )
    download_url = config.get("download_url")
    if download_url:
        download_origin = problems.check(
            "download_url",
            lambda: origin_setting("download_url", str(download_url).strip()),
            REGIONS["eu"][1],
        )
    else:
        download_origin = region[1] if region else download_origin_for(api_origin)

    start_date: dt.datetime | None = None
    if config.get("start_date") in (None, ""):
        problems.add("start_date", "Setting `start_date` is required, e.g. 2024-01-01T00:00:00Z.")
    else:
        start_date = problems.check(
            "start_date", lambda: parse_timestamp("start_date", config["start_date"]), None
        )
    end_date = None
    if config.get("end_date") not in (None, ""):
        end_date = problems.check(
            "end_date", lambda: parse_timestamp("end_date", config["end_date"]), None
        )
        if end_date is not None and start_date is not None and end_date <= start_date:
            problems.add(
                "end_date",
                f"Setting `end_date` must be later than `start_date`; got end_date "
                f"{config['end_date']!r}, start_date {config['start_date']!r}.",
            )

    def number(name: str, default: float, minimum: float) -> float:
        """A number setting at least `minimum`, or its default after recording the problem."""
        return problems.check(
            name, lambda: positive_number(config, name, default, minimum), float(default)
        )

    def whole(name: str, default: int, minimum: int) -> int:
        """A whole-number setting at least `minimum`, or its default after recording it."""
        return problems.check(name, lambda: whole_number(config, name, default, minimum), default)

    window_days = number("window_days", WINDOW_DAYS_DEFAULT, 1)
    min_window_seconds = number("min_window_seconds", MIN_WINDOW_SECONDS_DEFAULT, 1)
    if not problems.names & {"window_days", "min_window_seconds"} and (
        min_window_seconds > window_days * 86400
    ):
        problems.add(
            "min_window_seconds",
            f"Setting `min_window_seconds` must not exceed `window_days` "
            f"({window_days:g} days = {window_days * 86400:g} s); got {min_window_seconds:g}.",
        )
    max_concurrent = whole("max_concurrent_exports", MAX_CONCURRENT_EXPORTS_DEFAULT, 1)
    poll_interval_max = number("poll_interval_max", POLL_INTERVAL_MAX_SECONDS_DEFAULT, 0.01)
    export_timeout = number("export_timeout", EXPORT_TIMEOUT_SECONDS_DEFAULT, 0.01)
    request_timeout = number("request_timeout", REQUEST_TIMEOUT_SECONDS_DEFAULT, 0.01)

    def flag(name: str, default: bool) -> bool:
        """A true-or-false setting, or its default after recording the problem."""
        return problems.check(name, lambda: boolean_setting(config, name, default), default)

    delete_exports = flag("delete_exports", DELETE_EXPORTS_DEFAULT)
    trust_column_order = flag("trust_column_order", TRUST_COLUMN_ORDER_DEFAULT)
    backfill_days = whole("backfill_window_days", BACKFILL_WINDOW_DAYS_DEFAULT, 1)
    full_refresh_days = whole("full_refresh_days", FULL_REFRESH_DAYS_DEFAULT, 0)
    max_per_minute = whole("max_requests_per_minute", MAX_REQUESTS_PER_MINUTE_DEFAULT, 1)
    max_per_hour = problems.check(
        "max_requests_per_hour",
        lambda: optional_whole_number(config, "max_requests_per_hour"),
        None,
    )
    parallel_workers = whole("parallel_workers", PARALLEL_WORKERS_DEFAULT, 1)
    if parallel_workers > PARALLEL_WORKERS_MAX:
        problems.add(
            "parallel_workers",
            f"Setting `parallel_workers` must be at most {PARALLEL_WORKERS_MAX}; "
            f"got {parallel_workers}.",
        )
    auth_method = str(config.get("auth_method") or "app_keys").strip()
    if auth_method not in AUTH_METHODS:
        problems.add(
            "auth_method",
            f"Setting `auth_method` must be one of {', '.join(AUTH_METHODS)}; got {auth_method!r}.",
        )

    verify_counts = str(config.get("verify_counts") or VERIFY_COUNTS_DEFAULT).strip()
    if verify_counts not in VERIFY_COUNTS_MODES:
        problems.add(
            "verify_counts",
            f"Setting `verify_counts` must be one of {', '.join(VERIFY_COUNTS_MODES)}; "
            f"got {verify_counts!r}.",
        )

    metadata_keys: dict[str, dict[str, str]] = problems.check(
        "metadata_keys", lambda: parse_metadata_keys(config), {}
    )
    creation_only: frozenset[str] = problems.check(
        "creation_only_streams", lambda: parse_creation_only_streams(config), frozenset()
    )

    problems.check("flattening_enabled", lambda: flattening_setting(config), None)

    for error in schema_errors:
        problems.add_schema_error(error)
    if problems.lines or start_date is None:
        raise SettingsError(problems.lines)

    return Settings(
        app_id=app_id,
        app_token=app_token,
        api_origin=api_origin,
        download_origin=download_origin,
        start_date=start_date,
        end_date=end_date,
        window=dt.timedelta(days=window_days),
        backfill_window=dt.timedelta(days=max(window_days, backfill_days)),
        min_window=dt.timedelta(seconds=min_window_seconds),
        poll_interval_max_seconds=poll_interval_max,
        export_timeout_seconds=export_timeout,
        request_timeout_seconds=request_timeout,
        max_concurrent_exports=max_concurrent,
        delete_exports=delete_exports,
        max_requests_per_minute=max_per_minute,
        max_requests_per_hour=max_per_hour,
        auth_method=auth_method,
        oauth_scope=" ".join(str(config.get("oauth_scope") or OAUTH_SCOPE_DEFAULT).split()),
        metadata_keys=metadata_keys,
        creation_only_streams=creation_only,
        parallel_workers=parallel_workers,
        trust_column_order=trust_column_order,
        verify_counts=verify_counts,
        full_refresh=dt.timedelta(days=full_refresh_days) if full_refresh_days else None,
    )
