"""Config → a frozen, validated `Settings` object. Side-effect free; errors name the setting."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from singer_sdk.exceptions import ConfigValidationError

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
LOOPBACK_HOSTS = frozenset({"localhost"})


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
            "credentials are never sent in clear text.",
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
    if isinstance(value, bool) or number < minimum:
        raise ConfigValidationError(
            f"Setting `{name}` must be at least {minimum:g}; got {value!r}."
        )
    return number


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
    min_window: dt.timedelta
    poll_interval_max_seconds: float
    export_timeout_seconds: float
    request_timeout_seconds: float
    max_concurrent_exports: int
    delete_exports: bool

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


def parse_settings(config: Mapping[str, Any]) -> Settings:
    """Validate a tap config into `Settings`; a `ConfigValidationError` names the bad setting."""
    app_id = _credential(config, "app_id")
    app_token = _credential(config, "app_token")

    api_url = str(config.get("api_url") or DEFAULT_API_URL).strip()
    region = REGIONS.get(api_url.lower())
    api_origin = region[0] if region else _origin_setting("api_url", api_url)
    download_url = config.get("download_url")
    if download_url:
        download_origin = _origin_setting("download_url", str(download_url).strip())
    else:
        download_origin = region[1] if region else _download_origin_for(api_origin)

    if config.get("start_date") in (None, ""):
        raise ConfigValidationError("Setting `start_date` is required, e.g. 2024-01-01T00:00:00Z.")
    start_date = parse_timestamp("start_date", config["start_date"])
    end_date = None
    if config.get("end_date") not in (None, ""):
        end_date = parse_timestamp("end_date", config["end_date"])
        if end_date <= start_date:
            raise ConfigValidationError("Setting `end_date` must be later than `start_date`.")

    window_days = _positive_number(config, "window_days", WINDOW_DAYS_DEFAULT, 1)
    min_window_seconds = _positive_number(
        config, "min_window_seconds", MIN_WINDOW_SECONDS_DEFAULT, 0.001
    )
    if min_window_seconds > window_days * 86400:
        raise ConfigValidationError("Setting `min_window_seconds` must not exceed `window_days`.")
    max_concurrent = _positive_number(
        config, "max_concurrent_exports", MAX_CONCURRENT_EXPORTS_DEFAULT, 1
    )
    if max_concurrent != int(max_concurrent):
        raise ConfigValidationError("Setting `max_concurrent_exports` must be a whole number.")

    return Settings(
        app_id=app_id,
        app_token=app_token,
        api_origin=api_origin,
        download_origin=download_origin,
        start_date=start_date,
        end_date=end_date,
        window=dt.timedelta(days=window_days),
        min_window=dt.timedelta(seconds=min_window_seconds),
        poll_interval_max_seconds=_positive_number(
            config, "poll_interval_max", POLL_INTERVAL_MAX_SECONDS_DEFAULT, 0.01
        ),
        export_timeout_seconds=_positive_number(
            config, "export_timeout", EXPORT_TIMEOUT_SECONDS_DEFAULT, 0.01
        ),
        request_timeout_seconds=_positive_number(
            config, "request_timeout", REQUEST_TIMEOUT_SECONDS_DEFAULT, 0.01
        ),
        max_concurrent_exports=int(max_concurrent),
        delete_exports=bool(config.get("delete_exports", False)),
    )
