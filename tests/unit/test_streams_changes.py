"""Changed rows: vouchers, customers and orders export rows created or updated since the last
sync, each cursor with its own bookmark; points_expirations wraps its full export in
ACTIVATE_VERSION."""

import json
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_voucherify_exports.config.values import CHANGE_STREAMS
from tap_voucherify_exports.export_stream import CHANGES_STATE_KEY
from tap_voucherify_exports.streams import STREAM_TYPES
from tests.support.fake_api import voucher
from tests.support.sync import declared, records, run_sync, states, sync, without_ledger

SAVED_STATES = json.loads(
    (Path(__file__).parents[1] / "data" / "states_before_change_replication.json").read_text()
)
END = "2024-03-01T00:00:00+00:00"


def filter_keys(fake) -> list[str]:
    return [
        next(k for k in body["parameters"]["filters"] if k != "junction") for body in fake.created
    ]


def window_of(body) -> tuple[str, str, str]:
    filters = body["parameters"]["filters"]
    key = next(k for k in filters if k != "junction")
    conditions = filters[key]["conditions"]
    return key, conditions["$after"][0], conditions["$before"][0]


def vouchers_state(created: str, changes: str | None = None) -> dict:
    state: dict[str, Any] = {"replication_key": "created_at", "replication_key_value": created}
    if changes is not None:
        state[CHANGES_STATE_KEY] = {
            "replication_key": "updated_at",
            "replication_key_value": changes,
        }
    return {"bookmarks": {"vouchers": state}}


def test_the_first_sync_exports_created_windows_and_starts_the_change_cursor_where_it_started(
    config, fake
):
    fake.rows["voucher"] = [voucher(1, "2024-01-02T00:00:00.000Z", "2024-01-03T00:00:00.000Z")]
    messages = without_ledger(run_sync(config))
    assert filter_keys(fake) == ["created_at", "created_at"]
    # Every STATE with a bookmark, from the first window's on, carries the change cursor at the
    # sync's end.
    marked = [s for s in states(messages) if s["bookmarks"].get("vouchers")]
    assert len(marked) == 3
    for state in marked:
        assert state["bookmarks"]["vouchers"][CHANGES_STATE_KEY] == {
            "replication_key": "updated_at",
            "replication_key_value": END,
        }


def test_the_next_sync_exports_rows_created_or_updated_since_and_each_cursor_advances(config, fake):
    config["end_date"] = "2024-03-20T00:00:00Z"
    fake.rows["voucher"] = [
        voucher(1, "2024-01-02T00:00:00.000Z"),  # old, never updated: not again
        voucher(2, "2024-01-05T00:00:00.000Z", "2024-02-10T00:00:00.000Z"),  # updated before
        voucher(3, "2024-01-07T00:00:00.000Z", "2024-03-05T00:00:00.000Z"),  # updated since
        voucher(4, "2024-03-02T00:00:00.000Z"),  # new, updated_at empty
        voucher(5, "2024-03-03T00:00:00.000Z", "2024-03-04T00:00:00.000Z"),  # new and updated
    ]
    messages = run_sync(config, state=vouchers_state(END, END))
    emitted = [r["id"] for r in records(messages)]
    assert sorted(set(emitted)) == ["v_3", "v_4", "v_5"]
    assert [window_of(body) for body in fake.created] == [
        ("created_at", "2024-02-29T23:59:59.999Z", "2024-03-20T00:00:00.000Z"),
        ("updated_at", "2024-02-29T23:59:59.999Z", "2024-03-20T00:00:00.000Z"),
    ]
    final = states(messages)[-1]["bookmarks"]["vouchers"]
    assert final["replication_key_value"] == "2024-03-20T00:00:00+00:00"
    assert final[CHANGES_STATE_KEY]["replication_key_value"] == "2024-03-20T00:00:00+00:00"


