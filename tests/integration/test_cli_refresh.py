"""Full refreshes through the CLI over real HTTP: a refresh due exports every row under a new
version closed by one ACTIVATE_VERSION; runs between refreshes carry the current version; a
refresh killed halfway finishes on the next run without a second full export."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tap_voucherify_exports.export_stream import REFRESH_STATE_KEY
from tests.support.cli import TapRun
from tests.support.emulator import export_creates, on_nth_create
from voucherify_emulator import Emulator

STREAMS = {"vouchers": "voucher", "customers": "customer", "orders": "order"}
ROWS = {"voucher": 60, "customer": 30, "order": 30}


def versioned(messages: list[dict[str, Any]], stream: str) -> list[tuple[str, Any, Any]]:
    """(type, version, id) of the stream's RECORD and ACTIVATE_VERSION messages, in order."""
    return [
        (m["type"], m.get("version"), m.get("record", {}).get("id"))
        for m in messages
        if m["type"] in {"RECORD", "ACTIVATE_VERSION"} and m["stream"] == stream
    ]


def assert_refreshed(messages: list[dict[str, Any]], stream: str, ids: set[str]) -> int:
    """Every record of `stream` carries one version, and one ACTIVATE_VERSION of it comes after
    the last; the records hold `ids`. Return the version."""
    seen = versioned(messages, stream)
    assert seen[-1][0] == "ACTIVATE_VERSION", seen[-3:]
    version = seen[-1][1]
    assert [kind for kind, _, _ in seen].count("ACTIVATE_VERSION") == 1
    assert {v for _, v, _ in seen} == {version}
    assert {i for kind, _, i in seen if kind == "RECORD"} == ids
    return int(version)


def aged(state: dict[str, Any], days: int) -> dict[str, Any]:
    """`state` as if every refresh in it began `days` ago (a user's clock, not the test's)."""
    then = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
    bookmarks = {
        name: {**entry, REFRESH_STATE_KEY: {**entry[REFRESH_STATE_KEY], "started_at": then}}
        if REFRESH_STATE_KEY in entry else entry
        for name, entry in state["bookmarks"].items()
    }  # fmt: skip
    return {**state, "bookmarks": bookmarks}


def ids(emu: Emulator, exported_object: str) -> set[str]:
    return {row["id"] for row in emu.ground_truth(exported_object)}


def test_a_due_refresh_sends_a_new_version_after_all_rows_and_runs_between_carry_the_current(
    tmp_path: Path,
) -> None:
    with Emulator(seed=9, rows=ROWS, job_latency_seconds=0.02) as emu:
        config = emu.tap_config(full_refresh_days=7)
        first = TapRun(tmp_path, "first", config, set(STREAMS))
        assert first.finish() == 0, first.stderr()[-3000:]
        # The first sync is the first refresh.
        before = {s: assert_refreshed(first.messages(), s, ids(emu, o)) for s, o in STREAMS.items()}

        emu.update_rows("customer", 3)
        emu.add_rows("order", 2)
        between = TapRun(tmp_path, "between", config, set(STREAMS), state=first.states()[-1])
        assert between.finish() == 0, between.stderr()[-3000:]
        carried = {s: versioned(between.messages(), s) for s in STREAMS}

        emu.remove_rows("voucher", 3, to_bin=True)
        emu.remove_rows("voucher", 2)
        emu.remove_rows("customer", 2)
        emu.remove_rows("order", 2)
        due = aged(between.states()[-1], days=7)
        creates = export_creates(emu)
        third = TapRun(tmp_path, "third", config, set(STREAMS), state=due)
        assert third.finish() == 0, third.stderr()[-3000:]
        after = {s: assert_refreshed(third.messages(), s, ids(emu, o)) for s, o in STREAMS.items()}
        third_creates = export_creates(emu) - creates

    assert len(carried["customers"]) >= 3
    assert len(carried["orders"]) >= 2
    for stream, seen in carried.items():
        assert {(kind, version) for kind, version, _ in seen} <= {("RECORD", before[stream])}
    assert all(after[s] > before[s] for s in STREAMS)
    # Per stream, the refresh's yearly windows (2021 to now: 6) and one change window.
    assert third_creates == 3 * 7, third_creates


