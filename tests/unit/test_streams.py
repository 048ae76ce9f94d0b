import logging

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_voucherify_exports.export_stream import BACKFILL_STATE_KEY
from tests.support.fake_api import SECRET, voucher
from tests.support.sync import declared, records, run_sync, states, without_ledger

# Rows on both window edges (2024-01-31T00:00:00.000Z is where window 1 ends and 2 begins) and
# one on start_date itself.
EDGE_ROWS = [
    voucher(1, "2024-01-01T00:00:00.000Z"),
    voucher(2, "2024-01-15T10:00:00.000Z"),
    voucher(3, "2024-01-30T23:59:59.999Z"),
    voucher(4, "2024-01-31T00:00:00.000Z"),
    voucher(5, "2024-01-31T00:00:00.000Z"),
    voucher(6, "2024-02-29T23:59:59.999Z"),
]


def test_each_window_is_one_export_followed_by_a_state_message(config, fake):
    fake.rows["voucher"] = EDGE_ROWS
    messages = without_ledger(run_sync(config))
    assert len(fake.created) == 2
    kinds = [m["type"] for m in messages if m["type"] in {"RECORD", "STATE"}]
    window_one_records = kinds.index("STATE", 1)
    assert kinds[window_one_records - 1] == "RECORD"
    bookmarks = [s["bookmarks"]["vouchers"].get("replication_key_value") for s in states(messages)]
    assert "2024-01-31T00:00:00+00:00" in bookmarks
    assert bookmarks[-1] == "2024-03-01T00:00:00+00:00"


@pytest.mark.parametrize("inclusive", [False, True], ids=["exclusive", "inclusive"])
def test_no_row_is_lost_at_window_edges_whatever_the_edge_semantics(config, fake, inclusive):
    fake.inclusive = inclusive
    fake.rows["voucher"] = EDGE_ROWS
    ids = {r["id"] for r in records(run_sync(config))}
    assert ids == {f"v_{n}" for n in range(1, 7)}


@pytest.mark.parametrize("inclusive", [False, True], ids=["exclusive", "inclusive"])
def test_resume_from_state_starts_at_the_bookmark_and_loses_nothing(config, fake, inclusive):
    fake.inclusive = inclusive
    fake.rows["voucher"] = EDGE_ROWS
    state = {
        "bookmarks": {
            "vouchers": {
                "replication_key": "created_at",
                "replication_key_value": "2024-01-31T00:00:00+00:00",
            }
        }
    }
    ids = {r["id"] for r in records(run_sync(config, state=state))}
    assert {"v_4", "v_5", "v_6"} <= ids
    assert not {"v_1", "v_2"} & ids
    first_filter = fake.created[0]["parameters"]["filters"]["created_at"]["conditions"]
    assert first_filter["$after"] == ["2024-01-30T23:59:59.999Z"]


def test_records_are_typed(config, fake):
    fake.rows["voucher"] = EDGE_ROWS[:1]
    record = records(run_sync(config))[0]
    assert record["value"] == 2000.0
    assert record["active"] is True
    assert record["metadata"] == {"n": 1}
    assert record["created_at"] == "2024-01-01T00:00:00.000Z"


def test_deselected_columns_are_not_requested_but_keys_always_are(config, fake):
    fake.rows["voucher"] = EDGE_ROWS[:1]
    messages = run_sync(config, deselected={"code", "metadata", "id", "created_at"})
    fields = fake.created[0]["parameters"]["fields"]
    assert "code" not in fields
    assert "metadata" not in fields
    assert {"id", "created_at"} <= set(fields)
    assert "code" not in records(messages)[0]


def test_export_request_orders_ascending_by_the_filter_key(config, fake):
    run_sync(config)
    parameters = fake.created[0]["parameters"]
    assert parameters["order"] == "created_at"
    assert parameters["filters"]["junction"] == "and"


def test_redemptions_filter_on_created_at_and_bookmark_on_date(config, fake):
    fake.rows["redemption"] = [
        {"id": "r1", "date": "2024-02-01T00:00:00.000Z", "result": "SUCCESS"}
    ]
    messages = run_sync(config, streams={"redemptions"})
    assert records(messages, "redemptions")[0]["id"] == "r1"
    assert "created_at" in fake.created[0]["parameters"]["filters"]
    assert states(messages)[-1]["bookmarks"]["redemptions"]["replication_key"] == "date"


def test_points_expirations_are_one_full_export_without_filters(config, fake):
    fake.rows["points_expiration"] = [{"id": "pe1", "points": "10", "expires_at": "2022-06-30"}]
    messages = run_sync(config, streams={"points_expirations"})
    assert len(fake.created) == 1
    assert "filters" not in fake.created[0]["parameters"]
    assert records(messages, "points_expirations") == [
        {
            "id": "pe1",
            "campaign_id": None,
            "voucher_id": None,
            "points": 10,
            "status": None,
            "expires_at": "2022-06-30",
        }
    ]


def test_an_export_ending_in_error_is_split_and_retried(config, fake):
    config["min_window_seconds"] = 86400 * 10
    config["window_days"] = 60
    config["end_date"] = "2024-03-01T00:00:00Z"
    fake.rows["voucher"] = EDGE_ROWS
    statuses = iter(["ERROR"] + ["DONE"] * 10)
    original = fake._get

    def flaky(request, context):
        body = original(request, context)
        if body["status"] == "DONE" and next(statuses) == "ERROR":
            return {"id": body["id"], "status": "ERROR", "result": None}
        return body

    fake.answer_status_with(flaky)
    ids = {r["id"] for r in records(run_sync(config))}
    assert ids == {f"v_{n}" for n in range(1, 7)}
    assert len(fake.created) == 3


