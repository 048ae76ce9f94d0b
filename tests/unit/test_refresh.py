"""Full refreshes (`full_refresh_days`): vouchers, customers and orders export every row again
under a new table version, ACTIVATE_VERSION only after the refresh's last window, across runs;
records between refreshes carry the current version."""

from typing import Any

import pytest

from tap_voucherify_exports.export_stream import REFRESH_STATE_KEY
from tests.support.fake_api import FakeVoucherify, voucher
from tests.support.sync import records, run_sync, states, sync

END = "2024-03-01T00:00:00+00:00"
ROWS = [voucher(1, "2024-01-02T00:00:00.000Z"), voucher(2, "2024-02-10T00:00:00.000Z")]


@pytest.fixture
def refreshing(config: dict[str, Any], fake: FakeVoucherify) -> dict[str, Any]:
    fake.rows["voucher"] = list(ROWS)
    return {**config, "full_refresh_days": 7}


def versioned(messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(type, version) of every RECORD and ACTIVATE_VERSION of vouchers, in order."""
    return [
        (m["type"], m.get("version"))
        for m in messages
        if m["type"] in {"RECORD", "ACTIVATE_VERSION"} and m["stream"] == "vouchers"
    ]


def created_windows(fake: FakeVoucherify) -> list[tuple[str, str]]:
    windows = []
    for body in fake.created:
        conditions = body["parameters"]["filters"].get("created_at", {}).get("conditions")
        if conditions:
            windows.append((conditions["$after"][0], conditions["$before"][0]))
    return windows


def refresh_state(version: int, started_at: str, **more: Any) -> dict[str, Any]:
    return {
        "bookmarks": {
            "vouchers": {
                "replication_key": "created_at",
                "replication_key_value": END,
                "changes": {"replication_key": "updated_at", "replication_key_value": END},
                REFRESH_STATE_KEY: {
                    "version": version,
                    "started_at": started_at,
                    "replication_key": "created_at",
                    "replication_key_value": more.pop("reached", None),
                    "complete": more.pop("complete", True),
                },
            }
        }
    }


def test_the_first_sync_is_a_refresh_whose_activate_version_follows_its_last_record(refreshing):
    messages = run_sync(refreshing, streams={"vouchers"})
    kinds = versioned(messages)
    version = kinds[0][1]
    assert kinds == [("RECORD", version), ("RECORD", version), ("ACTIVATE_VERSION", version)]
    refresh = states(messages)[-1]["bookmarks"]["vouchers"][REFRESH_STATE_KEY]
    assert refresh["version"] == version
    assert refresh["complete"] is True
    assert refresh["started_at"] == END


def test_records_between_refreshes_carry_the_current_version_and_no_activate_version(
    refreshing, fake
):
    refreshing["end_date"] = "2024-03-05T00:00:00Z"  # 4 days after the last refresh began
    fake.rows["voucher"].append(voucher(3, "2024-03-02T00:00:00.000Z"))
    messages = run_sync(refreshing, state=refresh_state(1234, END), streams={"vouchers"})
    assert versioned(messages) == [("RECORD", 1234)]
    assert created_windows(fake) == [("2024-02-29T23:59:59.999Z", "2024-03-05T00:00:00.000Z")]


def test_a_due_refresh_exports_every_row_under_a_greater_version_then_activates_it(
    refreshing, fake
):
    refreshing["end_date"] = "2024-03-08T00:00:00Z"  # 7 days after the last refresh began
    messages = run_sync(refreshing, state=refresh_state(10**12, END), streams={"vouchers"})
    new = 10**12 + 1  # greater than the last even when the clock says less
    assert versioned(messages) == [("RECORD", new), ("RECORD", new), ("ACTIVATE_VERSION", new)]
    # From start_date in backfill windows, not from the creation bookmark; and nothing else
    # created: the refresh covers the creation cursor's window.
    assert created_windows(fake) == [
        ("2023-12-31T23:59:59.999Z", "2024-01-31T00:00:00.000Z"),
        ("2024-01-30T23:59:59.999Z", "2024-03-01T00:00:00.000Z"),
        ("2024-02-29T23:59:59.999Z", "2024-03-08T00:00:00.000Z"),
    ]
    final = states(messages)[-1]["bookmarks"]["vouchers"]
    assert final["replication_key_value"] == "2024-03-08T00:00:00+00:00"
    assert final[REFRESH_STATE_KEY]["started_at"] == "2024-03-08T00:00:00+00:00"


def test_a_state_from_before_refreshes_refreshes_at_once(refreshing):
    state = refresh_state(1, END)
    del state["bookmarks"]["vouchers"][REFRESH_STATE_KEY]
    messages = run_sync(refreshing, state=state, streams={"vouchers"})
    assert [kind for kind, _ in versioned(messages)] == ["RECORD", "RECORD", "ACTIVATE_VERSION"]


def test_a_refresh_stopped_halfway_resumes_under_its_version_and_activates_only_at_its_end(
    refreshing, fake
):
    def fail_second(request: Any, context: Any) -> dict[str, Any]:
        export_id = request.path.rsplit("/", 1)[-1]
        if export_id.endswith("1"):  # the second window's job: ERROR, too small to split
            return {"id": export_id, "status": "ERROR", "result": None}
        return fake._status(export_id)

    fake.answer_status_with(fail_second)
    first, error = sync({**refreshing, "min_window_seconds": 30 * 86400}, streams={"vouchers"})
    assert error is not None
    version = versioned(first)[0][1]
    assert versioned(first) == [("RECORD", version)]  # v_1, and no ACTIVATE_VERSION
    stopped = states(first)[-1]
    assert stopped["bookmarks"]["vouchers"][REFRESH_STATE_KEY]["complete"] is False

    fake.install()
    fake.exports.clear()
    second = run_sync(refreshing, state=stopped, streams={"vouchers"})
    assert versioned(second) == [("RECORD", version), ("ACTIVATE_VERSION", version)]
    assert created_windows(fake) == [("2024-01-30T23:59:59.999Z", "2024-03-01T00:00:00.000Z")]
    assert states(second)[-1]["bookmarks"]["vouchers"][REFRESH_STATE_KEY]["complete"] is True


def test_a_refresh_stopped_after_its_last_window_activates_on_the_next_run(refreshing, fake):
    messages = run_sync(
        refreshing, state=refresh_state(77, END, reached=END, complete=False), streams={"vouchers"}
    )
    assert versioned(messages) == [("ACTIVATE_VERSION", 77)]
    assert created_windows(fake) == []


def test_full_refresh_days_0_sends_no_version(config, fake):
    fake.rows["voucher"] = list(ROWS)
    messages = run_sync(config, streams={"vouchers"})  # the unit config: full_refresh_days 0
    assert {version for _, version in versioned(messages)} == {None}
    assert REFRESH_STATE_KEY not in states(messages)[-1]["bookmarks"]["vouchers"]


def test_batch_files_carry_no_version_so_no_refresh_is_begun(refreshing, tmp_path):
    refreshing["batch_config"] = {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": f"file://{tmp_path}", "prefix": "b-"},
    }
    messages = run_sync(refreshing, streams={"vouchers"})
    assert not [m for m in messages if m["type"] == "ACTIVATE_VERSION"]
    assert REFRESH_STATE_KEY not in states(messages)[-1]["bookmarks"]["vouchers"]


def test_only_vouchers_customers_and_orders_refresh(refreshing, fake):
    fake.rows["redemption"] = []
    messages = run_sync(refreshing, streams={"redemptions"})
    assert not [m for m in messages if m["type"] == "ACTIVATE_VERSION"]
    assert not records(messages, "redemptions")
