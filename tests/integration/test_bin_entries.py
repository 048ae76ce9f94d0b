"""`bin_entries` (docs/incremental.md#deletes): `GET /v1/trash-bin` read through the tap's client,
incremental on `created_at`, over real HTTP against the emulator, through the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import TAP, run_tap
from tests.support.emulator import base_config, list_calls
from tests.support.sync import catalog_for, records, states
from voucherify_emulator import Emulator, RecordedRequest

pytestmark = pytest.mark.integration


def write_inputs(emu: Emulator, tmp_path: Path, streams: set[str], state: dict[str, Any] | None):
    config = base_config(emu)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_for(config, streams)))
    args = ["--catalog", str(catalog)]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    return config, args


def sync(
    emu: Emulator, tmp_path: Path, streams: set[str], state: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One CLI run; its messages and its last STATE."""
    config, args = write_inputs(emu, tmp_path, streams, state)
    result = run_tap(config, tmp_path, *args)
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return messages, states(messages)[-1]


def test_the_next_run_holds_the_vouchers_moved_to_the_bin_and_not_those_deleted_for_good(
    emulator: Emulator, tmp_path: Path
) -> None:
    messages, state = sync(emulator, tmp_path, {"vouchers", "bin_entries"})
    synced = {row["id"] for row in records(messages, "vouchers")}
    assert records(messages, "bin_entries") == []
    assert emulator.remove_rows("voucher", 4, to_bin=True) == 4
    binned = {entry.resource_id for entry in emulator.trash_bin.entries()}
    assert emulator.remove_rows("voucher", 2) == 2  # force: no bin entry
    messages, _ = sync(emulator, tmp_path, {"vouchers", "bin_entries"}, state)
    entries = records(messages, "bin_entries")
    assert {entry["resource_id"] for entry in entries} == binned
    assert binned <= synced
    assert binned.isdisjoint(row["id"] for row in emulator.ground_truth("voucher"))
    expected = [
        {key: value for key, value in entry.to_json().items() if key != "object"}
        for entry in emulator.trash_bin.entries()
    ]
    assert sorted(entries, key=lambda e: e["id"]) == expected


def test_bin_entries_is_incremental_on_created_at(emulator: Emulator, tmp_path: Path) -> None:
    emulator.remove_rows("voucher", 3, to_bin=True)
    messages, state = sync(emulator, tmp_path, {"bin_entries"})
    assert len(records(messages, "bin_entries")) == 3
    newest = max(entry.created_at for entry in emulator.trash_bin.entries())
    # The newest entry's created_at, as the bin wrote it, once every entry was emitted.
    assert state["bookmarks"]["bin_entries"]["replication_key_value"] == newest
    messages, state = sync(emulator, tmp_path, {"bin_entries"}, state)
    # The entry at the bookmark itself comes again (the bookmark is inclusive), nothing older.
    assert [entry["created_at"] for entry in records(messages, "bin_entries")] == [newest]
    emulator.remove_rows("voucher", 2, to_bin=True)
    messages, _ = sync(emulator, tmp_path, {"bin_entries"}, state)
    assert len(records(messages, "bin_entries")) == 3  # the one at the bookmark, two new
    # Every call went to the bin's list, paged by starting_after_id, 100 an answer.
    assert {call.query["limit"][0] for call in list_calls(emulator, "/v1/trash-bin")} == {"100"}


def test_a_run_killed_while_reading_the_bin_resumes_without_losing_an_entry(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.remove_rows("voucher", 250, to_bin=True)  # three pages
    config, args = write_inputs(emulator, tmp_path, {"bin_entries"}, None)
    (tmp_path / "config.json").write_text(json.dumps(config))
    out = (tmp_path / "killed.out").open("w")
    process = subprocess.Popen(
        [str(TAP), "--config", str(tmp_path / "config.json"), *args],
        stdout=out,
        stderr=subprocess.DEVNULL,
    )

    def kill_on_the_second_page(request: RecordedRequest) -> None:
        if request.path == "/v1/trash-bin" and "starting_after_id" in request.query:
            process.kill()

    remove = emulator.on_request(kill_on_the_second_page)
    try:
        assert process.wait(timeout=120) != 0
    finally:
        remove()
        out.close()
    lines = (tmp_path / "killed.out").read_text().splitlines()
    written = []
    for line in lines:
        try:
            written.append(json.loads(line))
        except ValueError:
            break  # the line the kill cut short
    killed_states = states(written)
    state = killed_states[-1] if killed_states else None
    assert (
        not (state or {}).get("bookmarks", {}).get("bin_entries", {}).get("replication_key_value")
    )
    messages, state = sync(emulator, tmp_path, {"bin_entries"}, state)
    entries = records(messages, "bin_entries")
    assert {e["id"] for e in entries} == {e.id for e in emulator.trash_bin.entries()}
    assert len(entries) == 250
