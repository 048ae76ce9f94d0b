"""Markers by folder, so a test's tier follows where it lives, not a line each file must repeat.

`pytest -m "not integration and not e2e"` runs the unit tests alone; `-m e2e` the meltano and
PostgreSQL tests. tests/emulator, the emulator's own tests, holds both tiers: its modules over
HTTP mark themselves `integration`. Test helpers are plain modules in tests/support.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FOLDER_MARKERS = {
    "integration": "integration",  # real HTTP against the emulator
    "reliability": "integration",  # faults, crash-resume and security, also over real HTTP
    "e2e": "e2e",  # through meltano into PostgreSQL
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.resolve().relative_to(HERE).parts[0]
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
