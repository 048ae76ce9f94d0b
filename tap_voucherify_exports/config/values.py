"""One setting's value → a checked Python value; each error names the setting and the value.

The pieces `settings.parse_settings` assembles into the frozen `Settings`: origins and regions,
timestamps, numbers, booleans, credentials, `metadata_keys` and `creation_only_streams`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from decimal import Decimal
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
LOOPBACK_HOSTS = frozenset({"localhost"})
# The types a `metadata_keys` entry may name (fields.py's METADATA_TYPES; a test keeps them equal).
METADATA_KEY_TYPES = ("string", "integer", "number", "boolean", "date-time")
# A metadata key as a column: no dot (it would read as a nested path in `metadata.<key>`), no
# comma (Voucherify lists allowed fields comma-separated), no space (a column name).
_METADATA_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
METADATA_KEY_MAX_CHARS = 100
# Streams whose exported object Voucherify filters and orders by `updated_at` (voucher, customer,
# order: research digest section 2.4), so they can export rows changed since the last sync.
# export_stream.py gives exactly these a `change_key`; tests/unit/test_streams.py checks they agree.
CHANGE_STREAMS = ("vouchers", "customers", "orders")
# Streams whose exported object has `metadata` (fields.py's `has_metadata`): the only ones
# `metadata_keys` may name. tests/unit/test_streams.py checks they agree.
METADATA_STREAMS = ("vouchers", "redemptions", "publications", "customers", "orders")


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


def origin_setting(name: str, value: str) -> str:
    """Validate a base URL: https (plain http only on loopback), a host, no query."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host:
        # Only api_url takes a region name; download_url is an origin or left unset.
        example = (
            f"https://api.voucherify.io or a region name ({', '.join(REGIONS)})"
            if name == "api_url"
            else f"{REGIONS['eu'][1]} (or leave it unset: the region's download host)"
        )
        raise ConfigValidationError(
            f"Setting `{name}` must be an http(s) URL such as {example}; got {value!r}."
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


def download_origin_for(api_origin: str) -> str:
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


def as_typed(value: Any) -> str:
    """A setting's value as the user typed it: meltano hands a `kind: decimal` value over as a
    Decimal, whose repr (`Decimal('0.5')`) nobody typed."""
    return str(value) if isinstance(value, Decimal) else repr(value)


def positive_number(config: Mapping[str, Any], name: str, default: float, minimum: float) -> float:
    value = config.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigValidationError(
            f"Setting `{name}` must be a number; got {as_typed(value)}."
        ) from None
    if isinstance(value, bool) or not number >= minimum:  # `not >=` also refuses NaN
        raise ConfigValidationError(
            f"Setting `{name}` must be at least {minimum:g}; got {as_typed(value)}."
        )
    return number


def whole_number(config: Mapping[str, Any], name: str, default: int, minimum: int) -> int:
    number = positive_number(config, name, default, minimum)
    if number != int(number):
        raise ConfigValidationError(
            f"Setting `{name}` must be a whole number; got {as_typed(config.get(name))}."
        )
    return int(number)


def optional_whole_number(config: Mapping[str, Any], name: str) -> int | None:
    """A whole number of at least 1, or None when the setting is unset."""
    if config.get(name) is None:
        return None
    return whole_number(config, name, 1, 1)


def boolean_setting(config: Mapping[str, Any], name: str, default: bool) -> bool:
    value = config.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigValidationError(f"Setting `{name}` must be true or false; got {value!r}.")
    return value


def credential(config: Mapping[str, Any], name: str) -> str:
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

    Checks the shape, that each stream named has metadata (`METADATA_STREAMS`), each key and
    type, and that no two keys of a stream would match the same CSV header cell.
    """
    value = config.get("metadata_keys")
    if value is None or value == {}:
        return {}
    if not isinstance(value, Mapping):
        raise _metadata_error(f"must be an object; got {value!r}")
    parsed: dict[str, dict[str, str]] = {}
    for stream, keys in value.items():
        if stream not in METADATA_STREAMS:
            raise ConfigValidationError(
                f"Setting `metadata_keys` names the stream `{stream}`, which has no metadata "
                f"fields; streams with metadata: {', '.join(METADATA_STREAMS)}."
            )
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


def flattening_setting(config: Mapping[str, Any]) -> None:
    """singer-sdk's `flattening_enabled`, refused with `batch_config`: the SDK flattens SCHEMA
    and RECORD messages, not the records of BATCH files, which would carry the objects and lists
    their SCHEMA declares as JSON text."""
    if config.get("flattening_enabled") is True and config.get("batch_config"):
        raise ConfigValidationError(
            "Setting `flattening_enabled` does not apply to BATCH files (singer-sdk flattens "
            "SCHEMA and RECORD messages only), so with `batch_config` the SCHEMA and the files "
            "would disagree; turn one of them off (`metadata_keys` gives metadata keys typed "
            "columns either way)."
        )


def parse_creation_only_streams(config: Mapping[str, Any]) -> frozenset[str]:
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
