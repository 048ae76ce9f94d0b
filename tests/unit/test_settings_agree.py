"""meltano.yml, the README, .env.example and the tap's `--about` declare the same settings.

The tap's `config_jsonschema` (tap.py) is the only place a setting is declared; everything else a
user reads is checked against it here, so a setting added or changed in one place only fails.
meltano itself is not imported (the unit tier runs without it): the canary of what meltano does
with those settings is tests/e2e/test_meltano_settings.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from singer_sdk.helpers.capabilities import BATCH_CONFIG, FLATTENING_CONFIG, STREAM_MAPS_CONFIG

from tap_voucherify_exports.tap import TapVoucherifyExports

ROOT = Path(__file__).resolve().parents[2]
TAP = TapVoucherifyExports.name
ENV_PREFIX = "TAP_VOUCHERIFY_EXPORTS_"
ABOUT_TIMEOUT_SECONDS = 120

# Numbers that meltano.yml declares `kind: integer`, because meltano 4.4's `decimal` kind cannot
# pass a value from the environment (see meltano.yml and tests/e2e/test_meltano_settings.py).
NUMBERS_DECLARED_INTEGER_FOR_MELTANO = frozenset(
    {"poll_interval_max", "export_timeout", "request_timeout"}
)

# singer-sdk appends its own settings to the class's schema in place once a tap is built; the
# tap's own are the rest.
SDK_SETTINGS = frozenset(
    name
    for builtin in (STREAM_MAPS_CONFIG, FLATTENING_CONFIG, BATCH_CONFIG)
    for name in builtin["properties"]
)
TAP_SETTINGS: dict[str, dict[str, Any]] = {
    name: schema
    for name, schema in TapVoucherifyExports.config_jsonschema["properties"].items()
    if name not in SDK_SETTINGS
}


def about(output_format: str) -> str:
    """What a user sees from `python -m tap_voucherify_exports --about --format=...`."""
    result = subprocess.run(
        [sys.executable, "-m", "tap_voucherify_exports", "--about", f"--format={output_format}"],
        capture_output=True,
        text=True,
        timeout=ABOUT_TIMEOUT_SECONDS,
        check=True,
    )
    return result.stdout


@pytest.fixture(scope="module")
def about_json() -> dict[str, Any]:
    return json.loads(about("json"))


@pytest.fixture(scope="module")
def extractor() -> dict[str, Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (plugin,) = [p for p in project["plugins"]["extractors"] if p["name"] == TAP]
    return plugin


def json_type(schema: dict[str, Any]) -> str:
    (kind,) = [t for t in schema["type"] if t != "null"]
    return kind


def expected_meltano_kind(name: str, schema: dict[str, Any]) -> str:
    """The meltano kind that carries this JSON schema type to the tap."""
    kind = json_type(schema)
    if kind == "string":
        if schema.get("secret"):
            return "password"
        return "date_iso8601" if schema.get("format") == "date-time" else "string"
    if kind == "number":
        return "integer" if name in NUMBERS_DECLARED_INTEGER_FOR_MELTANO else "decimal"
    return kind


def words(text: str | None) -> str | None:
    return " ".join(text.split()) if text else None


def table_rows(markdown: str, heading: str) -> list[str]:
    """The body rows of the first table after `heading`, as written."""
    section = markdown.split(heading, 1)[1]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|:--"))
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_the_about_output_describes_the_tap_schema(about_json):
    own = {name: about_json["settings"]["properties"][name] for name in TAP_SETTINGS}
    assert own == TAP_SETTINGS
    assert about_json["settings"]["required"] == TapVoucherifyExports.config_jsonschema["required"]


def test_meltano_yml_declares_the_tap_settings_then_the_sdks_in_order(extractor, about_json):
    sdk = [name for name in about_json["settings"]["properties"] if name in SDK_SETTINGS]
    assert set(sdk) == SDK_SETTINGS
    assert [s["name"] for s in extractor["settings"]] == [*TAP_SETTINGS, *sdk]


def test_meltano_yml_declares_the_sdk_settings_with_their_kinds(extractor, about_json):
    # Without a kind, `meltano config set tap-voucherify-exports stream_maps '{...}'` stores a
    # string, and the run fails validation (issue 21).
    properties = about_json["settings"]["properties"]
    for setting in extractor["settings"]:
        name = setting["name"]
        if name in SDK_SETTINGS:
            assert setting["kind"] == json_type(properties[name]), name
            assert words(setting["description"]) == words(properties[name]["description"]), name


def test_meltano_yml_defaults_kinds_secrets_and_descriptions_match_the_tap(extractor):
    for setting in extractor["settings"]:
        name = setting["name"]
        if name in SDK_SETTINGS:
            continue
        schema = TAP_SETTINGS[name]
        assert setting.get("value") == schema.get("default"), name
        assert setting["kind"] == expected_meltano_kind(name, schema), name
        assert bool(setting.get("sensitive")) == bool(schema.get("secret")), name
        assert words(setting.get("description")) == words(schema.get("description")), name


def test_meltano_yml_requires_what_the_tap_requires(extractor):
    (required,) = extractor["settings_group_validation"]
    assert sorted(required) == sorted(TapVoucherifyExports.config_jsonschema["required"])


def test_meltano_yml_capabilities_are_what_the_tap_reports(extractor, about_json):
    assert sorted(extractor["capabilities"]) == sorted(about_json["capabilities"])


def test_readme_settings_table_is_the_about_markdown_for_the_tap_settings():
    readme = table_rows((ROOT / "README.md").read_text(encoding="utf-8"), "## Configuration")
    about_rows = table_rows(about("markdown"), "## Settings")
    own = [row for row in about_rows if row.split("|")[1].strip() in TAP_SETTINGS]
    assert readme == own
    assert [row.split("|")[1].strip() for row in readme] == list(TAP_SETTINGS)


def test_env_example_lists_every_setting_with_its_default_and_no_secret():
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    assignments = {}
    for line in lines:
        match = re.fullmatch(rf"#? ?({ENV_PREFIX}[A-Z_]+)=(.*)", line)
        if match:
            assignments[match[1]] = match[2]
    assert sorted(assignments) == sorted(ENV_PREFIX + name.upper() for name in TAP_SETTINGS)
    for name, schema in TAP_SETTINGS.items():
        value = assignments[ENV_PREFIX + name.upper()]
        if "default" in schema:
            assert value == json.dumps(schema["default"]).strip('"'), name
        if schema.get("secret"):
            assert re.fullmatch(r"<[^>]+>", value), f"{name} must be a placeholder"


def test_python_dash_m_runs_the_same_cli_as_the_console_script():
    script = Path(sys.executable).with_name(TAP)
    console = subprocess.run(
        [str(script), "--about", "--format=json"],
        capture_output=True,
        text=True,
        timeout=ABOUT_TIMEOUT_SECONDS,
        check=True,
    )
    assert json.loads(about("json")) == json.loads(console.stdout)
