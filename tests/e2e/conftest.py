"""Fixtures for end-to-end tests: `meltano run` into a real PostgreSQL.

`postgres_dsn`
    Session-scoped. The libpq URI (``postgresql://user:password@host:port/database``) built from
    ``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD``/``PGDATABASE`` (defaults 127.0.0.1, 5432,
    postgres, postgres, voucherify), once a TCP connection to it succeeds and, where ``psql`` is
    on PATH, a ``SELECT 1`` with those credentials does. When unreachable the test is skipped
    with the reason, except under CI (``CI`` set to anything but ``0``/``false``; ``.ci/run``
    sets ``CI=1``), where it fails instead. ``scripts/start-postgres.sh`` starts such a server
    and prints the variables.

`meltano_plugins`
    Session-scoped. Every plugin in meltano.yml installed once, with ``meltano install``, into the
    repository's ``.meltano/`` (shared with ``make demo``); its path.

`meltano_project`
    Function-scoped. A `MeltanoProject` for running ``meltano`` against the repository's own
    meltano.yml (environment ``dev``), isolated per test: its own ``.meltano`` directory (system
    database, hence meltano state; run configs; logs) under ``tmp_path``, its own PostgreSQL schema
    (`MeltanoProject.target_postgres_schema`; dbt-postgres builds into
    `MeltanoProject.dbt_postgres_schema`), DuckDB file (dbt-duckdb builds into it too), JSONL
    folder, dbt target and log folders, the plugin venvs (utilities included) linked in. Point
    the tap at an emulator with `MeltanoProject.set_config`; run with `MeltanoProject.run`; read
    bookmarks with `MeltanoProject.state`. Needs ``meltano`` beside the
    running Python (``make install``); without it the test is skipped, or fails under CI.

The code behind them is in tests/support (meltano.py, postgres.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.meltano import MeltanoProject, install_plugins, make_meltano_project
from tests.support.postgres import reachable_dsn


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """URI of the test PostgreSQL; skips (fails under CI) when it cannot be reached."""
    return reachable_dsn()


@pytest.fixture(scope="session")
def meltano_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install every plugin in meltano.yml once per session; return the shared `.meltano`."""
    return install_plugins(tmp_path_factory.mktemp("meltano-install"))


@pytest.fixture
def meltano_project(meltano_plugins: Path, tmp_path: Path) -> MeltanoProject:
    """A `MeltanoProject` with its own system database, state and destinations (see above)."""
    return make_meltano_project(meltano_plugins, tmp_path)
