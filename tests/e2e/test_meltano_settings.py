"""What meltano does with the tap's settings, where meltano.yml works around it.

Needs meltano beside the running Python (`make install`); skipped without it, so the unit tier
(tests/unit/test_settings_agree.py checks meltano.yml against the tap) runs without meltano.
"""

from __future__ import annotations

import pytest

setting_definition = pytest.importorskip("meltano.core.setting_definition")


def test_meltano_decimal_kind_still_cannot_write_a_value_from_the_environment():
    """Canary for NUMBERS_DECLARED_INTEGER_FOR_MELTANO (tests/unit/test_settings_agree.py): when
    this fails, meltano can carry decimals; declare those settings `kind: decimal` in meltano.yml
    and empty the set."""
    decimal = setting_definition.SettingDefinition(name="x", kind="decimal")
    from_environment = decimal.cast_value("0.5")
    with pytest.raises(TypeError, match="Decimal"):
        setting_definition.json_dumps({"x": from_environment})
    # What keeps `kind: integer` honest for them: meltano casts only strings, so a fractional
    # value written in meltano.yml reaches the tap unchanged.
    integer = setting_definition.SettingDefinition(name="x", kind="integer")
    assert integer.cast_value(0.5) == 0.5


@pytest.mark.parametrize(
    ("kind", "typed", "value"),
    [
        (
            "object",
            '{"vouchers": {"code_upper": "code.upper()"}}',
            {"vouchers": {"code_upper": "code.upper()"}},
        ),
        ("boolean", "true", True),
        ("integer", "3", 3),
    ],
)
def test_meltano_casts_the_sdk_settings_to_the_kinds_meltano_yml_declares(kind, typed, value):
    """What `meltano config set tap-voucherify-exports stream_maps '{...}'` (or the environment)
    stores for the kinds meltano.yml declares for singer-sdk's settings: the value, typed; an
    undeclared setting would reach the tap as the string and fail its validation."""
    setting = setting_definition.SettingDefinition(name="x", kind=kind)
    assert setting.cast_value(typed) == value
    assert setting_definition.SettingDefinition(name="x").cast_value(typed) == typed
