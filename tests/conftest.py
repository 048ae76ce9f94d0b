"""Markers by folder, so a test's tier follows where it lives, not a line each file must repeat.

`pytest -m "not integration and not e2e"` runs the unit tests alone; `-m e2e` the meltano and
PostgreSQL tests. tests/emulator, the emulator's own tests, holds both tiers: its modules over
HTTP mark themselves `integration`. Test helpers are plain modules in tests/support.

The suite runs in pytest-xdist workers ([tool.pytest.ini_options] addopts); `WholeModules` below
decides which tests go to a worker together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

# The helpers' own asserts (tests/support/postgres_runs.py's `assert_table_is_the_truth`, ...)
# explain a failure as a test's do.
pytest.register_assert_rewrite("tests.support")

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


# Modules whose tests share a module-scoped fixture too costly to build once per worker: each
# goes whole to one pytest-xdist worker. Every e2e module (module fixtures that run meltano syncs
# and dbt builds of 20-35 s each), and:
WHOLE_MODULES = frozenset({
    "tests/integration/test_cli_workers.py",  # a 25,000-row emulator
    "tests/unit/test_parallel.py",  # a pool of parser processes
    "tests/unit/test_settings_agree.py",  # the tap's `--about` run as a subprocess
})  # fmt: skip
WHOLE_FOLDERS = ("tests/e2e/",)


class WholeModules(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no py.typed
    """`--dist load` (one test at a time, to whichever worker is free), except that the tests of
    `WHOLE_MODULES` and `WHOLE_FOLDERS` go to a worker one module at a time.

    What `--dist loadgroup` with `xdist_group` marks would do, but pytest-xdist 3.8 groups by
    rewriting node ids, which pytest 9.2 no longer lets it do: the marks are silently ignored and
    each e2e test would rebuild its module's fixture (pytest-dev/pytest-xdist#1386). The
    scheduler sees node ids only, so the modules are named here, not marked.
    """

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        if module in WHOLE_MODULES or module.startswith(WHOLE_FOLDERS):
            return module
        return nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    """`WholeModules` for `--dist loadgroup` (addopts); other `--dist` modes as xdist has them."""
    if config.getvalue("dist") == "loadgroup":
        return WholeModules(config, log)
    return None
