"""`meltano run tap-voucherify-exports target-duckdb` (the demo's pipeline): every row lands.

target-duckdb 0.8.0 loads each batch through a headerless CSV and `COPY ... FROM`, which newer
duckdb releases read with header sniffing: the first row of a batch was lost (of five of the six
streams; meltano.yml pins the plugin's duckdb for that). Two runs against one emulator, rows
added in between, each table compared with the emulator's ground truth by primary key, then the
demo's report (scripts/duckdb_report.py) run on the result as `make demo` runs it: OK per
table, and MISMATCH with exit status 1 once a row is deleted.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.e2e_data import ROWS, STREAMS, TAP, configure_tap, truth_keys
from tests.support.meltano import REPO_ROOT, MeltanoProject, base_env, make_meltano_project
from tests.support.postgres import utc
from voucherify_emulator import Emulator

# `make install` installs duckdb beside meltano; the test extra does not, so a venv with the
# test extra alone (`make test-pythons`) still collects the other tiers.
duckdb = pytest.importorskip("duckdb")

LOADER = "target-duckdb"
SCHEMA = "voucherify"  # default_target_schema in meltano.yml
REPORT = REPO_ROOT / "scripts" / "duckdb_report.py"
REPORT_TIMEOUT_SECONDS = 120
# One window per stream (2021..now): the lost row was the first of each batch, whatever the
# windows, and six export jobs keep a run to seconds.
WINDOW_DAYS = 3650
JOB_LATENCY_SECONDS = 0.5
ADDED_ROWS = {"voucher": 9, "redemption": 7, "publication": 5, "order": 3, "points_expiration": 2}

Keys = dict[str, list[tuple[object, ...]]]


def landed_keys(path: Path) -> Keys:
    """stream -> every row's primary key in the DuckDB file, duplicates kept."""
    keys: Keys = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        for stream, spec in STREAMS.items():
            columns = ", ".join(f'"{column}"' for column in spec.primary_key)
            rows = connection.execute(f'SELECT {columns} FROM {SCHEMA}."{stream}"').fetchall()
            keys[stream] = [tuple(utc(value) for value in row) for row in rows]
    return keys


def run_report(database: Path, emu: Emulator) -> subprocess.CompletedProcess[str]:
    """The demo's report on `database`, checked against `emu`'s control endpoint."""
    return subprocess.run(
        [sys.executable, str(REPORT), "report", str(database), "--emulator", emu.api_url],
        cwd=REPO_ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=REPORT_TIMEOUT_SECONDS,
        check=False,
    )


def verdicts(report: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """stream -> what the report's line for its table says after the counts."""
    found = {}
    for line in report.stdout.splitlines():
        words = line.split(maxsplit=4)
        if len(words) == 5 and words[0] in STREAMS:
            found[words[0]] = words[4]
    return found


@dataclass
class DuckdbSyncs:
    project: MeltanoProject
    emu: Emulator
    first: Keys  # after the first run
    first_truth: dict[str, set[tuple[object, ...]]]
    second: Keys  # after the second run, with ADDED_ROWS created in between
    report: subprocess.CompletedProcess[str]  # on the file after the second run


@pytest.fixture(scope="module")
def duckdb_syncs(
    meltano_plugins: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DuckdbSyncs]:
    project = make_meltano_project(meltano_plugins, tmp_path_factory.mktemp("duckdb"))
    with Emulator(seed=52, rows=ROWS, job_latency_seconds=JOB_LATENCY_SECONDS) as emu:
        configure_tap(project, emu, window_days=WINDOW_DAYS)
        project.run("run", TAP, LOADER)
        first = landed_keys(project.duckdb_path)
        first_truth = {stream: truth_keys(emu, stream) for stream in STREAMS}
        for exported_object, count in ADDED_ROWS.items():
            emu.add_rows(exported_object, count)
        project.run("run", TAP, LOADER)
        yield DuckdbSyncs(
            project=project,
            emu=emu,
            first=first,
            first_truth=first_truth,
            second=landed_keys(project.duckdb_path),
            report=run_report(project.duckdb_path, emu),
        )


def assert_same_rows(
    stream: str, landed: list[tuple[object, ...]], truth: set[tuple[object, ...]]
) -> None:
    duplicates = [key for key, n in Counter(landed).items() if n > 1]
    assert not duplicates, f"{stream}: keys landed more than once: {duplicates[:3]}"
    missing = truth - set(landed)
    assert not missing, f"{stream}: {len(missing)} rows lost, e.g. {sorted(missing)[:3]}"
    assert set(landed) == truth


@pytest.mark.parametrize("stream", STREAMS)
def test_first_run_lands_every_row(duckdb_syncs: DuckdbSyncs, stream: str) -> None:
    truth = duckdb_syncs.first_truth[stream]
    assert len(truth) == ROWS[STREAMS[stream].exported_object]
    assert_same_rows(stream, duckdb_syncs.first[stream], truth)


@pytest.mark.parametrize("stream", STREAMS)
def test_second_run_adds_the_new_rows(duckdb_syncs: DuckdbSyncs, stream: str) -> None:
    """The incremental run's batch (the added rows; all points expirations) lands whole too."""
    truth = truth_keys(duckdb_syncs.emu, stream)
    added = ADDED_ROWS.get(STREAMS[stream].exported_object, 0)
    assert len(truth - duckdb_syncs.first_truth[stream]) == added
    assert_same_rows(stream, duckdb_syncs.second[stream], truth)


def test_report_says_ok_per_table(duckdb_syncs: DuckdbSyncs) -> None:
    report = duckdb_syncs.report
    assert report.returncode == 0, report.stdout + report.stderr
    assert verdicts(report) == dict.fromkeys(STREAMS, "OK"), report.stdout
    assert "Every table matches the emulator." in report.stdout


def test_report_flags_a_lost_row(duckdb_syncs: DuckdbSyncs, tmp_path: Path) -> None:
    """With one voucher deleted from a copy of the file, the report names it and exits 1."""
    copy = tmp_path / "lost-row.duckdb"
    shutil.copyfile(duckdb_syncs.project.duckdb_path, copy)
    with duckdb.connect(str(copy)) as connection:
        row = connection.execute(f"SELECT min(id) FROM {SCHEMA}.vouchers").fetchone()
        assert row
        (lost,) = row
        connection.execute(f"DELETE FROM {SCHEMA}.vouchers WHERE id = ?", [lost])

    report = run_report(copy, duckdb_syncs.emu)
    assert report.returncode == 1, report.stdout + report.stderr
    found = verdicts(report)
    assert found.pop("vouchers") == f"MISMATCH: 1 missing, e.g. [('{lost}',)]"
    assert found == dict.fromkeys(set(STREAMS) - {"vouchers"}, "OK")
    assert "MISMATCH: the tables above differ" in report.stdout