def test_error_below_the_minimum_window_fails_clearly(config, fake):
    fake.final_status = "ERROR"
    with pytest.raises(Exception, match=r"ended in ERROR"):
        run_sync(config)


def test_bad_config_fails_before_any_request(config, fake):
    config["window_days"] = 0
    with pytest.raises(ConfigValidationError, match="window_days"):
        run_sync(config)
    assert fake.mocker.call_count == 0


def test_secrets_never_appear_in_logs_even_at_debug(config, fake, caplog):
    fake.rows["voucher"] = EDGE_ROWS
    caplog.set_level(logging.DEBUG)
    run_sync(config)
    assert caplog.records
    assert SECRET not in caplog.text
    assert "token=tok" not in caplog.text


def test_every_stream_is_planned_from_its_own_bookmark_before_any_sync_begins(config, fake):
    config["max_concurrent_exports"] = 3
    fake.rows["voucher"] = EDGE_ROWS
    bookmark = {
        "replication_key": "created_at",
        "replication_key_value": "2024-02-20T00:00:00+00:00",
    }
    state = {"bookmarks": {"customers": bookmark, "vouchers": bookmark}}
    run_sync(config, streams={"customers", "vouchers"}, state=state)
    afters = [
        body["parameters"]["filters"]["created_at"]["conditions"]["$after"][0]
        for body in fake.created
        if "created_at" in body["parameters"]["filters"]
    ]
    assert afters == ["2024-02-19T23:59:59.999Z", "2024-02-19T23:59:59.999Z"]


def test_metadata_keys_become_typed_selectable_properties_requested_as_metadata_fields(
    config, fake
):
    from tap_voucherify_exports.tap import TapVoucherifyExports

    config["metadata_keys"] = {"vouchers": {"region": "string", "tier": "integer"}}
    catalog = TapVoucherifyExports(config=config).catalog_dict
    (vouchers,) = [s for s in catalog["streams"] if s["tap_stream_id"] == "vouchers"]
    assert vouchers["schema"]["properties"]["metadata__tier"]["type"] == ["integer", "null"]
    assert vouchers["schema"]["properties"]["metadata__region"]["type"] == ["string", "null"]
    breadcrumbs = {tuple(entry["breadcrumb"]) for entry in vouchers["metadata"]}
    assert ("properties", "metadata__region") in breadcrumbs
    run_sync(config, deselected={"metadata__tier"})
    fields = fake.created[0]["parameters"]["fields"]
    assert "metadata.region" in fields
    assert "metadata.tier" not in fields


def test_the_streams_metadata_keys_may_name_are_those_with_metadata():
    from tap_voucherify_exports.config.values import METADATA_STREAMS
    from tap_voucherify_exports.fields import TABLES
    from tap_voucherify_exports.streams import STREAM_TYPES

    with_metadata = [
        declared(s, "name") for s in STREAM_TYPES if TABLES[s.exported_object].has_metadata
    ]
    assert with_metadata == list(METADATA_STREAMS)


@pytest.mark.parametrize("stream", ["points_expirations", "coupons"])
def test_metadata_keys_for_a_stream_without_metadata_fail_naming_the_setting(config, stream):
    from tap_voucherify_exports.tap import TapVoucherifyExports

    config["metadata_keys"] = {stream: ["region"]}
    match = rf"`metadata_keys` names the stream `{stream}`"
    with pytest.raises(ConfigValidationError, match=match):
        TapVoucherifyExports(config=config)


def created_windows(fake) -> list[tuple[str, str]]:
    windows = []
    for body in fake.created:
        conditions = body["parameters"]["filters"]["created_at"]["conditions"]
        windows.append((conditions["$after"][0], conditions["$before"][0]))
    return windows


def test_a_first_sync_marks_its_backfill_unfinished_until_its_last_window_is_done(config, fake):
    config["creation_only_streams"] = ["vouchers"]
    fake.rows["voucher"] = EDGE_ROWS
    marks = [
        s["bookmarks"]["vouchers"].get(BACKFILL_STATE_KEY)
        for s in states(without_ledger(run_sync(config)))
        if s["bookmarks"].get("vouchers", {}).get("replication_key_value")
    ]
    assert marks == [False, True, True]  # window 1, window 2 (the last), the stream's end


@pytest.mark.parametrize(
    ("mark", "windows", "after"),
    [
        # A state written before the mark existed: a bookmark means the backfill was done.
        (None, [("2023-12-31T23:59:59.999Z", "2024-01-31T00:00:00.000Z"),
                ("2024-01-30T23:59:59.999Z", "2024-03-01T00:00:00.000Z")], None),
        # A backfill stopped midway resumes in backfill-sized windows, and is then done.
        (False, [("2023-12-31T23:59:59.999Z", "2024-03-01T00:00:00.000Z")], True),
        (True, [("2023-12-31T23:59:59.999Z", "2024-01-31T00:00:00.000Z"),
                ("2024-01-30T23:59:59.999Z", "2024-03-01T00:00:00.000Z")], True),
    ],
    ids=["state-before-the-mark", "backfill-unfinished", "backfill-done"],
)  # fmt: skip
def test_a_bookmark_resumes_in_backfill_windows_only_while_the_backfill_is_unfinished(
    config, fake, mark, windows, after
):
    config.update(window_days=30, backfill_window_days=365, creation_only_streams=["vouchers"])
    stream_state = {
        "replication_key": "created_at",
        "replication_key_value": "2024-01-01T00:00:00Z",
    }
    if mark is not None:
        stream_state[BACKFILL_STATE_KEY] = mark
    messages = run_sync(config, state={"bookmarks": {"vouchers": stream_state}})
    assert created_windows(fake) == windows
    assert states(messages)[-1]["bookmarks"]["vouchers"].get(BACKFILL_STATE_KEY) is after
