"""One version everywhere: pyproject.toml, the CHANGELOG's newest release and `--version`.

singer-sdk reports the installed distribution's version (`importlib.metadata`), so `--version`
only follows pyproject.toml after a reinstall (`make install` does it when pyproject.toml changes).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TAP = Path(sys.executable).with_name("tap-voucherify-exports")

# Keep a Changelog: "## [0.4.0] - 2026-12-06"; "## [Unreleased]" is not a release.
RELEASE_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", re.MULTILINE)
# singer-sdk's line: "tap-voucherify-exports v0.4.0, Meltano SDK v0.54.9"
VERSION_LINE = re.compile(r"^tap-voucherify-exports v(\S+), Meltano SDK v\S+$")


def pyproject_version() -> str:
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is in the standard library from Python 3.11 on")
    import tomllib

    with (ROOT / "pyproject.toml").open("rb") as file:
        version: str = tomllib.load(file)["project"]["version"]
    return version


def changelog_version() -> str:
    headings = RELEASE_HEADING.findall((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert headings, "CHANGELOG.md has no '## [X.Y.Z] - YYYY-MM-DD' release heading"
    newest: str = headings[0]
    return newest


def cli_version() -> str:
    done = subprocess.run(
        [str(TAP), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    line = done.stdout.strip()
    match = VERSION_LINE.match(line)
    assert match, f"unexpected --version output: {line!r}"
    return match.group(1)


def test_pyproject_changelog_and_cli_report_one_version() -> None:
    versions = {
        "pyproject.toml": pyproject_version(),
        "CHANGELOG.md newest release": changelog_version(),
        "tap-voucherify-exports --version": cli_version(),
    }
    assert len(set(versions.values())) == 1, (
        f"versions disagree: {versions} (after changing pyproject.toml, `make install` again)"
    )


def test_changelog_releases_are_newest_first() -> None:
    headings = RELEASE_HEADING.findall((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    numbers = [tuple(int(part) for part in heading.split(".")) for heading in headings]
    assert numbers == sorted(numbers, reverse=True), headings
    assert len(set(numbers)) == len(numbers), headings
