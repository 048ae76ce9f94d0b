"""Emulator internals that are cheaper to check without HTTP."""

from __future__ import annotations

import csv
import io
import random
import time

import pytest

from voucherify_emulator import tokens
from voucherify_emulator.api import OBJECTS
from voucherify_emulator.data import Dataset
from voucherify_emulator.timeline import iso_ms, parse_iso


@pytest.mark.parametrize("exported_object", list(OBJECTS))
def test_fast_lines_equal_csv_module_rows(exported_object):
    dataset = Dataset(3, dict.fromkeys(OBJECTS, 400))
    segments = dataset.timelines[exported_object].snapshot()
    everything = dataset.keys(exported_object)
    rnd = random.Random(exported_object)
    choices = [everything, everything[::-1]]
    choices += [rnd.sample(everything, rnd.randint(2, len(everything))) for _ in range(2)]
    for keys in choices:
        for terminator in ("\r\n", "\n"):
            for indexes in (range(400), range(399, -1, -1)):
                expected = io.StringIO()
                csv.writer(expected, lineterminator=terminator).writerows(
                    dataset.rows(exported_object, keys, segments, indexes)
                )
                fast = "".join(dataset.lines(exported_object, keys, segments, indexes, terminator))
                assert fast == expected.getvalue()


def test_window_is_an_index_range_with_both_edge_semantics():
    dataset = Dataset(5, {"voucher": 1000})
    timeline = dataset.timelines["voucher"]
    stamps = [timeline.ms(i) for i in range(1000)]
    assert stamps == sorted(stamps)
    after, before = stamps[300], stamps[600]
    exclusive = timeline.window(after, before, inclusive=False)
    inclusive = timeline.window(after, before, inclusive=True)
    assert list(exclusive) == [i for i, ms in enumerate(stamps) if after < ms < before]
    assert list(inclusive) == [i for i, ms in enumerate(stamps) if after <= ms <= before]
    assert timeline.window(None, None, inclusive=False) == range(1000)


def test_added_rows_are_later_than_everything_and_not_in_the_future():
    dataset = Dataset(5, {"order": 10})
    timeline = dataset.timelines["order"]
    last = timeline.ms(9)
    dataset.add_rows("order", 7)
    now = int(time.time() * 1000)
    added = [timeline.ms(i) for i in range(10, 17)]
    assert all(last < ms <= now for ms in added)
    assert added == sorted(added)


def test_iso_round_trip():
    for text in ("2022-03-09T09:16:32.521Z", "2021-01-01T00:00:00.000Z"):
        assert iso_ms(parse_iso(text)) == text
    assert parse_iso("2022-03-09T09:16:32Z") == parse_iso("2022-03-09T09:16:32.000Z")


def test_token_checks_signature_export_and_expiry():
    secret = b"s" * 32
    token = tokens.mint(secret, "me@example.com", "exp_1", 60, now=1000)
    assert tokens.verify(secret, token, "exp_1", now=1059)["tenant"] == "me@example.com"
    for bad in (
        lambda: tokens.verify(secret, token, "exp_1", now=1060),
        lambda: tokens.verify(secret, token, "exp_2", now=1001),
        lambda: tokens.verify(b"x" * 32, token, "exp_1", now=1001),
        lambda: tokens.verify(secret, "not.a.jwt", "exp_1", now=1001),
    ):
        with pytest.raises(tokens.TokenError):
            bad()


def test_tap_config_points_at_the_emulator_and_takes_any_override():
    from voucherify_emulator import Emulator

    with Emulator(rows={"voucher": 1}) as emu:
        config = emu.tap_config(app_token="wrong", poll_interval_max=None, window_days=30)
    assert config["api_url"].startswith("http://127.0.0.1:")
    assert config["download_url"] != config["api_url"]
    assert config["app_id"] == emu.app_id
    assert config["app_token"] == "wrong"
    assert config["start_date"] == "2021-01-01T00:00:00Z"
    assert config["window_days"] == 30
    assert "poll_interval_max" not in config  # None leaves the tap's default
