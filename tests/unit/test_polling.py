"""The poller: one list call for every job in flight, per-id gets for what the list misses."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.config.settings import Settings, parse_settings
from tap_voucherify_exports.errors import ExportCancelledError
from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.jobs.export import Export
from tap_voucherify_exports.jobs.exports_api import ExportsAPI
from tap_voucherify_exports.jobs.polling import ExportPoller
from tap_voucherify_exports.jobs.request import ExportRequest

API = "https://api.voucherify.io/v1/exports"
REQUEST = ExportRequest("vouchers", TABLES["voucher"], ("id", "code"))


def fast_polls(**overrides: object) -> Settings:
    """Settings polling every 10 ms, with no rate cap worth the name."""
    return parse_settings(
        {"app_id": "id", "app_token": "tok", "start_date": "2024-01-01",
         "poll_interval_max": 0.01, "max_requests_per_minute": 10000, **overrides}
    )  # fmt: skip


@pytest.fixture
def api():
    settings = fast_polls()
    with VoucherifyClient(settings) as client:
        yield ExportsAPI(client, settings)


def done(export_id: str) -> dict:
    return {"id": export_id, "status": "DONE", "result": {"url": f"{API}/{export_id}?token=t"}}


def wait_all(poller: ExportPoller, ids: list[str]) -> list[Export]:
    with ThreadPoolExecutor(len(ids)) as pool:
        futures = [
            pool.submit(poller.wait, Export(export_id, "SCHEDULED", None), REQUEST)
            for export_id in ids
        ]
        return [future.result(timeout=30) for future in futures]


def pending_until_listed(requests_mock, export_id: str) -> None:
    """Get answers IN_PROGRESS until a list call was made (then DONE): the jobs stay pending
    until the poller has both in hand, however the threads are scheduled."""

    def answer(request, context):
        listed = any(r.path == "/v1/exports" for r in requests_mock.request_history)
        return done(export_id) if listed else {"id": export_id, "status": "IN_PROGRESS"}

    requests_mock.get(f"{API}/{export_id}", json=answer)


def wait_for_two(api, requests_mock) -> tuple[ExportPoller, list[Export]]:
    """exp_a and exp_b waited on together, each pending until a list call was made; the
    poller (closed) and what each wait returned."""
    pending_until_listed(requests_mock, "exp_a")
    pending_until_listed(requests_mock, "exp_b")
    poller = ExportPoller(api)
    try:
        return poller, wait_all(poller, ["exp_a", "exp_b"])
    finally:
        poller.close()


def test_a_job_missing_from_the_list_is_read_by_id(api, requests_mock):
    requests_mock.get(f"{API}?order=-created_at&limit=100", json={"exports": [done("exp_a")]})
    _, exports = wait_for_two(api, requests_mock)
    assert [e.status for e in exports] == ["DONE", "DONE"]
    paths = [r.path for r in requests_mock.request_history]
    first_list = paths.index("/v1/exports")
    # The round of the list call read exp_b (missing from the list) by id, and exp_a not.
    assert paths[first_list + 1 :] == ["/v1/exports/exp_b"]


def test_a_refused_list_call_falls_back_to_per_id_gets_and_says_so(api, requests_mock, caplog):
    caplog.set_level(logging.WARNING)
    requests_mock.get(f"{API}?order=-created_at&limit=100", status_code=403,
                      json={"code": 403, "key": "forbidden", "message": "Forbidden"})  # fmt: skip
    poller, exports = wait_for_two(api, requests_mock)
    assert [e.id for e in exports] == ["exp_a", "exp_b"]
    assert not poller.use_list
    assert "polling each export by id from now on" in caplog.text
    paths = [r.path for r in requests_mock.request_history]
    assert paths.count("/v1/exports") == 1  # never asked again


def test_close_ends_every_wait_with_a_cancellation(api, requests_mock):
    requests_mock.get(f"{API}/exp_a", json={"id": "exp_a", "status": "IN_PROGRESS"})
    poller = ExportPoller(api)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(poller.wait, Export("exp_a", "SCHEDULED", None), REQUEST)
        while not requests_mock.called:  # polled at least once: the wait is under way
            time.sleep(0.01)
        poller.close()
        with pytest.raises(ExportCancelledError):
            future.result(timeout=30)


def test_an_unknown_status_is_waited_on_and_logged_once(requests_mock, caplog):
    settings = fast_polls(export_timeout=3.5)
    calls = []

    def answer(request, context):
        calls.append(request)
        return {"id": "exp_q", "status": "QUEUED" if len(calls) < 4 else "DONE", "result": None}

    requests_mock.get(f"{API}/exp_q", json=answer)
    with VoucherifyClient(settings) as client, caplog.at_level(logging.WARNING):
        poller = ExportPoller(ExportsAPI(client, settings))
        try:
            export = poller.wait(Export("exp_q", "SCHEDULED", None), REQUEST)
        finally:
            poller.close()
    assert export.status == "DONE"
    assert len(calls) >= 4
    unknown = [r.getMessage() for r in caplog.records if "'QUEUED'" in r.getMessage()]
    assert unknown == [
        "vouchers: exp_q has the status 'QUEUED', which this tap does not know; it is waited on "
        "like IN_PROGRESS, until export_timeout."
    ]
