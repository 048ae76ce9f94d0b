"""Config → a frozen, validated `Settings` object. Side-effect free; errors name the setting.

Every setting is checked, not just the first bad one: `parse_settings` raises one
`SettingsError` listing every problem, one line each, naming the setting and the value, so a
user fixes a config in one round. The tap runs it when it is built, before any message or
request (tap.py's `_validate_config` seam).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from singer_sdk.exceptions import ConfigValidationError

from tap_voucherify_exports.errors import SettingProblems, SettingsError

# Voucherify's regional clusters (research digest §4). The download host is where `result.url`
# points for exports generated on that cluster.
REGIONS: dict[str, tuple[str, str]] = {
    "eu": ("https://api.voucherify.io", "https://download.voucherify.io"),
    "us1": ("https://us1.api.voucherify.io", "https://us1.download.voucherify.io"),
    "as1": ("https://as1.api.voucherify.io", "https://as1.download.voucherify.io"),
}
DEFAULT_API_URL = REGIONS["eu"][0]
WINDOW_DAYS_DEFAULT = 30
MIN_WINDOW_SECONDS_DEFAULT = 60
POLL_INTERVAL_MAX_SECONDS_DEFAULT = 30
EXPORT_TIMEOUT_SECONDS_DEFAULT = 3600
REQUEST_TIMEOUT_SECONDS_DEFAULT = 300
MAX_CONCURRENT_EXPORTS_DEFAULT = 3
# Each export is a downloadable CSV of customer data on the account until it is deleted.
DELETE_EXPORTS_DEFAULT = True
# Backfill (a stream's first run, no bookmark): yearly windows make a 4-year backfill 5 jobs per
# stream, not 49; a window that ends in ERROR is still split in half (see streams.py).
BACKFILL_WINDOW_DAYS_DEFAULT = 365
# 30 % of the smallest paid plan (Business, 100 requests a minute, research digest §5): the
# shop's own calls keep the other 70 %.
MAX_REQUESTS_PER_MINUTE_DEFAULT = 30
AUTH_METHODS = ("app_keys", "oauth")
OAUTH_SCOPE_DEFAULT = "exports"
LOOPBACK_HOSTS = frozenset({"localhost"})
# The types a `metadata_keys` entry may name (fields.py's METADATA_TYPES; a test keeps them equal).
METADATA_KEY_TYPES = ("string", "integer", "number", "boolean", "date-time")
# A metadata key as a column: no dot (it would read as a nested path in `metadata.<key>`), no
# comma (Voucherify lists allowed fields comma-separated), no space (a column name).
_METADATA_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
METADATA_KEY_MAX_CHARS = 100
# Streams whose exported object Voucherify filters and orders by `updated_at` (voucher, customer,
# order: research digest section 2.4), so they can export rows changed since the last sync.
# streams.py gives exactly these a `change_key`; tests/unit/test_streams.py checks they agree.
CHANGE_STREAMS = ("vouchers", "customers", "orders")


def origin_of(url: str) -> str:
    """Return `scheme://host[:port]` of a URL, lower-cased, default ports dropped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or (scheme, port) in {("https", 443), ("http", 80)}:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin_setting(name: str, value: str) -> str:
    """Validate a base URL: https (plain http only on loopback), a host, no query."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host:
        raise ConfigValidationError(
            f"Setting `{name}` must be an http(s) URL such as https://api.voucherify.io "
            f"or a region name ({', '.join(REGIONS)}); got {value!r}.",
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigValidationError(
            f"Setting `{name}` must use https for a non-loopback host ({host}): "
            f"credentials are never sent in clear text; got {value!r}.",
        )
    if parts.query or parts.fragment or parts.path.strip("/"):
        raise ConfigValidationError(
            f"Setting `{name}` must be a bare origin without path or query; got {value!r}.",
        )
    return origin_of(value)


def _download_origin_for(api_origin: str) -> str:
    """Pair an API host with its download host.

    Voucherify's server list pairs `<region>.api.voucherify.io` with
    `<region>.download.voucherify.io`; applying the same substitution to dedicated clusters is an
    inference (research digest §4). Any other host downloads from its own origin.
    """
    for api, download in REGIONS.values():
        if api_origin == api:
            return download
    scheme, _, rest = api_origin.partition("://")
    host, sep, port = rest.partition(":")
    if host.endswith(".voucherify.io") and (host.startswith("api.") or ".api." in host):
        host = host.replace("api.", "download.", 1)
    return f"{scheme}://{host}{sep}{port}"


def parse_timestamp(name: str, value: Any) -> dt.datetime:
    """Parse an ISO 8601 date or date-time setting into an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ConfigValidationError(
                f"Setting `{name}` must be an ISO 8601 date or date-time such as "
                f"2024-01-01T00:00:00Z; got {value!r}.",
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _positive_number(config: Mapping[str, Any], name: str, default: float, minimum: float) -> float:
    value = config.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigValidationError(f"Setting `{name}` must be a number; got {value!r}.") from None
    if isinstance(value, bool) or not number >= minimum:  # `not >=` also refuses NaN
        raise ConfigValidationError(
            f"Setting `{name}` must be at least {minimum:g}; got {value!r}."
        )
    return number


def _whole_number(config: Mapping[str, Any], name: str, default: int, minimum: int) -> int:
    number = _positive_number(config, name, default, minimum)
    if number != int(number):
        raise ConfigValidationError(
            f"Setting `{name}` must be a whole number; got {config.get(name)!r}."
        )
    return int(number)


def _boolean(config: Mapping[str, Any], name: str, default: bool) -> bool:
    value = config.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigValidationError(f"Setting `{name}` must be true or false; got {value!r}.")
    return value


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
    auth_method: str = "app_keys"
    oauth_scope: str = OAUTH_SCOPE_DEFAULT
    # stream name → {metadata key: type name}, each requested as the field `metadata.<key>`.
    metadata_keys: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Streams of CHANGE_STREAMS that export only rows created since the last sync.
    creation_only_streams: frozenset[str] = frozenset()

    @property
    def trusted_origins(self) -> frozenset[str]:
        """The only origins that may ever receive the credentials."""
        return frozenset({self.api_origin, self.download_origin})

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in any log line or error message."""
        return (self.app_token,)


def _credential(config: Mapping[str, Any], name: str) -> str:
    value = config.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigValidationError(
            f"Setting `{name}` is required: the Voucherify Application "
            f"{'ID' if name == 'app_id' else 'Secret Key'} from Project Settings > API keys.",
        )
    return value.strip()


def _metadata_error(detail: str) -> ConfigValidationError:
    return ConfigValidationError(
        f"Setting `metadata_keys` {detail}. Expected a stream name mapped to a list of metadata "
        'keys or to {key: type}, e.g. {"vouchers": ["region"], "customers": {"tier": "integer"}}.'
    )


def _compact(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


def parse_metadata_keys(config: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """`metadata_keys` → {stream: {key: type}}; a list of keys types every key as a string.

    Which streams exist (and have metadata) is the tap's to check; this checks the shape, each
    key and type, and that no two keys of a stream would match the same CSV header cell.
    """
    value = config.get("metadata_keys")
    if value is None or value == {}:
        return {}
    if not isinstance(value, Mapping):
        raise _metadata_error(f"must be an object; got {value!r}")
    parsed: dict[str, dict[str, str]] = {}
    for stream, keys in value.items():
        if isinstance(keys, list):
            if any(not isinstance(key, str) for key in keys) or len(set(keys)) != len(keys):
                raise _metadata_error(f"lists keys of `{stream}` that repeat or are not text")
            typed = dict.fromkeys(keys, "string")
        elif isinstance(keys, Mapping):
            typed = dict(keys)
        else:
            raise _metadata_error(f"maps `{stream}` to {keys!r}")
        seen: dict[str, str] = {}
        for key, type_name in typed.items():
            if not _METADATA_KEY.fullmatch(key) or len(key) > METADATA_KEY_MAX_CHARS:
                raise _metadata_error(
                    f"has the key {key!r} for `{stream}`: a metadata key is 1 to "
                    f"{METADATA_KEY_MAX_CHARS} letters, digits, `_` or `-`"
                )
            if type_name not in METADATA_KEY_TYPES:
                raise _metadata_error(
                    f"gives `{stream}` key `{key}` the type {type_name!r}; "
                    f"allowed: {', '.join(METADATA_KEY_TYPES)}"
                )
            other = seen.setdefault(_compact(key), key)
            if other != key:
                raise _metadata_error(
                    f"has keys `{other}` and `{key}` for `{stream}`, which a CSV header "
                    "cannot tell apart (case and punctuation are ignored)"
                )
        parsed[str(stream)] = typed
    return parsed


def _creation_only_streams(config: Mapping[str, Any]) -> frozenset[str]:
    value = config.get("creation_only_streams")
    if value in (None, ""):
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ConfigValidationError(
            f"Setting `creation_only_streams` must be a list of stream names; got {value!r}."
        )
    unknown = sorted(set(value) - set(CHANGE_STREAMS))
    if unknown:
        raise ConfigValidationError(
            f"Setting `creation_only_streams` names {', '.join(unknown)}: only "
            f"{', '.join(CHANGE_STREAMS)} export changed rows; got {value!r}."
        )
    return frozenset(value)


def parse_settings(config: Mapping[str, Any], schema_errors: Iterable[str] = ()) -> Settings:
    """Validate a tap config into `Settings`, or raise one `SettingsError` listing every problem.

    `schema_errors` are singer-sdk's JSON-schema messages for the same config (the tap passes
    them): each is kept unless this function already reported the setting in its own words, so
    the SDK's built-in settings (stream_maps, flattening, batch_config) are checked too.
    """
    problems = SettingProblems()
    app_id = problems.check("app_id", lambda: _credential(config, "app_id"), "")
    app_token = problems.check("app_token", lambda: _credential(config, "app_token"), "")

    api_url = str(config.get("api_url") or DEFAULT_API_URL).strip()
    region = REGIONS.get(api_url.lower())
    api_origin = (
        region[0]
        if region
        else problems.check("api_url", lambda: _origin_setting("api_url", api_url), DEFAULT_API_URL)
    )
    download_url = config.get("download_url")
    if download_url:
        download_origin = problems.check(
            "download_url",
            lambda: _origin_setting("download_url", str(download_url).strip()),
            REGIONS["eu"][1],
        )
    else:
        download_origin = region[1] if region else _download_origin_for(api_origin)

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

    window_days = problems.check(
        "window_days",
        lambda: _positive_number(config, "window_days", WINDOW_DAYS_DEFAULT, 1),
        float(WINDOW_DAYS_DEFAULT),
    )
    min_window_seconds = problems.check(
        "min_window_seconds",
        lambda: _positive_number(config, "min_window_seconds", MIN_WINDOW_SECONDS_DEFAULT, 0.001),
        float(MIN_WINDOW_SECONDS_DEFAULT),
    )
    if not problems.names & {"window_days", "min_window_seconds"} and (
        min_window_seconds > window_days * 86400
    ):
        problems.add(
            "min_window_seconds",
            f"Setting `min_window_seconds` must not exceed `window_days` "
            f"({window_days:g} days = {window_days * 86400:g} s); got {min_window_seconds:g}.",
        )
    max_concurrent = problems.check(
        "max_concurrent_exports",
        lambda: _whole_number(config, "max_concurrent_exports", MAX_CONCURRENT_EXPORTS_DEFAULT, 1),
        MAX_CONCURRENT_EXPORTS_DEFAULT,
    )
    poll_interval_max = problems.check(
        "poll_interval_max",
        lambda: _positive_number(
            config, "poll_interval_max", POLL_INTERVAL_MAX_SECONDS_DEFAULT, 0.01
        ),
        float(POLL_INTERVAL_MAX_SECONDS_DEFAULT),
    )
    export_timeout = problems.check(
        "export_timeout",
        lambda: _positive_number(config, "export_timeout", EXPORT_TIMEOUT_SECONDS_DEFAULT, 0.01),
        float(EXPORT_TIMEOUT_SECONDS_DEFAULT),
    )
    request_timeout = problems.check(
        "request_timeout",
        lambda: _positive_number(config, "request_timeout", REQUEST_TIMEOUT_SECONDS_DEFAULT, 0.01),
        float(REQUEST_TIMEOUT_SECONDS_DEFAULT),
    )
    delete_exports = problems.check(
        "delete_exports",
        lambda: _boolean(config, "delete_exports", DELETE_EXPORTS_DEFAULT),
        DELETE_EXPORTS_DEFAULT,
    )
    backfill_days = problems.check(
        "backfill_window_days",
        lambda: _whole_number(config, "backfill_window_days", BACKFILL_WINDOW_DAYS_DEFAULT, 1),
        BACKFILL_WINDOW_DAYS_DEFAULT,
    )
    max_per_minute = problems.check(
        "max_requests_per_minute",
        lambda: _whole_number(
            config, "max_requests_per_minute", MAX_REQUESTS_PER_MINUTE_DEFAULT, 1
        ),
        MAX_REQUESTS_PER_MINUTE_DEFAULT,
    )
    auth_method = str(config.get("auth_method") or "app_keys").strip()
    if auth_method not in AUTH_METHODS:
        problems.add(
            "auth_method",
            f"Setting `auth_method` must be one of {', '.join(AUTH_METHODS)}; got {auth_method!r}.",
        )
    oauth_scope = " ".join(str(config.get("oauth_scope") or OAUTH_SCOPE_DEFAULT).split())

    no_keys: dict[str, dict[str, str]] = {}
    metadata_keys = problems.check("metadata_keys", lambda: parse_metadata_keys(config), no_keys)
    creation_only_streams: frozenset[str] = problems.check(
        "creation_only_streams", lambda: _creation_only_streams(config), frozenset()
    )

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
        auth_method=auth_method,
        oauth_scope=oauth_scope,
        metadata_keys=metadata_keys,
        creation_only_streams=creation_only_streams,
    )
