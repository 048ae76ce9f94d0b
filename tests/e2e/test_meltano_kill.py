"""`meltano run` whose tap is SIGKILLed mid-sync (what an OOM killer does to one process), then
`meltano run` again: the state meltano kept lists the exports the killed tap left, and the next
run deletes them; a killed backfill resumes in backfill-sized windows.

A throwaway meltano project in `tmp_path`: the extractor is this environment's
`tap-voucherify-exports` (no plugin venv), the loader a minimal singer-sdk target (the base
class of meltanolabs' target-postgres: it keeps the latest STATE and emits it when it drains,
and when its input ends). Nothing is installed and no database is needed; meltano 4.4.1 stores
the state in its system database (SQLite), as a `meltano run` in production does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tap_voucherify_exports.export_stream import BACKFILL_STATE_KEY
from tap_voucherify_exports.jobs.ledger import STATE_KEY
from tests.support.emulator import create_export_as_someone_else, export_creates, on_nth_create
from tests.support.meltano import kill_tap_when
from voucherify_emulator import Emulator

BIN = Path(sys.executable).parent
TAP = BIN / "tap-voucherify-exports"
MELTANO = BIN / "meltano"
STATE_ID = "dev:tap-voucherify-exports-to-target-rows"
WAIT_SECONDS = 180
END_DATE = "2025-01-02T00:00:00Z"  # the emulator's rows span 2021-2024

TARGET = '''\
"""A minimal singer-sdk target: rows to JSON lines, one file per stream."""

import json
from pathlib import Path

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import RecordSink


class RowsSink(RecordSink):
    def process_record(self, record, context):
        with (Path(self.config["folder"]) / f"{self.stream_name}.jsonl").open("a") as out:
            out.write(json.dumps(record, default=str) + "\\n")


class TargetRows(Target):
    name = "target-rows"
    config_jsonschema = th.PropertiesList(th.Property("folder", th.StringType)).to_dict()
    default_sink_class = RowsSink


if __name__ == "__main__":
    TargetRows.cli()
'''

SETTINGS = {
    "app_id": "string", "app_token": "string", "api_url": "string", "download_url": "string",
    "start_date": "string", "end_date": "string", "window_days": "integer",
    "backfill_window_days": "integer", "poll_interval_max": "integer",
    "export_timeout": "integer", "max_concurrent_exports": "integer",
    "max_requests_per_minute": "integer",
}  # fmt: skip


def meltano_yml(streams: list[str], target: Path) -> str:
    extractor = {
        "name": "tap-voucherify-exports",
        "namespace": "tap_voucherify_exports",
        "executable": str(TAP),
        "capabilities": ["catalog", "discover", "state", "about"],
        "settings": [{"name": name, "kind": kind} for name, kind in SETTINGS.items()],
        "select": [f"{stream}.*" for stream in streams],
    }
    loader = {
        "name": "target-rows",
        "namespace": "target_rows",
        "executable": str(target),
        "settings": [{"name": "folder", "kind": "string"}],
    }
    project = {
        "version": 1,
        "default_environment": "dev",
        "environments": [{"name": "dev"}],
        "plugins": {"extractors": [extractor], "loaders": [loader]},
    }
    return json.dumps(project, indent=2)  # JSON is YAML


class Project:
    """The throwaway project: its settings as meltano env vars, runs, stored state."""

    def __init__(self, root: Path, emu: Emulator, streams: list[str], **settings: Any) -> None:
        if not MELTANO.exists():
            pytest.skip(f"meltano is not installed beside {sys.executable}; run `make install`")
        self.root = root
        target = root / "target_rows.py"
        target.write_text(f"#!{sys.executable}\n{TARGET}")
        target.chmod(0o755)
        (root / "rows").mkdir()
        (root / "meltano.yml").write_text(meltano_yml(streams, target))
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("MELTANO_", "TAP_VOUCHERIFY_EXPORTS_", "TARGET_ROWS_"))
        } | {
            "MELTANO_PROJECT_ROOT": str(root),
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_DATABASE_URI": f"sqlite:///{root}/meltano.db",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
            "MELTANO_AUTO_INSTALL": "false",
            "TARGET_ROWS_FOLDER": str(root / "rows"),
        }
        # Whole seconds: meltano 4.4.1 hands a `decimal` setting over as a Decimal and fails.
        self.set(**emu.tap_config(end_date=END_DATE, poll_interval_max=1, **settings))

    def set(self, **settings: Any) -> None:
        for name, value in settings.items():
            self.env[f"TAP_VOUCHERIFY_EXPORTS_{name.upper()}"] = str(value)

    def start_run(self, log: str) -> subprocess.Popen[bytes]:
        with (self.root / log).open("wb") as out:
            return subprocess.Popen(
                [str(MELTANO), "run", "tap-voucherify-exports", "target-rows"],
                cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def run(self, log: str) -> tuple[int, str]:
        process = self.start_run(log)
        return process.wait(timeout=WAIT_SECONDS), (self.root / log).read_text(errors="replace")

    def state(self) -> dict[str, Any]:
        result = subprocess.run(
            [str(MELTANO), "state", "get", STATE_ID],
            cwd=self.root, env=self.env, capture_output=True, text=True, check=True,
            timeout=WAIT_SECONDS,
        )  # fmt: skip
        singer_state: dict[str, Any] = json.loads(result.stdout)["singer_state"]
        return singer_state


def test_meltano_keeps_the_killed_taps_exports_in_its_state_and_the_next_run_deletes_them(
    tmp_path: Path,
) -> None:
    with Emulator(seed=9, rows={"customer": 40, "order": 40}, job_latency_seconds=0.05) as emu:
        foreign = create_export_as_someone_else(emu)
        emu.inject("never_finish", times=1, exported_object="order")
        project = Project(
            tmp_path, emu, ["customers", "orders"], export_timeout=600, max_concurrent_exports=3
        )

        def orders_waiting() -> bool:
            orders = [job for job in emu.exports if job.exported_object == "order"]
            return len(orders) == 3 and sum(job.status == "DONE" for job in orders) == 2

        first = project.start_run("first.log")
        kill_tap_when(first, orders_waiting, WAIT_SECONDS)
        left = {job.id for job in emu.exports if not job.deleted and job.id != foreign}
        kept = project.state()
        emu.clear_faults()
        status, log = project.run("second.log")
        after = {job.id: job.deleted for job in emu.exports}
        stored = project.state()

    assert first.returncode != 0  # meltano says the extractor failed
    assert len(left) == 3
    assert left <= set(kept[STATE_KEY])
    assert status == 0, log[-5000:]
    [line] = [line for line in log.splitlines() if "an earlier run left on Voucherify" in line]
    assert f"Deleted {len(kept[STATE_KEY])} exports an earlier run left on Voucherify: " in line
    assert all(deleted for export_id, deleted in after.items() if export_id != foreign)
    assert after[foreign] is False
    assert stored[STATE_KEY] == []


def test_meltano_resumes_a_killed_backfill_in_backfill_sized_windows(tmp_path: Path) -> None:
    with Emulator(seed=9, rows={"redemption": 400}, job_latency_seconds=0.05) as emu:
        project = Project(
            tmp_path, emu, ["redemptions"],
            window_days=30, backfill_window_days=365, max_concurrent_exports=1,
        )  # fmt: skip
        # The second window's export never finishes: the tap is killed waiting for it.
        on_nth_create(
            emu, 2, lambda: emu.inject("never_finish", times=1, exported_object="redemption")
        )
        first = project.start_run("first.log")
        kill_tap_when(first, lambda: export_creates(emu) >= 2, WAIT_SECONDS)
        emu.clear_faults()
        kept = project.state()
        before = len(emu.exports)
        status, log = project.run("second.log")
        resumed = emu.exports[before:]
        stored = project.state()

    mark = kept["bookmarks"]["redemptions"]
    assert mark["replication_key_value"] == "2022-01-01T00:00:00+00:00"
    assert mark[BACKFILL_STATE_KEY] is False
    assert status == 0, log[-5000:]
    assert [window_days(job.parameters) for job in resumed] == [365, 365, 365, 2]
    assert stored["bookmarks"]["redemptions"][BACKFILL_STATE_KEY] is True


def window_days(parameters: dict[str, Any]) -> int:
    conditions = parameters["filters"]["created_at"]["conditions"]
    after = dt.datetime.fromisoformat(conditions["$after"][0].replace("Z", "+00:00"))
    before = dt.datetime.fromisoformat(conditions["$before"][0].replace("Z", "+00:00"))
    return round((before - after).total_seconds() / 86400)