@pytest.mark.parametrize("inclusive", [False, True], ids=["exclusive", "inclusive"])
def test_a_change_exactly_on_the_change_bookmark_is_not_lost(config, fake, inclusive):
    fake.inclusive = inclusive
    config["end_date"] = "2024-03-20T00:00:00Z"
    fake.rows["voucher"] = [voucher(1, "2024-01-02T00:00:00.000Z", "2024-03-01T00:00:00.000Z")]
    ids = {r["id"] for r in records(run_sync(config, state=vouchers_state(END, END)))}
    assert ids == {"v_1"}


def test_a_state_from_the_release_before_resumes_without_backfill_and_catches_changes(config, fake):
    """The last STATE of a completed sync by the previous release (tests/data)."""
    config["start_date"] = "2021-01-01T00:00:00Z"
    config["end_date"] = "2024-07-01T00:00:00Z"
    fake.rows["voucher"] = [
        voucher(1, "2022-03-01T00:00:00.000Z"),
        voucher(2, "2023-01-01T00:00:00.000Z", "2024-06-15T00:00:00.000Z"),  # changed since
        voucher(3, "2024-06-10T00:00:00.000Z"),  # created since
    ]
    messages = run_sync(
        config, streams={"vouchers", "customers", "orders"}, state=SAVED_STATES["completed"]
    )
    assert sorted({r["id"] for r in records(messages, "vouchers")}) == ["v_2", "v_3"]
    # Nothing before the saved bookmark is exported again by creation date; changes are
    # looked for from the saved bookmark on, for each of the three streams.
    windows = [window_of(body) for body in fake.created]
    assert windows == [
        (key, "2024-05-31T23:59:59.999Z", "2024-07-01T00:00:00.000Z")
        for _ in range(3)
        for key in ("created_at", "updated_at")
    ]
    final = states(messages)[-1]["bookmarks"]
    for stream in ("vouchers", "customers", "orders"):
        assert final[stream]["replication_key_value"] == "2024-07-01T00:00:00+00:00"
        assert final[stream][CHANGES_STATE_KEY]["replication_key_value"] == (
            "2024-07-01T00:00:00+00:00"
        )


def test_a_mid_sync_state_from_the_release_before_resumes_each_stream_where_it_was(config, fake):
    config["start_date"] = "2021-01-01T00:00:00Z"
    config["end_date"] = "2024-07-01T00:00:00Z"
    config["window_days"] = 365
    run_sync(config, streams={"vouchers", "customers", "orders"}, state=SAVED_STATES["mid_sync"])
    by_object: dict[str, list[tuple[str, str, str]]] = {}
    for body in fake.created:
        by_object.setdefault(body["exported_object"], []).append(window_of(body))
    # vouchers had no bookmark yet: a backfill from start_date, change cursor at the sync's end.
    assert by_object["voucher"][0] == (
        "created_at",
        "2020-12-31T23:59:59.999Z",
        "2022-01-01T00:00:00.000Z",
    )
    assert {key for key, _, _ in by_object["voucher"]} == {"created_at"}
    # orders stopped at 2024-01-01: both cursors resume there.
    assert by_object["order"][0] == (
        "created_at",
        "2023-12-31T23:59:59.999Z",
        "2024-07-01T00:00:00.000Z",
    )
    assert by_object["order"][1] == (
        "updated_at",
        "2023-12-31T23:59:59.999Z",
        "2024-07-01T00:00:00.000Z",
    )