def test_a_killed_refresh_resumes_without_a_second_full_export_and_activates_only_at_its_end(
    tmp_path: Path,
) -> None:
    with Emulator(seed=9, rows={"customer": 60}, job_latency_seconds=0.02) as emu:
        config = emu.tap_config(full_refresh_days=7, max_concurrent_exports=1)
        first = TapRun(tmp_path, "first", config, {"customers"})
        assert first.finish() == 0, first.stderr()[-3000:]
        old = assert_refreshed(first.messages(), "customers", ids(emu, "customer"))
        emu.remove_rows("customer", 4)

        # The refresh's third window never finishes: the run is killed waiting for it.
        creates = export_creates(emu)
        on_nth_create(
            emu, 3, lambda: emu.inject("never_finish", times=1, exported_object="customer")
        )
        due = aged(first.states()[-1], days=8)
        killed = TapRun(tmp_path, "killed", config, {"customers"}, state=due)

        def two_windows_done() -> bool:
            return export_creates(emu) >= creates + 3 and len(refresh_reached(killed)) >= 2

        killed.kill_when(two_windows_done)
        emu.clear_faults()
        resumed_from = killed.states()[-1]
        creates = export_creates(emu)
        resumed = TapRun(tmp_path, "resumed", config, {"customers"}, state=resumed_from)
        assert resumed.finish() == 0, resumed.stderr()[-3000:]
        resumed_windows = [
            job.parameters["filters"] for job in emu.exports[creates:] if job.parameters
        ]
        live = ids(emu, "customer")

    refresh = resumed_from["bookmarks"]["customers"][REFRESH_STATE_KEY]
    assert refresh["complete"] is False
    new = refresh["version"]
    assert new > old
    before_kill = versioned(killed.messages(), "customers")
    assert before_kill, "the killed run wrote the refresh's first windows"
    assert {(kind, version) for kind, version, _ in before_kill} == {("RECORD", new)}
    after_resume = versioned(resumed.messages(), "customers")
    assert after_resume[-1] == ("ACTIVATE_VERSION", new, None)
    assert {version for _, version, _ in after_resume} == {new}
    # Both runs together wrote every live row under the new version: nothing live is older.
    written = {i for kind, _, i in before_kill + after_resume if kind == "RECORD"}
    assert written == live
    # The resumed run exported only the windows the killed one had not finished (4 of 6 yearly
    # created_at windows) and the change window: no second full export.
    created_at = [f for f in resumed_windows if "created_at" in f]
    assert len(created_at) == 4, created_at
    assert created_at[0]["created_at"]["conditions"]["$after"][0].startswith("2022-12-31")
    assert refresh_reached(killed) == ["2022-01-01T00:00:00+00:00", "2023-01-01T00:00:00+00:00"]


def refresh_reached(run: TapRun) -> list[str]:
    """How far the refresh begun in `run` reached, STATE after STATE (distinct, in order)."""
    reached: list[str] = []
    for state in run.states():
        refresh = state["bookmarks"].get("customers", {}).get(REFRESH_STATE_KEY, {})
        value = refresh.get("replication_key_value")
        if refresh.get("complete") is False and value and value not in reached:
            reached.append(value)
    return reached


def test_a_refresh_under_an_ignored_filter_costs_two_exports_and_activates_every_live_row(
    tmp_path: Path,
) -> None:
    with Emulator(seed=9, rows={"voucher": 60}, job_latency_seconds=0.02) as emu:
        emu.set_shape(ignore_filters=["voucher"])
        config = emu.tap_config(full_refresh_days=7, max_concurrent_exports=1)
        run = TapRun(tmp_path, "run", config, {"vouchers"})
        assert run.finish() == 0, run.stderr()[-3000:]
        assert_refreshed(run.messages(), "vouchers", ids(emu, "voucher"))
        created_at = [job for job in emu.exports if "created_at" in job.parameters["filters"]]

    # The first yearly window's export held every row: the rest of the refresh is one export.
    assert len(created_at) == 2
    records = [i for kind, _, i in versioned(run.messages(), "vouchers") if kind == "RECORD"]
    assert len(records) == len(set(records))
