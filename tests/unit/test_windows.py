import datetime as dt
import itertools

from tap_voucherify_exports.jobs.windows import Window, iso_ms, plan_windows

UTC = dt.timezone.utc


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, tzinfo=UTC)


def test_windows_cover_the_range_without_gaps():
    windows = plan_windows(at(1), at(10, 12), dt.timedelta(days=4))
    assert windows[0].start == at(1)
    assert windows[-1].end == at(10, 12)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert [w.span for w in windows][:2] == [dt.timedelta(days=4)] * 2


def test_no_windows_when_start_is_not_before_end():
    assert plan_windows(at(2), at(2), dt.timedelta(days=1)) == []


def test_filters_start_one_millisecond_early_so_either_edge_semantics_loses_nothing():
    conditions = Window(at(1), at(2)).filters()["created_at"]["conditions"]
    assert conditions == {
        "$after": ["2023-12-31T23:59:59.999Z"],
        "$before": ["2024-01-02T00:00:00.000Z"],
    }


def test_halves_meet_on_a_millisecond():
    first, second = Window(at(1), dt.datetime(2024, 1, 1, 0, 0, 0, 3000, tzinfo=UTC)).halves()
    assert first.end == second.start
    assert first.end.microsecond % 1000 == 0


def test_iso_ms_is_utc_with_milliseconds():
    moment = dt.datetime(2024, 1, 1, 1, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert iso_ms(moment) == "2024-01-01T00:00:00.123Z"