def test_a_failed_backfill_resumes_its_change_cursor_where_the_first_run_started(config, fake):
    config["min_window_seconds"] = 86400 * 30  # no split: the second export's ERROR ends the run
    fake.rows["voucher"] = [voucher(1, "2024-01-02T00:00:00.000Z")]
    original = fake._get

    def second_export_fails(request, context):
        body = original(request, context)
        if body["status"] == "DONE" and body["id"].endswith("1"):
            return {"id": body["id"], "status": "ERROR", "result": None}
        return body

    fake.answer_status_with(second_export_fails)
    messages, error = sync(config)
    assert error is not None
    kept = states(messages)[-1]
    assert kept["bookmarks"]["vouchers"]["replication_key_value"] == "2024-01-31T00:00:00+00:00"
    assert kept["bookmarks"]["vouchers"][CHANGES_STATE_KEY]["replication_key_value"] == END

    fake.exports.clear()
    fake.answer_status_with(original)
    config["end_date"] = "2024-04-01T00:00:00Z"
    run_sync(config, state=kept)
    windows = [window_of(body) for body in fake.created]
    assert windows[0] == ("created_at", "2024-01-30T23:59:59.999Z", "2024-03-01T00:00:00.000Z")
    changes = [window for window in windows if window[0] == "updated_at"]
    assert changes[0] == ("updated_at", "2024-02-29T23:59:59.999Z", "2024-03-31T00:00:00.000Z")
    assert changes[-1][2] == "2024-04-01T00:00:00.000Z"


def test_creation_only_streams_export_no_changes_and_keep_no_change_cursor(config, fake):
    config["creation_only_streams"] = ["vouchers"]
    fake.rows["voucher"] = [voucher(1, "2024-01-02T00:00:00.000Z", "2024-02-03T00:00:00.000Z")]
    messages = run_sync(config, state=vouchers_state("2024-02-01T00:00:00+00:00"))
    assert filter_keys(fake) == ["created_at"]
    assert CHANGES_STATE_KEY not in states(messages)[-1]["bookmarks"]["vouchers"]
    assert records(messages) == []


@pytest.mark.parametrize(
    "value", [["redemptions"], ["vouchers", "voucher"]], ids=["append-only", "unknown"]
)
def test_creation_only_streams_must_name_streams_that_export_changes(config, fake, value):
    config["creation_only_streams"] = value
    with pytest.raises(ConfigValidationError, match="creation_only_streams"):
        run_sync(config)
    assert fake.mocker.call_count == 0


def test_the_streams_that_export_changes_are_the_settings_change_streams():
    assert {declared(s, "name") for s in STREAM_TYPES if s.change_key} == set(CHANGE_STREAMS)


def test_points_expirations_full_export_is_wrapped_in_activate_version(config, fake):
    fake.rows["points_expiration"] = [
        {"id": f"pe{n}", "points": "10", "expires_at": "2022-06-30"} for n in range(3)
    ]
    messages = run_sync(config, streams={"points_expirations"})
    kinds = [m["type"] for m in messages if m["type"] in {"ACTIVATE_VERSION", "RECORD"}]
    assert kinds == ["ACTIVATE_VERSION", "RECORD", "RECORD", "RECORD", "ACTIVATE_VERSION"]
    versions = {m["version"] for m in messages if m["type"] in {"ACTIVATE_VERSION", "RECORD"}}
    assert len(versions) == 1
    assert versions.pop() > 0


def test_incremental_streams_send_no_activate_version(config, fake):
    fake.rows["voucher"] = [voucher(1, "2024-01-02T00:00:00.000Z")]
    messages = run_sync(config)
    assert not [m for m in messages if m["type"] == "ACTIVATE_VERSION"]


def test_voucher_transactions_are_windowed_on_created_at_and_never_on_updated_at(config, fake):
    fake.rows["voucher_transactions"] = [
        {
            "id": "vtx_1",
            "created_at": "2024-02-01T00:00:00.000Z",
            "amount": "-100",
            "balance": "900",
        }
    ]
    messages = run_sync(config, streams={"voucher_transactions"})
    assert filter_keys(fake) == ["created_at", "created_at"]
    assert fake.created[0]["exported_object"] == "voucher_transactions"
    assert fake.created[0]["parameters"]["order"] == "created_at"
    (record,) = records(messages, "voucher_transactions")
    assert record["amount"] == -100
    assert record["balance"] == 900
    assert CHANGES_STATE_KEY not in states(messages)[-1]["bookmarks"]["voucher_transactions"]
