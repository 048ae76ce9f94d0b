import datetime as dt

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_voucherify_exports.config.settings import parse_settings
from tap_voucherify_exports.errors import SettingsError

BASE = {"app_id": "id", "app_token": "token", "start_date": "2024-01-01"}


def settings(**overrides):
    return parse_settings({**BASE, **overrides})


def test_defaults_point_at_the_european_cluster():
    parsed = settings()
    assert parsed.api_origin == "https://api.voucherify.io"
    assert parsed.download_origin == "https://download.voucherify.io"
    assert parsed.window == dt.timedelta(days=30)
    assert parsed.start_date == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("api_url", "api_origin", "download_origin"),
    [
        ("us1", "https://us1.api.voucherify.io", "https://us1.download.voucherify.io"),
        ("AS1", "https://as1.api.voucherify.io", "https://as1.download.voucherify.io"),
        ("eu", "https://api.voucherify.io", "https://download.voucherify.io"),
        (
            "https://us1.api.voucherify.io/",
            "https://us1.api.voucherify.io",
            "https://us1.download.voucherify.io",
        ),
        (
            "https://acme.api.voucherify.io",
            "https://acme.api.voucherify.io",
            "https://acme.download.voucherify.io",
        ),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765", "http://127.0.0.1:8765"),
    ],
)
def test_regions_and_urls_pair_api_and_download_origins(api_url, api_origin, download_origin):
    parsed = settings(api_url=api_url)
    assert (parsed.api_origin, parsed.download_origin) == (api_origin, download_origin)


def test_download_url_overrides_the_paired_host():
    parsed = settings(api_url="http://localhost:1", download_url="http://localhost:2")
    assert parsed.trusted_origins == {"http://localhost:1", "http://localhost:2"}


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"app_id": ""}, "app_id"),
        ({"app_token": None}, "app_token"),
        ({"start_date": None}, "start_date"),
        ({"start_date": "last tuesday"}, "start_date"),
        ({"end_date": "2023-01-01"}, "end_date"),
        ({"api_url": "ftp://x"}, "api_url"),
        ({"api_url": "http://api.example.com"}, "api_url"),  # plain http off loopback
        ({"api_url": "https://api.example.com/v1"}, "api_url"),
        ({"download_url": "nonsense"}, "download_url"),
        ({"window_days": 0}, "window_days"),
        ({"window_days": "many"}, "window_days"),
        ({"max_concurrent_exports": 0}, "max_concurrent_exports"),
        ({"max_concurrent_exports": 1.5}, "max_concurrent_exports"),
        ({"export_timeout": -1}, "export_timeout"),
    ],
)
def test_bad_config_fails_with_the_setting_named(overrides, setting):
    with pytest.raises(ConfigValidationError, match=f"`{setting}`"):
        settings(**overrides)


def test_the_token_never_appears_in_the_settings_repr():
    assert "token" not in repr(settings(app_token="s3cr3t")).replace("app_token", "")
    assert "s3cr3t" not in repr(settings(app_token="s3cr3t"))


def test_every_problem_is_listed_one_line_each_naming_setting_and_value():
    with pytest.raises(SettingsError) as raised:
        settings(start_date="yesterday", window_days=0, api_url="us-1", max_concurrent_exports=0)
    assert raised.value.errors == [
        "Setting `api_url` must be an http(s) URL such as https://api.voucherify.io or a region "
        "name (eu, us1, as1); got 'us-1'.",
        "Setting `start_date` must be an ISO 8601 date or date-time such as "
        "2024-01-01T00:00:00Z; got 'yesterday'.",
        "Setting `window_days` must be at least 1; got 0.",
        "Setting `max_concurrent_exports` must be at least 1; got 0.",
    ]


def test_schema_errors_are_kept_unless_the_setting_is_already_reported():
    schema_errors = [
        "0 is less than the minimum of 1 in config['window_days']",
        "3 is not of type 'object', 'null' in config['stream_maps']",
        "'app_id' is a required property",
    ]
    with pytest.raises(SettingsError) as raised:
        parse_settings({**BASE, "window_days": 0, "app_id": None}, schema_errors)
    assert raised.value.errors == [
        "Setting `app_id` is required: the Voucherify Application ID from Project Settings > "
        "API keys.",
        "Setting `window_days` must be at least 1; got 0.",
        "Setting `stream_maps`: 3 is not of type 'object', 'null'.",
    ]


