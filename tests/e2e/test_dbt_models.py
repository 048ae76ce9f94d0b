"""The dbt project in transform/ built and tested by meltano on data the tap loaded from the
emulator, on DuckDB and on PostgreSQL, and its marts compared with the emulator's ground truth.

- DuckDB, as `make demo` runs it: `meltano run tap-voucherify-exports target-duckdb
  dbt-duckdb:build` once (target-duckdb upserts), after vouchers, customers and orders changed;
  then `dbt source freshness`.
- PostgreSQL, loading vouchers, customers and orders append-only (no key properties, so a
  changed row lands twice): a first `meltano run` of
  the tap into target-postgres, then changes (rows updated, added, and points expirations gone),
  then the same run ending in `dbt-postgres:build`. Staging must hold each key's latest version
  and no vanished expiration (ACTIVATE_VERSION marks them deleted); the history models every
  version of the changed rows.
- Snowflake: `dbt compile` through the dbt-snowflake utility, without an account.

Every dbt test must pass (a warning, such as a relationship between streams broken, fails here:
the emulator's data is whole). Each build takes 10-20 s; the three scenarios ~60 s together.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import yaml

from tests.support.dbt_marts import (
    CAMPAIGN_COLUMNS,
    CUSTOMER_COLUMNS,
    DAILY_COLUMNS,
    Truth,
    by_key,
    differences,
)
from tests.support.e2e_data import ROWS, STREAMS, TAP, configure_tap, parse_ts
from tests.support.meltano import MeltanoProject, make_meltano_project
from tests.support.postgres import Postgres
from voucherify_emulator import Emulator

pytestmark = pytest.mark.e2e

WINDOW_DAYS = 3650  # one export per stream and cursor: runs of seconds
JOB_LATENCY_SECONDS = 0.5
DUCKDB_SCHEMA = "voucherify"  # target-duckdb's default_target_schema (meltano.yml)
MODEL_SCHEMA = "analytics"  # dbt-duckdb's schema (meltano.yml)
UPDATED = {"voucher": 20, "customer": 10, "order": 10}
ADDED = {"voucher": 5, "redemption": 7, "publication": 4, "order": 3}
REMOVED_EXPIRATIONS = 3
MODELS = 13  # 7 staging, 3 history, 3 marts
STREAM_TABLES = tuple(STREAMS)
# Every export of a changing row lands as a row of its own (the history models' input):
# target-postgres 0.8.1 upserts whenever a stream has key properties, whatever its
# `load_method`, so the tap's stream maps send these streams without them (docs/models.md,
# "History"), set as docs/models.md says: in the extractor's `config:` in meltano.yml.
# A metadata key as its own column (the tap's `metadata_keys`): staging passes it through.
METADATA_KEYS = {"vouchers": ["region"]}
APPEND_ONLY: dict[str, dict[str, list[str]]] = {
    stream: {"__key_properties__": []} for stream in ("vouchers", "customers", "orders")
}

Query = Callable[[str], list[dict[str, Any]]]


@dataclass
class Build:
    """One warehouse after `meltano run ... dbt-<adapter>:build`."""

    project: MeltanoProject
    truth: Truth
    emu: Emulator
    query: Query  # SELECT in the models' schema -> rows as dicts
    raw: Postgres | None = None  # PostgreSQL: the loaded schema
    # dbt's run_results.json of the build: one entry per model and test.
    results: list[dict[str, Any]] = field(default_factory=list)


def dbt_results(project: MeltanoProject, name: str = "run_results.json") -> list[dict[str, Any]]:
    """The `results` of a dbt artifact the last dbt command wrote."""
    results: list[dict[str, Any]] = json.loads((project.dbt_target_dir / name).read_text())[
        "results"
    ]
    return results


def with_extractor_config(project: MeltanoProject, root: Path, **config: object) -> None:
    """Run `project` from `root`: a copy of the repository's meltano.yml whose extractor has
    `config` too (the repository's own meltano.yml stays as it is), beside links to the dbt
    project and the locked plugin definitions."""
    manifest = yaml.safe_load((project.root / "meltano.yml").read_text())
    (extractor,) = (p for p in manifest["plugins"]["extractors"] if p["name"] == TAP)
    extractor.setdefault("config", {}).update(config)
    root.mkdir()
    (root / "meltano.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    for linked in ("transform", "plugins"):
        (root / linked).symlink_to(project.root / linked, target_is_directory=True)
    project.root = root
    project.env["MELTANO_PROJECT_ROOT"] = str(root)


def change(emu: Emulator) -> None:
    """Rows updated and added between two syncs."""
    for exported_object, count in UPDATED.items():
        assert emu.update_rows(exported_object, count) == count
    for exported_object, count in ADDED.items():
        emu.add_rows(exported_object, count)


def duckdb_query(path: Path) -> Query:
    def query(sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(path), read_only=True) as connection:
            cursor = connection.execute(sql)
            names = [column[0] for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return query


def postgres_query(dsn: str) -> Query:
    def query(sql: str) -> list[dict[str, Any]]:
        with psycopg.connect(dsn, connect_timeout=10) as connection:
            connection.execute("SET TIME ZONE 'UTC'")
            cursor = connection.execute(sql)
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return query


@pytest.fixture(scope="module")
def duckdb_build(
    meltano_plugins: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Build]:
    project = make_meltano_project(meltano_plugins, tmp_path_factory.mktemp("dbt-duckdb"))
    project.env["DBT_SOURCE_SCHEMA"] = DUCKDB_SCHEMA
    with Emulator(seed=61, rows=ROWS, job_latency_seconds=JOB_LATENCY_SECONDS) as emu:
        configure_tap(project, emu, window_days=WINDOW_DAYS, metadata_keys=METADATA_KEYS)
        change(emu)
        project.run("run", TAP, "target-duckdb", "dbt-duckdb:build")
        results = dbt_results(project)
        project.run("invoke", "dbt-duckdb:freshness")
        yield Build(project, Truth(emu), emu, duckdb_query(project.duckdb_path), results=results)


@pytest.fixture(scope="module")
def postgres_build(
    meltano_plugins: Path, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Build]:
    tmp_path = tmp_path_factory.mktemp("dbt-postgres")
    project = make_meltano_project(meltano_plugins, tmp_path)
    with_extractor_config(project, tmp_path / "project", stream_maps=APPEND_ONLY)
    raw = Postgres(postgres_dsn, project.target_postgres_schema)
    models = Postgres(postgres_dsn, project.dbt_postgres_schema)
    project.env["DBT_SOURCE_SCHEMA"] = project.target_postgres_schema
    try:
        with Emulator(seed=62, rows=ROWS, job_latency_seconds=JOB_LATENCY_SECONDS) as emu:
            configure_tap(project, emu, window_days=WINDOW_DAYS, metadata_keys=METADATA_KEYS)
            project.run("run", TAP, "target-postgres")
            change(emu)
            assert emu.remove_rows("points_expiration", REMOVED_EXPIRATIONS) == REMOVED_EXPIRATIONS
            project.run("run", TAP, "target-postgres", "dbt-postgres:build")
            query = postgres_query(postgres_dsn)

            def in_models(sql: str) -> list[dict[str, Any]]:
                return query(sql.replace(f"{MODEL_SCHEMA}.", f"{models.schema}."))

            yield Build(project, Truth(emu), emu, in_models, raw, dbt_results(project))
    finally:
        models.drop_schema()
        raw.drop_schema()


@pytest.fixture(params=["duckdb", "postgres"])
def build(request: pytest.FixtureRequest) -> Build:
    """Each warehouse's build in turn."""
    built: Build = request.getfixturevalue(f"{request.param}_build")
    return built


def test_every_model_builds_and_every_dbt_test_passes(build: Build) -> None:
    results = build.results
    statuses = Counter(result["status"] for result in results)
    assert statuses == {"success": MODELS, "pass": len(results) - MODELS}, [
        (result["unique_id"], result["status"], result.get("message"))
        for result in results
        if result["status"] not in ("success", "pass")
    ]


def test_every_source_is_fresh_after_a_sync(duckdb_build: Build) -> None:
    """`dbt source freshness` on `_sdc_extracted_at`: the tables a sync just loaded pass."""
    results = dbt_results(duckdb_build.project, "sources.json")
    assert {result["unique_id"].rsplit(".", 1)[-1]: result["status"] for result in results} == (
        dict.fromkeys(STREAM_TABLES, "pass")
    )


def test_campaigns_mart_equals_the_ground_truth(build: Build) -> None:
    built = by_key(
        build.query("SELECT * FROM analytics.voucherify__campaigns"),
        "campaign_id",
        CAMPAIGN_COLUMNS,
    )
    truth = build.truth.campaigns()
    assert differences(built, truth) == []
    assert len(built) > 1


def test_redemption_rate_is_the_share_of_vouchers_redeemed(build: Build) -> None:
    for row in build.query("SELECT * FROM analytics.voucherify__campaigns"):
        expected = row["vouchers_redeemed"] / row["vouchers_issued"]
        assert row["redemption_rate"] == pytest.approx(expected)


def test_customers_mart_equals_the_ground_truth(build: Build) -> None:
    built = by_key(
        build.query("SELECT * FROM analytics.voucherify__customers"),
        "customer_id",
        CUSTOMER_COLUMNS,
    )
    assert differences(built, build.truth.customers_mart()) == []


def test_daily_activity_mart_equals_the_ground_truth(build: Build) -> None:
    built = by_key(
        build.query("SELECT * FROM analytics.voucherify__daily_activity"),
        "activity_date",
        DAILY_COLUMNS,
    )
    assert differences(built, build.truth.daily()) == []


def test_staging_holds_each_changed_row_once_at_its_latest_version(build: Build) -> None:
    """Whether target-duckdb upserted or target-postgres appended the changed rows."""
    truth = {v["id"]: v for v in build.truth.vouchers}
    rows = build.query(
        "SELECT voucher_id, redemption_count, is_active, updated_at"
        " FROM analytics.stg_voucherify__vouchers"
    )
    assert Counter(row["voucher_id"] for row in rows) == Counter(truth.keys())
    for row in rows:
        cells = truth[row["voucher_id"]]
        assert row["redemption_count"] == int(cells["redemption_count"])
        assert row["is_active"] == (cells["active"] == "true")
        if cells["updated_at"]:
            assert row["updated_at"] == parse_ts(cells["updated_at"])
    statuses = {
        row["order_id"]: row["status"]
        for row in build.query("SELECT order_id, status FROM analytics.stg_voucherify__orders")
    }
    assert statuses == {order["id"]: order["status"] for order in build.truth.orders}


def test_appended_versions_become_history_periods(postgres_build: Build) -> None:
    raw = postgres_build.raw
    assert raw is not None
    assert raw.count("vouchers") > len(postgres_build.truth.vouchers), "no version was appended"
    history = postgres_build.query(
        "SELECT voucher_id, valid_from, valid_to, is_current, redemption_count"
        " FROM analytics.voucherify__voucher_history ORDER BY voucher_id, valid_from"
    )
    versions: dict[str, list[dict[str, Any]]] = {}
    for row in history:
        versions.setdefault(row["voucher_id"], []).append(row)
    changed = {key for key, rows in versions.items() if len(rows) > 1}
    assert len(changed) == UPDATED["voucher"]
    for rows in versions.values():
        assert [row["is_current"] for row in rows] == [False] * (len(rows) - 1) + [True]
        for earlier, later in itertools.pairwise(rows):
            assert earlier["valid_to"] == later["valid_from"]
        assert rows[-1]["valid_to"] is None
    current = {v["id"]: int(v["redemption_count"]) for v in postgres_build.truth.vouchers}
    assert {k: rows[-1]["redemption_count"] for k, rows in versions.items()} == current


def test_expirations_gone_from_voucherify_are_gone_from_staging(postgres_build: Build) -> None:
    """target-postgres marks them deleted (ACTIVATE_VERSION); staging leaves them out."""
    staged = {
        row["points_expiration_id"]
        for row in postgres_build.query(
            "SELECT points_expiration_id FROM analytics.stg_voucherify__points_expirations"
        )
    }
    truth = {row["id"] for row in postgres_build.emu.ground_truth("points_expiration")}
    assert staged == truth
    assert len(truth) == ROWS["points_expiration"] - REMOVED_EXPIRATIONS


def test_metadata_is_an_object_or_null(build: Build) -> None:
    """An empty metadata cell (JSON null in PostgreSQL) is SQL NULL in staging."""
    rows = build.query("SELECT voucher_id, metadata FROM analytics.stg_voucherify__vouchers")
    truth = {v["id"]: v["metadata"] for v in build.truth.vouchers}
    for row in rows:
        value = row["metadata"]
        if truth[row["voucher_id"]] == "":
            assert value is None
        else:
            parsed = json.loads(value) if isinstance(value, str) else value
            assert parsed == json.loads(truth[row["voucher_id"]])


def test_metadata_key_columns_pass_through_staging(build: Build) -> None:
    rows = build.query(
        "SELECT voucher_id, metadata__region FROM analytics.stg_voucherify__vouchers"
    )
    truth = {
        v["id"]: json.loads(v["metadata"]).get("region") if v["metadata"] else None
        for v in build.truth.vouchers
    }
    assert {row["voucher_id"]: row["metadata__region"] for row in rows} == truth
    assert any(truth.values())


def test_sums_keep_the_exported_digits(build: Build) -> None:
    """Amounts are numeric in staging: sums add up to the cent."""
    (row,) = build.query("SELECT sum(total_amount) AS total FROM analytics.stg_voucherify__orders")
    expected = sum(Decimal(order["total_amount"]) for order in build.truth.orders)
    assert Decimal(row["total"]) == expected


def test_models_compile_for_snowflake(meltano_plugins: Path, tmp_path: Path) -> None:
    """`dbt compile` through the dbt-snowflake utility, with no account to connect to."""
    project = make_meltano_project(meltano_plugins, tmp_path)
    project.set_config("dbt-snowflake", account="compile-only", user="nobody", database="ANALYTICS")
    project.run(
        "invoke",
        "dbt-snowflake",
        "compile",
        "--no-populate-cache",
        "--vars",
        "{voucherify_introspect: false}",
    )
    compiled = {
        path.stem: path.read_text()
        for path in (project.dbt_target_dir / "compiled").rglob("*.sql")
        if path.parent.name in ("staging", "history", "marts")
    }
    assert len(compiled) == MODELS
    assert "timestamp_tz_from_parts(" in compiled["stg_voucherify__vouchers"]
    assert "is_object(metadata)" in compiled["stg_voucherify__vouchers"]
