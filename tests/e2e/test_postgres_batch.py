"""BATCH into PostgreSQL: `tap --config c.json | target-postgres`, once with RECORD messages and
once with `batch_config`, into two schemas from one emulator; every table holds the same rows.

The executables are the ones meltano installed (as in test_singer_pipe.py): meltano itself cannot
pass `batch_config`, an SDK setting meltano.yml does not declare (tests/unit/test_settings_agree
keeps meltano.yml to the tap's own settings).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e_data import PLAIN_TAP_STREAMS, ROWS, TAP, tap_settings
from tests.support.meltano import base_env
from tests.support.postgres import Postgres, PostgresSettings
from voucherify_emulator import Emulator

PIPE_TIMEOUT_SECONDS = 300
PIPELINE = 'set -euo pipefail; "$1" --config "$2" | tee "$3" | "$4" --config "$5"'


def pipe(plugins: Path, workdir: Path, tap_config: dict[str, Any], schema: str) -> list[dict]:
    """Run tap | target-postgres into `schema`; return the tap's messages."""
    tap = plugins / "extractors" / TAP / "venv" / "bin" / TAP
    target = plugins / "loaders" / "target-postgres" / "venv" / "bin" / "target-postgres"
    settings = PostgresSettings.from_env()
    target_config = {"host": settings.host, "port": settings.port, "user": settings.user,
                     "password": settings.password, "database": settings.database,
                     "default_target_schema": schema}  # fmt: skip
    (workdir / f"{schema}-tap.json").write_text(json.dumps(tap_config))
    (workdir / f"{schema}-target.json").write_text(json.dumps(target_config))
    out = workdir / f"{schema}.out"
    result = subprocess.run(
        ["bash", "-c", PIPELINE, "pipe", str(tap), str(workdir / f"{schema}-tap.json"),
         str(out), str(target), str(workdir / f"{schema}-target.json")],
        env=base_env(), capture_output=True, text=True, timeout=PIPE_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"pipe exited {result.returncode}\n{result.stderr[-5000:]}"
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def loaded(
    meltano_plugins: Path, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Postgres, Postgres, list[dict], list[dict]]]:
    workdir = tmp_path_factory.mktemp("postgres-batch")
    suffix = uuid.uuid4().hex[:10]
    records_db = Postgres(postgres_dsn, f"e2e_records_{suffix}")
    batch_db = Postgres(postgres_dsn, f"e2e_batch_{suffix}")
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": (workdir / "batches").as_uri()},
        "batch_size": 120,
    }
    try:
        with Emulator(seed=23, rows=ROWS, job_latency_seconds=0.3) as emu:
            config = tap_settings(emu)
            records = pipe(meltano_plugins, workdir, config, records_db.schema)
            batches = pipe(
                meltano_plugins, workdir, {**config, "batch_config": batch_config}, batch_db.schema
            )
        yield records_db, batch_db, records, batches
    finally:
        records_db.drop_schema()
        batch_db.drop_schema()


def test_the_batch_run_wrote_batch_messages_only(loaded) -> None:
    _, _, records, batches = loaded
    assert {m["type"] for m in records} >= {"SCHEMA", "RECORD", "STATE"}
    assert "RECORD" not in {m["type"] for m in batches}
    batched = {m["stream"] for m in batches if m["type"] == "BATCH"}
    assert batched - {"bin_entries"} == set(PLAIN_TAP_STREAMS)


@pytest.mark.parametrize("stream", PLAIN_TAP_STREAMS)
def test_batch_rows_equal_record_rows(loaded, stream: str) -> None:
    records_db, batch_db, _, _ = loaded
    columns = sorted(c for c in records_db.columns(stream) if not c.startswith("_sdc_"))
    assert sorted(c for c in batch_db.columns(stream) if not c.startswith("_sdc_")) == columns
    expected = sorted(records_db.select(stream, columns), key=repr)
    assert len(expected) == ROWS[PLAIN_TAP_STREAMS[stream].exported_object]
    assert sorted(batch_db.select(stream, columns), key=repr) == expected
