"""The run's rate gate: sliding-window cap, pauses after a 429 for every thread, header pacing.

Windows here are fractions of a second (the gate takes its window length as a parameter; the tap
passes 60 s); every assertion compares times the gate itself recorded, never a sleep's length.
"""

import itertools
import threading
import time

import pytest

from tap_voucherify_exports.api.rate_gate import RateGate, named_wait_seconds
from tap_voucherify_exports.errors import ExportCancelledError

WINDOW = 0.3


def test_no_window_ever_holds_more_than_the_cap_counting_from_each_answer():
    gate = RateGate(3, window_seconds=WINDOW)
    slots = []
    for _ in range(8):
        slot = gate.acquire("get")
        gate.release(slot, 200, {})
        slots.append(slot)
    for earlier, later in zip(slots, slots[3:], strict=False):
        assert earlier.answered is not None
        assert later.started >= earlier.answered + WINDOW
    assert gate.stats.calls["get"] == 8
    assert gate.stats.waited_seconds > 0


def test_a_slot_still_in_flight_is_not_freed_by_time_alone():
    gate = RateGate(1, window_seconds=0.05)
    first = gate.acquire("download")
    released_at: list[float] = []

    def answer_later():
        time.sleep(0.2)
        released_at.append(time.monotonic())
        gate.release(first, 200, {})

    thread = threading.Thread(target=answer_later)
    thread.start()
    second = gate.acquire("get")
    thread.join()
    assert second.started >= released_at[0] + 0.05


def test_a_429_pauses_every_thread_until_the_named_time():
    gate = RateGate(100, window_seconds=WINDOW)
    limited = gate.acquire("create")
    waiting = threading.Barrier(4)
    starts: list[float] = []

    def other_thread():
        waiting.wait()
        slot = gate.acquire("get")
        starts.append(slot.started)
        gate.release(slot, 200, {})

    threads = [threading.Thread(target=other_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    gate.release(limited, 429, {"Retry-After": "0.4"})
    waiting.wait()
    for thread in threads:
        thread.join()
    assert len(starts) == 3
    assert limited.answered is not None
    assert min(starts) >= limited.answered + 0.4
    assert gate.stats.rate_limited == 1
    assert gate.stats.waited_seconds >= 0.3


def test_nothing_remaining_pauses_until_x_rate_limit_retry():
    gate = RateGate(100)
    slot = gate.acquire("get")
    retry_at = time.time() + 0.4
    gate.release(
        slot,
        200,
        {
            "X-Rate-Limit-Limit": "10",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Retry": str(retry_at),
        },
    )
    started = gate.acquire("get").started
    assert slot.answered is not None
    assert started >= slot.answered + 0.35


def test_pacing_spreads_what_remains_over_the_rest_of_the_server_window():
    gate = RateGate(100)
    reset = time.time() + 1.0
    slot = gate.acquire("list")
    headers = {
        "X-Rate-Limit-Limit": "20",
        "X-Rate-Limit-Remaining": "4",
        "X-Rate-Limit-Retry": str(reset),
    }
    gate.release(slot, 200, headers)
    starts = []
    for _ in range(3):
        next_slot = gate.acquire("list")
        starts.append(next_slot.started)
        gate.release(next_slot, 200, headers)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # 4 left, about 1 s to go: a quarter of a second apart (or more), never a burst.
    assert all(gap >= 0.2 for gap in gaps), gaps


def test_plenty_remaining_means_no_pacing():
    gate = RateGate(100)
    headers = {"X-Rate-Limit-Limit": "2000", "X-Rate-Limit-Remaining": "1990"}
    started = time.monotonic()
    for _ in range(20):
        gate.release(gate.acquire("get"), 200, headers)
    assert time.monotonic() - started < 0.5
    assert gate.stats.waited_seconds == 0


def test_the_summary_counts_calls_by_kind_429s_and_time_waited():
    gate = RateGate(100)
    gate.release(gate.acquire("create"), 200, {})
    gate.release(gate.acquire("download"), 429, {"Retry-After": "0"})
    gate.release(gate.acquire("download"), 200, {})
    assert gate.stats.summary() == (
        "API calls: 3 (1 create, 2 download); 429 answers: 1; waited for the rate limit: 0.0 s"
    )


def test_named_wait_prefers_retry_after_then_the_epoch_second():
    assert named_wait_seconds(429, {"Retry-After": "3", "X-Rate-Limit-Retry": "99"}, now=0) == 3
    assert named_wait_seconds(429, {"X-Rate-Limit-Retry": "105"}, now=100) == 5
    # On an ordinary answer X-Rate-Limit-Retry is only the window's reset, not an order to wait.
    assert named_wait_seconds(200, {"X-Rate-Limit-Retry": "105"}, now=100) is None
    assert (
        named_wait_seconds(
            200, {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Retry": "105"}, now=100
        )
        == 5
    )


def test_stopping_the_sync_wakes_threads_held_back_by_a_long_pause():
    gate = RateGate(100)
    limited = gate.acquire("create")
    gate.release(limited, 429, {"Retry-After": "3600"})
    outcome: list[BaseException] = []

    def held_back():
        try:
            gate.acquire("get")
        except ExportCancelledError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=held_back)
    thread.start()
    while gate.stats.waited_seconds == 0 and not gate._waiting:
        time.sleep(0.01)
    gate.interrupt_waiting()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(outcome) == 1
    # A request asked for afterwards (a cleanup delete) is not held for the hour: dropped.
    started = time.monotonic()
    with pytest.raises(ExportCancelledError, match="would hold it"):
        gate.acquire("delete")
    assert time.monotonic() - started < 1


def test_once_stopping_a_short_pause_is_still_honoured():
    gate = RateGate(100)
    limited = gate.acquire("create")
    gate.release(limited, 429, {"Retry-After": "0.5"})
    gate.interrupt_waiting()
    slot = gate.acquire("delete")
    assert limited.answered is not None
    assert slot.started >= limited.answered + 0.5