def test_the_token_is_never_quoted_in_a_problem():
    with pytest.raises(SettingsError) as raised:
        settings(app_token=12345)
    assert "12345" not in str(raised.value.errors)


def test_exports_are_deleted_by_default():
    assert settings().delete_exports is True
    assert settings(delete_exports=False).delete_exports is False


def test_quota_and_auth_defaults():
    parsed = settings()
    assert parsed.max_requests_per_minute == 30
    assert parsed.auth_method == "app_keys"
    assert parsed.oauth_scope == "exports"
    assert parsed.backfill_window == dt.timedelta(days=365)


def test_the_backfill_window_is_never_smaller_than_window_days():
    assert settings(window_days=400, backfill_window_days=30).backfill_window.days == 400


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_requests_per_minute": 0}, "max_requests_per_minute` must be at least 1"),
        ({"max_requests_per_minute": 2.5}, "max_requests_per_minute` must be a whole number"),
        ({"auth_method": "basic"}, "auth_method` must be one of app_keys, oauth; got 'basic'"),
        ({"backfill_window_days": 0}, "backfill_window_days` must be at least 1"),
    ],
)
def test_bad_quota_and_auth_settings_name_the_setting(overrides, message):
    with pytest.raises(ConfigValidationError, match=message):
        settings(**overrides)


def test_metadata_keys_take_a_list_or_a_typed_mapping():
    parsed = settings(metadata_keys={"vouchers": ["region", "tier"], "orders": {"n": "integer"}})
    assert parsed.metadata_keys == {
        "vouchers": {"region": "string", "tier": "string"},
        "orders": {"n": "integer"},
    }
    assert settings().metadata_keys == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["region"], r"must be an object"),
        ({"vouchers": "region"}, r"maps `vouchers` to 'region'"),
        ({"vouchers": [""]}, r"has the key '' for `vouchers`"),
        ({"vouchers": ["my region"]}, r"has the key 'my region'"),
        ({"vouchers": ["a.b"]}, r"has the key 'a.b'"),
        ({"vouchers": ["a,b"]}, r"has the key 'a,b'"),
        ({"vouchers": ["x", "x"]}, r"repeat"),
        ({"vouchers": {"tier": "int"}}, r"type 'int'; allowed: string, integer, number"),
        ({"vouchers": ["tier_1", "Tier1"]}, r"keys `tier_1` and `Tier1`"),
    ],
)
def test_bad_metadata_keys_fail_naming_the_setting(value, message):
    with pytest.raises(ConfigValidationError, match=rf"Setting `metadata_keys` .*{message}"):
        settings(metadata_keys=value)


def test_metadata_key_types_are_the_field_tables_metadata_types():
    from tap_voucherify_exports.config.values import METADATA_KEY_TYPES
    from tap_voucherify_exports.fields import METADATA_TYPES

    assert tuple(field_type.value for field_type in METADATA_TYPES) == METADATA_KEY_TYPES


def test_flattening_with_batch_files_is_refused_naming_both_settings():
    batch = {"encoding": {"format": "jsonl"}, "storage": {"root": "file:///tmp"}}
    with pytest.raises(SettingsError) as error:
        settings(flattening_enabled=True, flattening_max_depth=1, batch_config=batch)
    [line] = error.value.errors
    assert line.startswith("Setting `flattening_enabled` does not apply to BATCH files")
    assert "`batch_config`" in line
    settings(flattening_enabled=False, batch_config=batch)
    settings(flattening_enabled=True, flattening_max_depth=1)


def test_a_value_meltano_passed_as_a_decimal_is_shown_as_the_user_typed_it():
    # meltano hands `kind: decimal` values over as Decimal: "got Decimal('0.5')" was not typed.
    from decimal import Decimal

    from tap_voucherify_exports.errors import SettingsError

    config = {"app_id": "a", "app_token": "t", "start_date": "2024-01-01"}
    with pytest.raises(SettingsError) as caught:
        parse_settings({**config, "window_days": Decimal("0.5")})
    assert caught.value.errors == ["Setting `window_days` must be at least 1; got 0.5."]
