"""jobs/counts.py and api/lists.py: which windows are counted, how a difference is reported, what
`verify_counts` does with it; the bin's pages followed by `starting_after_id`."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.api.lists import ListsAPI
from tap_voucherify_exports.config.settings import parse_settings
from tap_voucherify_exports.errors import CountMismatchError, SettingsError, VoucherifyAPIError
from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.jobs.counts import (
    COUNT_SETTLE_SECONDS,
    KEYS_COMPARED_MAX,
    CountVerifier,
    OpenCount,
)
from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.jobs.windows import Window
from tests.support.fake_api import API, FakeVoucherify, voucher

NOW = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
JANUARY = Window(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
                 dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc))  # fmt: skip


@pytest.fixture
def lists(config: dict[str, Any], fake: FakeVoucherify) -> Iterator[ListsAPI]:
    fake.rows["voucher"] = [voucher(n, f"2024-01-{n + 1:02d}T00:00:00.000Z") for n in range(5)]
    with VoucherifyClient(parse_settings(config)) as client:
        yield ListsAPI(client)


def request(exported_object: str = "voucher", window: Window = JANUARY,
            key: str = "created_at") -> ExportRequest:  # fmt: skip
    table = TABLES[exported_object]
    return ExportRequest(f"{exported_object}s", table, table.keys, window, key)


def verifier(lists: ListsAPI, mode: str = "warn") -> CountVerifier:
    return CountVerifier(lists, mode, now=lambda: NOW)


def count_calls(fake: FakeVoucherify) -> list[str]:
    return [r.url for r in fake.mocker.request_history if r.path == "/v1/vouchers"]


def test_a_matching_window_costs_one_call_with_limit_1_and_the_exports_bounds(lists, fake):
    counts = verifier(lists)
    counts.check(request(), 5)
    (url,) = count_calls(fake)
    assert url == (
        f"{API}/v1/vouchers?limit=1&created_at%5Bafter%5D=2023-12-31T23%3A59%3A59.999Z"
        "&created_at%5Bbefore%5D=2024-02-01T00%3A00%3A00.000Z"
    )
    assert counts.lines() == [
        "vouchers: row counts of 1 window verified against GET /v1/vouchers: 1 matched, 0 differed"
    ]


def test_fewer_rows_than_the_total_warn_once_naming_window_and_counts(lists, caplog):
    counts = verifier(lists)
    with caplog.at_level(logging.WARNING):
        counts.check(request(), 3)
    assert [r.getMessage() for r in caplog.records] == [
        f"vouchers: created_at window {JANUARY}: the export delivered 3 rows, GET /v1/vouchers "
        "counts 5 for the same bounds (2 missing from the export); keys not compared (more "
        "than 1000 rows); the next run compares it again, and exports it again if still short"
    ]
    assert counts.tallies["vouchers"].differed == 1


def test_fail_mode_raises_on_missing_rows_but_only_warns_on_extra_ones(lists, caplog):
    counts = verifier(lists, "fail")
    with pytest.raises(
        CountMismatchError,
        match=r"2 missing from the export\); keys not compared \(more than 1000 rows\); "
        "verify_counts is fail",
    ):
        counts.check(request(), 3)
    with caplog.at_level(logging.WARNING):
        counts.check(request(), 6)  # a row deleted since the export leaves the count
    assert "rows deleted or changed since the export leave the count" in caplog.text


def test_open_windows_and_off_mode_make_no_call(lists, fake):
    recent = Window(
        NOW - dt.timedelta(days=1), NOW - dt.timedelta(seconds=COUNT_SETTLE_SECONDS - 1)
    )
    counts = verifier(lists)
    counts.check(request(window=recent), 0)
    verifier(lists, "off").check(request(), 0)
    assert count_calls(fake) == []
    assert counts.tallies["vouchers"].still_open == 1
    assert (
        "1 compared by the next run (ending less than 5 minutes before now)" in (counts.lines()[0])
    )


@pytest.mark.parametrize(
    ("exported_object", "reason"),
    [
        ("publication", "GET /v1/publications has no created_at filter (publications.json)"),
        ("order", "GET /v1/orders takes no date filter (orders.json)"),
        ("voucher_transactions", "no list endpoint spans every voucher's transactions"),
    ],
)
def test_streams_whose_list_cannot_express_the_window_say_why(lists, exported_object, reason):
    counts = verifier(lists)
    counts.check(request(exported_object), 1)
    (line,) = counts.lines()
    assert line.startswith(f"{exported_object}s: row counts not verified: {reason}")


def test_redemptions_have_no_updated_at_filter_to_count_with(lists):
    counts = verifier(lists)
    counts.check(request("redemption", key="updated_at"), 1)
    assert counts.lines() == ["redemptions: row counts not verified: GET /v1/redemptions has no "
                              "updated_at filter"]  # fmt: skip


def test_a_refused_count_call_warns_once_is_not_repeated_and_fails_in_fail_mode(lists, fake):
    fake.mocker.get(f"{API}/v1/vouchers", status_code=403, json={"code": 403, "key": "forbidden"})
    counts = verifier(lists)
    counts.check(request(), 5)
    counts.check(request(), 5)  # the next window: not asked again
    assert len(count_calls(fake)) == 1
    assert "2 not compared: the count call failed" in counts.lines()[0]
    with pytest.raises(VoucherifyAPIError) as error:
        verifier(lists, "fail").check(request(), 5)
    assert error.value.hint is not None
    assert "oauth_scope must allow /v1/vouchers (e.g. add 'vouchers'" in error.value.hint


def test_an_answer_without_total_is_not_verified(lists, fake):
    fake.mocker.get(f"{API}/v1/vouchers", json={"object": "list", "vouchers": []})
    counts = verifier(lists)
    counts.check(request(), 5)
    assert counts.tallies["vouchers"].verified == 0
    assert "1 answered without a total" in counts.lines()[0]


def test_the_bin_is_read_page_after_page_by_starting_after_id(lists, fake):
    pages = [
        {"data": [{"id": "tbe_1"}, {"id": "tbe_2"}], "has_more": True,
         "more_starting_after": "tbe_2"},
        {"data": [{"id": "tbe_3"}], "has_more": False},
    ]  # fmt: skip
    fake.mocker.get(f"{API}/v1/trash-bin", [{"json": page} for page in pages])
    assert [item["id"] for item in lists.entries("/v1/trash-bin")] == ["tbe_1", "tbe_2", "tbe_3"]
    queries = [r.qs for r in fake.mocker.request_history if r.path == "/v1/trash-bin"]
    first = {"limit": ["100"], "order": ["id"]}
    assert queries == [first, {**first, "starting_after_id": ["tbe_2"]}]


def test_verify_counts_takes_off_warn_or_fail(config):
    assert parse_settings(config).verify_counts == "warn"
    with pytest.raises(SettingsError, match="`verify_counts` must be one of off, warn, fail"):
        parse_settings({**config, "verify_counts": "strict"})


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_short_window_names_the_listed_keys_the_export_lacks(lists, fake, caplog):
    counts = verifier(lists)
    with caplog.at_level(logging.WARNING):
        counts.check(request(), 3, ["v_0", "v_2", "v_4"])
    (warning,) = warnings_of(caplog)
    assert "; first keys to check: v_1, v_3 (listed, not in the export);" in warning
    # One page of 100 sorted by created_at (which no update changes) names the 5 listed keys.
    (_, listed) = count_calls(fake)
    assert "limit=100&page=1&order=created_at&created_at%5Bafter%5D=" in listed


def test_a_window_with_more_rows_than_the_list_names_the_keys_it_does_not_list(lists, caplog):
    counts = verifier(lists)
    with caplog.at_level(logging.WARNING):
        counts.check(request(), 6, ["v_0", "v_1", "v_2", "v_3", "v_4", "v_gone"])
    (warning,) = warnings_of(caplog)
    assert warning.endswith(
        "(rows deleted or changed since the export leave the count); first keys to check: "
        "v_gone (in the export, not listed)"
    )


def test_the_first_five_keys_are_named_and_the_rest_counted(lists, fake, caplog):
    fake.rows["voucher"] = [
        voucher(n, f"2024-01-01T00:{n // 60:02d}:{n % 60:02d}.000Z") for n in range(250)
    ]
    counts = verifier(lists)
    with caplog.at_level(logging.WARNING):
        counts.check(request(), 3, ["v_0", "v_1", "v_2"])
    (warning,) = warnings_of(caplog)
    assert "first keys to check: v_3, v_4, v_5, v_6, v_7 and 242 more (listed, not in the " in (
        warning
    )
    pages = [url for url in count_calls(fake) if "page=" in url]
    assert [url.split("page=")[1].split("&")[0] for url in pages] == ["1", "2", "3"]


def test_keys_are_not_listed_for_a_window_too_large_or_when_listing_fails(lists, fake, caplog):
    fake.rows["voucher"] = [voucher(n, "2024-01-02T00:00:00.000Z") for n in range(1001)]
    counts = verifier(lists)
    with caplog.at_level(logging.WARNING):
        counts.check(request(), 1000, None)  # the reader stopped keeping keys past 1000
    assert "; keys not compared (more than 1000 rows);" in warnings_of(caplog)[-1]
    assert not [url for url in count_calls(fake) if "page=" in url]
    fake.rows["voucher"] = [voucher(n, "2024-01-02T00:00:00.000Z") for n in range(3)]
    fake.mocker.get(f"{API}/v1/vouchers", [{"json": {"total": 3}}, {"status_code": 500}] * 10)
    with caplog.at_level(logging.WARNING):
        verifier(lists).check(request(), 2, ["v_0", "v_1"])
    assert "; keys not compared: " in warnings_of(caplog)[-1]


def test_keys_to_keep_only_for_windows_whose_count_is_compared(lists):
    counts = verifier(lists)
    assert counts.keys_to_keep(request()) == KEYS_COMPARED_MAX
    assert counts.keys_to_keep(request("order")) == 0
    assert counts.keys_to_keep(request("redemption", key="updated_at")) == 0
    assert verifier(lists, "off").keys_to_keep(request()) == 0


RECENT = Window(NOW - dt.timedelta(hours=1), NOW - dt.timedelta(seconds=10))


def test_a_window_too_recent_is_left_for_the_next_run_with_its_rows(lists):
    counts = verifier(lists)
    counts.check(request(window=RECENT), 7)
    left = counts.left_open(request(window=RECENT))
    assert left == OpenCount("created_at", RECENT, 7)
    assert OpenCount.from_state(left.to_state()) == left
    assert counts.left_open(request(window=RECENT)) is None  # handed over once
    assert counts.left_open(request()) is None  # a closed window is compared, not left


@pytest.mark.parametrize(
    "entry",
    [
        {},
        {"filter_key": "created_at", "start": "x", "end": "2024-01-01T00:00:00+00:00", "rows": 1},
        {"filter_key": "created_at", "start": "2024-01-01T00:00:00", "end": "2024-01-02T00:00:00",
         "rows": 1},  # no timezone
        {"filter_key": "created_at", "start": "2024-01-01T00:00:00+00:00",
         "end": "2024-01-02T00:00:00+00:00", "rows": "1"},
        {"filter_key": "created_at", "start": "2024-01-01T00:00:00+00:00",
         "end": "2024-01-02T00:00:00+00:00", "rows": -1},
        "not an entry",
    ],
)  # fmt: skip
def test_an_entry_this_version_cannot_read_is_dropped(entry):
    assert OpenCount.from_state(entry) is None


def test_an_earlier_runs_open_window_is_compared_now_and_exported_again_only_if_short(
    lists, fake, caplog
):
    counts = verifier(lists)
    whole, short, fewer = (OpenCount("created_at", JANUARY, rows) for rows in (5, 3, 4))
    late = OpenCount("created_at", RECENT, 0)
    with caplog.at_level(logging.WARNING):
        again, still_open = counts.recheck(
            [(request(), whole), (request(), short), (request(window=RECENT), late)]
        )
        # A window compared a run later may have lost rows (deleted since): no difference.
        counts.recheck([(request(), OpenCount("created_at", JANUARY, 6))])
    assert again == [(request(), short)]
    assert still_open == [late]
    assert warnings_of(caplog) == [
        f"vouchers: created_at window {JANUARY}: an earlier run's export delivered 3 rows, GET "
        "/v1/vouchers now counts 5 for the same bounds (2 missing): this run exports the window "
        "again."
    ]
    assert counts.lines() == [
        "vouchers: row counts of 3 windows (3 left open by an earlier run) verified against GET "
        "/v1/vouchers: 2 matched, 1 differed"
    ]
    assert len(count_calls(fake)) == 3  # one each closed window; none for the open one
    assert verifier(lists, "off").recheck([(request(), fewer)]) == ([], [])


def test_a_window_found_short_in_warn_mode_is_left_for_the_next_run_to_compare_again(lists):
    counts = verifier(lists)
    counts.check(request(), 3)
    assert counts.left_open(request()) == OpenCount("created_at", JANUARY, 3, exports=1)
    counts.check(request(), 5)  # a window that matched is done with
    assert counts.left_open(request()) is None
    with pytest.raises(CountMismatchError):
        verifier(lists, "fail").check(request(), 3)  # fail mode: the bookmark stays instead


@pytest.mark.parametrize(("exports", "again"), [(1, True), (2, False)])
def test_a_window_short_each_time_is_exported_at_most_three_times(lists, caplog, exports, again):
    counts = verifier(lists)
    ((asked, _),), _ = counts.recheck([(request(), OpenCount("created_at", JANUARY, 3, exports))])
    with caplog.at_level(logging.WARNING):
        counts.check(asked, 3)  # its export is short again
    left = counts.left_open(asked)
    if again:
        assert left == OpenCount("created_at", JANUARY, 3, exports + 1)
        assert warnings_of(caplog)[-1].endswith(
            "the next run compares it again, and exports it again if still short"
        )
    else:
        assert left is None
        assert warnings_of(caplog)[-1].endswith(
            "; exported 3 times, short each time: not exported again"
        )
