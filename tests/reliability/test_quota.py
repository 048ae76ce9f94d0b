"""Sharing the project's API quota, over real HTTP against the emulator: one list call polls every
job in flight, a first run backfills in few jobs, the run logs what it cost."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest

from tap_voucherify_exports import session
from tap_voucherify_exports.api.client import VoucherifyClient
from tests.support.emulator import (
    RELIABILITY_ROWS,
    arrival_times,
    base_config,
    busiest_window,
    on_nth_create,
)
from tests.support.ground_truth import assert_ground_truth
from tests.support.sync import run_sync
from voucherify_emulator import Emulator
from voucherify_emulator.recording import RecordedRequest

pytestmark = pytest.mark.integration

POLL_INTERVAL = 0.25


def polls(emu: Emulator) -> tuple[list[int], list[int]]:
    """Indexes (in emu.requests) of export list calls and of per-id gets on the API origin (the
    count calls to other list endpoints are neither)."""
    listed: list[int] = []
    got: list[int] = []
    for n, r in enumerate(emu.requests):
        if r.origin == "api" and r.method == "GET" and r.path.startswith("/v1/exports"):
            (listed if r.path.rstrip("/") == "/v1/exports" else got).append(n)
    return listed, got


def test_polling_n_jobs_in_flight_costs_one_list_call_per_interval():
    with Emulator(seed=5, rows=RELIABILITY_ROWS, job_latency_seconds=2.0) as emu:
        config = base_config(emu, max_concurrent_exports=5, poll_interval_max=POLL_INTERVAL)
        messages = run_sync(config, streams={"vouchers"})  # 5 yearly windows, all in flight
        assert_ground_truth(messages, emu, {"vouchers"})
        listed, got = polls(emu)
        times = arrival_times(emu)
        assert len([r for r in emu.requests if r.method == "POST"]) == 5
    # While two or more jobs were pending, every one was seen on the list: a per-id get only
    # ever polls a job left alone (the same one call).
    assert len(got) <= 1
    assert all(n > listed[-1] for n in got)
    # One call per interval for all five jobs: consecutive polls leave the tap at least an
    # interval apart, so over the span they cover there is no room for more (+2 for transit).
    every = sorted(listed + got)
    span = times[every[-1]] - times[every[0]]
    assert len(every) <= span / POLL_INTERVAL + 2
    # Per-id polling would have cost a call per job per interval.
    assert len(every) < 5 * span / POLL_INTERVAL


def test_a_first_run_backfills_in_backfill_windows_and_later_runs_in_window_days(emulator):
    config = base_config(emulator, window_days=30, backfill_window_days=730, full_refresh_days=0)
    first = run_sync(config, streams={"vouchers"})
    creates = [r for r in emulator.requests if r.method == "POST"]
    assert len(creates) == 3  # 2021-01-01 .. 2025-01-02 in 730-day windows
    assert_ground_truth(first, emulator, {"vouchers"})
    state = [m["value"] for m in first if m["type"] == "STATE"][-1]
    emulator.clear_requests()
    later = base_config(emulator, window_days=30, backfill_window_days=730, full_refresh_days=0,
                        end_date="2025-03-02T00:00:00Z")  # fmt: skip
    run_sync(later, streams={"vouchers"}, state=state)
    creates = [r for r in emulator.requests if r.method == "POST"]
    windows = [next(k for k in r.body["parameters"]["filters"] if k != "junction") for r in creates]
    # 59 days after each bookmark, in 30-day windows: rows created, then rows updated since.
    assert sorted(windows) == ["created_at", "created_at", "updated_at", "updated_at"]


def test_the_run_logs_its_calls_by_kind_429s_and_time_waited(emulator, caplog):
    caplog.set_level(logging.INFO, logger="tap_voucherify_exports")
    emulator.inject("rate_limit", phase="create", retry_after=1)
    run_sync(base_config(emulator, max_concurrent_exports=1), streams={"vouchers"})
    (summary,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("API calls")]
    creates = len([r for r in emulator.requests if r.method == "POST"])
    downloads = len([r for r in emulator.requests if r.origin == "download"])
    assert f"{creates} create" in summary
    assert f"{downloads} download" in summary
    assert "429 answers: 1;" in summary
    waited = float(summary.rsplit(": ", 1)[1].removesuffix(" s"))
    assert waited >= 0.9


# --- one rate gate, against an emulator that enforces its limit ----------------------------------
# Voucherify's limits are per minute; the emulator's window and the tap's gate window are both
# WINDOW seconds here (the gate takes its window as a constructor parameter; production passes
# 60), so a test covers several windows in seconds. Everything else is the production path.
WINDOW = 6.0
LIMIT = 30


@pytest.fixture
def gate_window(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(
        session,
        "VoucherifyClient",
        functools.partial(VoucherifyClient, rate_window_seconds=WINDOW),
    )
    return WINDOW


def limited_emulator(**kwargs: Any) -> Emulator:
    return Emulator(seed=5, rows=RELIABILITY_ROWS, rate_limit_per_minute=LIMIT,
                    enforce_rate_limit=True, rate_limit_window_seconds=WINDOW,
                    **kwargs)  # fmt: skip


def quota_calls(emu: Emulator) -> list[RecordedRequest]:
    """What counts against the limit: every call to the API and download origins."""
    return [r for r in emu.requests if r.origin in ("api", "download")]


# 13 windows of 113 days over 2021-01-01 .. 2025-01-02, all in flight at once, each deleted
# once synced: 13 creates, 13 downloads, 13 deletes and the polls, more than one window's budget.
THIRTEEN_JOBS = {"backfill_window_days": 113, "window_days": 113, "max_concurrent_exports": 13,
                 "delete_exports": True}  # fmt: skip


@pytest.mark.parametrize("own_cap", [LIMIT, 100000], ids=["capped-at-the-limit", "headers-alone"])
def test_13_jobs_in_flight_under_a_limit_of_30_complete_with_no_429(gate_window, own_cap):
    with limited_emulator(job_latency_seconds=0.5) as emu:
        config = base_config(emu, **THIRTEEN_JOBS, max_requests_per_minute=own_cap,
                             poll_interval_max=0.5)  # fmt: skip
        messages = run_sync(config, streams={"vouchers"})
        assert_ground_truth(messages, emu, {"vouchers"})
        calls = quota_calls(emu)
    assert len([r for r in calls if r.method == "POST"]) == 13
    assert len(calls) > LIMIT  # the run needed more than one window's budget
    assert [r for r in calls if r.status == 429] == []
    if own_cap == LIMIT:
        # The tap's own cap is a sliding window: no span of WINDOW seconds holds more.
        assert busiest_window(calls, WINDOW) <= LIMIT


# --- a limit by the hour (a sandbox: 100 calls an hour) -------------------------------------------
# HOUR seconds stand for an hour on both sides, as WINDOW stands for a minute above; the tap's own
# minute cap is out of the way (MINUTE, a huge max_requests_per_minute), so only what the test
# names can keep it under the emulator's limit. Long enough that the uncapped control run puts
# more than HOURLY_LIMIT calls in one HOUR on a loaded machine: it took 3.5 s run alone, but
# with HOUR 8.0 it once spread its calls too thinly to meet the limit, under the CPU load of the
# suite in six pytest-xdist workers on two cores.
HOUR = 20.0
HOURLY_LIMIT = 20
MINUTE = 1.0
EIGHT_JOBS = {
    "backfill_window_days": 183,
    "window_days": 183,
    "max_concurrent_exports": 8,
    "delete_exports": True,
    "max_requests_per_minute": 100000,
    "poll_interval_max": 0.5,
}


@pytest.fixture
def hour_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        session,
        "VoucherifyClient",
        functools.partial(VoucherifyClient, rate_window_seconds=MINUTE, hour_window_seconds=HOUR),
    )


def hourly_emulator(*, headers: bool) -> Emulator:
    return Emulator(seed=5, rows=RELIABILITY_ROWS, job_latency_seconds=0.5,
                    rate_limit_per_minute=HOURLY_LIMIT, enforce_rate_limit=True,
                    rate_limit_window_seconds=HOUR, rate_limit_headers=headers)  # fmt: skip


def test_an_hourly_limit_the_headers_describe_is_honoured_with_no_429(hour_window):
    with hourly_emulator(headers=True) as emu:
        messages = run_sync(base_config(emu, **EIGHT_JOBS), streams={"vouchers"})
        assert_ground_truth(messages, emu, {"vouchers"})
        calls = quota_calls(emu)
    assert len(calls) > HOURLY_LIMIT  # the run needed more than one hour's budget
    assert [r for r in calls if r.status == 429] == []


def test_max_requests_per_hour_keeps_a_headerless_hourly_limit_with_no_429(hour_window):
    with hourly_emulator(headers=False) as emu:
        config = base_config(emu, **EIGHT_JOBS, max_requests_per_hour=HOURLY_LIMIT)
        messages = run_sync(config, streams={"vouchers"})
        assert_ground_truth(messages, emu, {"vouchers"})
        calls = quota_calls(emu)
    assert len(calls) > HOURLY_LIMIT
    assert [r for r in calls if r.status == 429] == []
    assert busiest_window(calls, HOUR) <= HOURLY_LIMIT


def test_without_max_requests_per_hour_a_headerless_hourly_limit_is_hit(hour_window):
    # The control: the same run without the cap meets the limit (and recovers by Retry-After),
    # so the test above passes because of the cap.
    with hourly_emulator(headers=False) as emu:
        messages = run_sync(base_config(emu, **EIGHT_JOBS), streams={"vouchers"})
        assert_ground_truth(messages, emu, {"vouchers"})
        calls = quota_calls(emu)
    assert [r for r in calls if r.status == 429] != []


def test_one_429_holds_every_thread_until_the_named_time():
    # The only 429 is the injected one: the emulator reports its limit without enforcing it.
    with Emulator(seed=5, rows=RELIABILITY_ROWS, job_latency_seconds=3.0) as emu:
        # The 3rd create of 3 in flight gets the 429; the other two jobs' first polls fall due
        # a second later, inside the 2 s pause.
        on_nth_create(emu, 3, lambda: emu.inject("rate_limit", phase="create", retry_after=2))
        config = base_config(emu, max_concurrent_exports=3, poll_interval_max=1,
                             max_requests_per_minute=100000)  # fmt: skip
        messages = run_sync(config, streams={"vouchers"})
        assert_ground_truth(messages, emu, {"vouchers"})
        calls = quota_calls(emu)
    (limited,) = [n for n, r in enumerate(calls) if r.status == 429]
    named = calls[limited].retry_at
    assert named is not None
    later = calls[limited + 1 :]
    # The create retried, the other jobs' polls, then downloads and later creates: none sooner.
    assert {(r.method, r.origin) for r in later} >= {("POST", "api"), ("GET", "api")}
    assert [r for r in later if r.at < named] == []


# --- OAuth -----------------------------------------------------------------------------------
def bearer_checks(emu: Emulator) -> tuple[list[RecordedRequest], list[RecordedRequest]]:
    """(token-endpoint calls, every other call), asserting who carried which credential."""
    calls = quota_calls(emu)
    token_calls = [r for r in calls if r.path.startswith("/v1/oauth/")]
    others = [r for r in calls if not r.path.startswith("/v1/oauth/")]
    for r in token_calls:
        assert r.headers.get("X-App-Token") == emu.app_token
        assert "Authorization" not in r.headers
    for r in others:
        assert r.headers.get("Authorization", "").startswith("Bearer "), (r.method, r.path)
        assert "X-App-Token" not in r.headers
        assert "X-App-Id" not in r.headers
    return token_calls, others


def test_oauth_every_call_carries_the_bearer_and_tokens_are_renewed_before_they_expire(caplog):
    caplog.set_level(logging.DEBUG)
    with Emulator(
        seed=5, rows=RELIABILITY_ROWS, job_latency_seconds=0.5, oauth_token_ttl_seconds=3
    ) as emu:
        config = base_config(emu, auth_method="oauth", max_concurrent_exports=1)
        messages = run_sync(config, streams={"vouchers", "customers"})
        assert_ground_truth(messages, emu, {"vouchers", "customers"})
        token_calls, others = bearer_checks(emu)
        active_after = emu.oauth.active
    issued = [r for r in token_calls if r.path == "/v1/oauth/token"]
    assert len(issued) >= 2  # a 10-job run outlives a 3 s token
    assert [r for r in others if r.status == 401] == []  # renewed before, not after, expiry
    assert issued[0].body == {"grant_type": ["client_credentials"], "scope": ["exports"]}
    assert token_calls[-1].path == "/v1/oauth/token/revoke"
    assert active_after == 0  # the run revoked what it held
    bearers = {r.headers["Authorization"].removeprefix("Bearer ") for r in others}
    assert len(bearers) >= 2
    assert not [t for t in bearers if t in caplog.text]  # no token in any log line


def test_oauth_token_that_expires_mid_download_is_renewed_and_the_sync_completes():
    with Emulator(seed=5, rows=RELIABILITY_ROWS, job_latency_seconds=0.02) as emu:
        # The first download breaks half-way; the token is gone when the tap resumes it.
        emu.inject("reset_download", exported_object="voucher", after_bytes=20000)
        downloads = 0

        def expire_token_on_the_second_download(request: RecordedRequest) -> None:
            nonlocal downloads
            if request.origin == "download":
                downloads += 1
                if downloads == 2:
                    emu.inject("expire_oauth_token", phase="download")

        emu.on_request(expire_token_on_the_second_download)
        config = base_config(emu, auth_method="oauth", max_concurrent_exports=1)
        messages = run_sync(config, streams={"vouchers"})
        assert_ground_truth(messages, emu, {"vouchers"})
        token_calls, others = bearer_checks(emu)
    statuses = [r.status for r in others if r.origin == "download"][:3]
    assert statuses == [200, 401, 200]  # broken, refused (token expired), resumed
    assert len([r for r in token_calls if r.path == "/v1/oauth/token"]) == 2
