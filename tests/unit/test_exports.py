import dataclasses
import io
import time
from collections.abc import Callable

import pytest
import requests
import requests_mock as rm

from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.config.settings import parse_settings
from tap_voucherify_exports.errors import (
    DownloadRefusedError,
    ExportFailedError,
    ExportFieldsRefusedError,
    ExportResultError,
    ExportTimeoutError,
    VoucherifyAPIError,
    VoucherifyError,
)
from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.jobs.download import RecordPart, read_export
from tap_voucherify_exports.jobs.export import Export, result_urls
from tap_voucherify_exports.jobs.exports_api import ExportsAPI
from tap_voucherify_exports.jobs.polling import ExportPoller
from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.parsing.records import CsvRecordReader

API = "https://api.voucherify.io/v1/exports"
DOWNLOAD = "https://download.voucherify.io/v1/exports"
REQUEST = ExportRequest("vouchers", TABLES["voucher"], ("id", "code"))
CSV = "ID,Code\r\nv1,A\r\nv2,B\r\nv3,C\r\n"


@pytest.fixture
def api():
    settings = parse_settings(
        {
            "app_id": "id",
            "app_token": "tok",
            "start_date": "2024-01-01",
            "poll_interval_max": 0.01,
            "export_timeout": 0.3,
        }
    )
    with VoucherifyClient(settings) as client:
        yield ExportsAPI(client, settings)


def done(export_id: str = "exp_1", token: str = "t1") -> dict:
    return {
        "id": export_id,
        "status": "DONE",
        "result": {"url": f"{DOWNLOAD}/{export_id}?token={token}"},
    }


def reader() -> CsvRecordReader:
    return CsvRecordReader("vouchers", TABLES["voucher"], ("id", "code"))


def parts() -> Callable[[], RecordPart]:
    """What the session hands `read_export`: a record reader per file of the export."""
    shared = reader()
    return lambda: RecordPart(shared)


def test_wait_polls_through_scheduled_and_in_progress_until_done(api, requests_mock):
    requests_mock.get(
        f"{API}/exp_1",
        [
            {"json": {"id": "exp_1", "status": "SCHEDULED", "result": None}},
            {"json": {"id": "exp_1", "status": "IN_PROGRESS", "result": None}},
            {"json": done()},
        ],
    )
    export = ExportPoller(api).wait(Export("exp_1", "SCHEDULED", None), REQUEST)
    assert export.status == "DONE"
    assert requests_mock.call_count == 3


def test_error_status_is_a_clear_failure_naming_export_object_and_window(api, requests_mock):
    requests_mock.get(f"{API}/exp_1", json={"id": "exp_1", "status": "ERROR", "result": None})
    with pytest.raises(ExportFailedError, match=r"vouchers: exp_1 \(voucher export"):
        ExportPoller(api).wait(Export("exp_1", "SCHEDULED", None), REQUEST)


def test_a_job_that_never_finishes_times_out_with_a_clear_error(api, requests_mock):
    requests_mock.get(f"{API}/exp_1", json={"id": "exp_1", "status": "IN_PROGRESS"})
    with pytest.raises(ExportTimeoutError, match=r"exp_1 .* did not finish within 0.3 s"):
        ExportPoller(api).wait(Export("exp_1", "SCHEDULED", None), REQUEST)


def test_create_sends_fields_order_and_window_filters(api, requests_mock):
    requests_mock.post(API, json={"id": "exp_1", "status": "SCHEDULED", "result": None})
    api.create_export(REQUEST)
    assert requests_mock.last_request.json() == {
        "exported_object": "voucher",
        "parameters": {"fields": ["id", "code"]},
    }


def test_download_streams_typed_records(api, requests_mock):
    requests_mock.get(f"{DOWNLOAD}/exp_1", text=CSV)
    records = list(read_export(api, Export.from_json(done()), REQUEST, parts()))
    assert [r["id"] for r in records] == ["v1", "v2", "v3"]
    assert requests_mock.last_request.headers["X-App-Token"] == "tok"
    assert requests_mock.last_request.qs["token"] == ["t1"]


def test_an_exports_counts_and_line_include_its_null_spellings(api, requests_mock, caplog):
    request = ExportRequest("vouchers", TABLES["voucher"], ("id", "value"))
    requests_mock.get(f"{DOWNLOAD}/exp_1", text="ID,Value\r\nv1,null\r\nv2,3\r\nv3,NULL\r\n")
    shared = CsvRecordReader("vouchers", TABLES["voucher"], ("id", "value"))
    rows = read_export(api, Export.from_json(done()), request, lambda: RecordPart(shared))
    records = []
    with caplog.at_level("INFO"):
        while True:
            try:
                records.append(next(rows))
            except StopIteration as stop:
                counts = stop.value
                break
    assert [r["value"] for r in records] == [None, 3, None]
    assert counts == (3, 2, 0)
    assert caplog.messages[-1].endswith(
        " s; 2 cells spelled null/NULL in typed columns read as null"
    )


def test_download_refreshes_token_after_401(api, requests_mock):
    requests_mock.get(
        f"{DOWNLOAD}/exp_1?token=t1",
        status_code=401,
        json={"code": 401, "key": "unauthorized", "message": "Unauthorized"},
    )
    requests_mock.get(f"{DOWNLOAD}/exp_1?token=t2", text=CSV)
    requests_mock.get(f"{API}/exp_1", json=done(token="t2"))
    records = list(read_export(api, Export.from_json(done()), REQUEST, parts()))
    assert len(records) == 3


def test_token_refresh_is_bounded(api, requests_mock):
    requests_mock.get(rm.ANY, additional_matcher=lambda r: "download" in r.netloc, status_code=401)
    fresh = iter(range(100))
    requests_mock.get(f"{API}/exp_1", json=lambda request, context: done(token=f"t{next(fresh)}"))
    with pytest.raises(VoucherifyAPIError, match="401"):
        list(read_export(api, Export.from_json(done()), REQUEST, parts()))
    downloads = [r for r in requests_mock.request_history if "download" in r.netloc]
    assert len(downloads) == 5


def test_the_refused_url_answered_again_is_not_retried_and_the_export_is_created_again(
    api, requests_mock
):
    requests_mock.get(f"{DOWNLOAD}/exp_1", status_code=401)
    requests_mock.get(f"{DOWNLOAD}/exp_2", text=CSV)
    requests_mock.get(f"{API}/exp_1", json=done())  # the same URL, the same token
    created: list[str] = []

    def create_again(dead: Export) -> Export:
        created.append(dead.id)
        return Export.from_json(done("exp_2"))

    export = Export.from_json(done())
    records = list(read_export(api, export, REQUEST, parts(), create_again))
    assert created == ["exp_1"]
    assert [r["id"] for r in records] == ["v1", "v2", "v3"]
    assert len([r for r in requests_mock.request_history if "exp_1?" in r.url]) == 1


def test_a_refused_url_answered_again_without_a_way_to_create_again_fails_naming_it(
    api, requests_mock
):
    requests_mock.get(f"{DOWNLOAD}/exp_1", status_code=403)
    requests_mock.get(f"{API}/exp_1", json=done())
    with pytest.raises(DownloadRefusedError, match="Get Export answers that same URL"):
        list(read_export(api, Export.from_json(done()), REQUEST, parts()))


class _Broken(io.RawIOBase):
    """A body that fails after its first bytes, like a reset connection."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        if not chunk:
            raise requests.exceptions.ChunkedEncodingError("connection reset")
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_broken_download_restarts_without_emitting_rows_twice(api, requests_mock):
    requests_mock.get(
        f"{DOWNLOAD}/exp_1",
        [
            {"body": io.BufferedReader(_Broken(b"ID,Code\r\nv1,A\r\nv2,B\r\n"))},
            {"text": CSV},
        ],
    )
    records = list(read_export(api, Export.from_json(done()), REQUEST, parts()))
    assert [r["id"] for r in records] == ["v1", "v2", "v3"]


def test_a_truncated_last_row_is_detected_and_the_download_retried(api, requests_mock):
    requests_mock.get(f"{DOWNLOAD}/exp_1", [{"text": "ID,Code\r\nv1,A\r\nv2"}, {"text": CSV}])
    records = list(read_export(api, Export.from_json(done()), REQUEST, parts()))
    assert [r["id"] for r in records] == ["v1", "v2", "v3"]


def test_repeated_download_failures_end_in_a_clear_error(api, requests_mock):
    requests_mock.get(f"{DOWNLOAD}/exp_1", text="ID,Code\r\nv1,A\r\nv2")
    with pytest.raises(VoucherifyError, match="download of exp_1 failed 5 times"):
        list(read_export(api, Export.from_json(done()), REQUEST, parts()))


def test_every_chunk_of_a_split_result_is_downloaded_in_order(api, requests_mock):
    requests_mock.get(f"{DOWNLOAD}/exp_1/1", text="ID,Code\nv1,A\n")
    requests_mock.get(f"{DOWNLOAD}/exp_1/2", text="ID,Code\nv2,B\n")
    export = Export("exp_1", "DONE", {"url": [f"{DOWNLOAD}/exp_1/1", f"{DOWNLOAD}/exp_1/2"]})
    assert [r["id"] for r in read_export(api, export, REQUEST, parts())] == ["v1", "v2"]


@pytest.mark.parametrize(
    ("result", "urls"),
    [
        ({"url": "https://d/1"}, ["https://d/1"]),
        ({"urls": ["https://d/1", "https://d/2"]}, ["https://d/1", "https://d/2"]),
        (
            {"parts": [{"url": "https://d/1"}, {"url": "https://d/2"}]},
            ["https://d/1", "https://d/2"],
        ),
        (["https://d/1"], ["https://d/1"]),
        ({"url": ""}, []),
        (None, []),
    ],
)
def test_result_urls_reads_every_plausible_shape(result, urls):
    assert result_urls(result) == urls


@pytest.mark.parametrize(
    ("result", "keys"),
    [
        ({"url": "https://d/1", "next_parts": ["https://d/2"]}, "['next_parts', 'url']"),
        ({"url": "https://d/1", "expires_at": "2026-01-01"}, "['expires_at', 'url']"),
        ({"files": [{"href": "https://d/1"}]}, "['files']"),
        ({"urls": ["https://d/1"], "parts": ["https://d/2"]}, "['parts', 'urls']"),
    ],
)
def test_result_urls_refuses_a_shape_it_does_not_know_quoting_its_keys(result, keys):
    with pytest.raises(
        ExportResultError, match=r"exp_1: .* shape this tap does not read"
    ) as caught:
        result_urls(result, "exp_1")
    assert f"keys {keys}" in str(caught.value)
    assert "https://" not in str(caught.value), "URLs carry download tokens: never quoted"


def test_a_done_export_without_a_url_fails_showing_id_and_result(api):
    with pytest.raises(ExportResultError, match=r'exp_1 .* no download URL: \{"bin": 1\}'):
        list(read_export(api, Export("exp_1", "DONE", {"bin": 1}), REQUEST, parts()))


def test_result_url_on_an_untrusted_host_is_refused_and_gets_no_request(api, requests_mock):
    export = Export("exp_1", "DONE", {"url": "https://attacker.example/v1/exports/exp_1?token=t"})
    with pytest.raises(ExportResultError, match=r"attacker\.example.*Refusing"):
        list(read_export(api, export, REQUEST, parts()))
    assert requests_mock.call_count == 0


def test_an_export_already_done_without_a_result_is_fetched_again_for_its_url(api, requests_mock):
    # Voucherify's create answer is SCHEDULED with result null; should one ever say DONE (a tiny
    # job), its result.url is only on Get Export.
    requests_mock.get(f"{API}/exp_1", json=done())
    export = ExportPoller(api).wait(Export("exp_1", "DONE", None), REQUEST)
    assert export.result == done()["result"]


def test_the_row_count_logged_covers_every_chunk(api, requests_mock, caplog):
    caplog.set_level("INFO")
    requests_mock.get(f"{DOWNLOAD}/exp_1/1", text="ID,Code\nv1,A\nv2,B\n")
    requests_mock.get(f"{DOWNLOAD}/exp_1/2", text="ID,Code\nv3,C\n")
    export = Export("exp_1", "DONE", {"url": [f"{DOWNLOAD}/exp_1/1", f"{DOWNLOAD}/exp_1/2"]})
    list(read_export(api, export, REQUEST, parts()))
    assert "3 rows from exp_1" in caplog.text


SPEC_400 = {
    "code": 400,
    "key": "invalid_export_fields",
    "message": "Invalid Export",
    "details": "Unsupported field used. Allowed fields: id, object, date, voucher_code, campaign, "
    "promotion_tier_id, customer_id, customer_source_id, customer_name, tracking_id, "
    "order_amount, gift_amount, loyalty_points, result, failure_code, failure_message, metadata",
    "request_id": "v-0afdb603910a1a14e0",
}


def test_the_specs_400_example_drops_order_id_and_creates_again(api, requests_mock, caplog):
    request = ExportRequest(
        "redemptions",
        TABLES["redemption"],
        ("id", "date", "order_id", "metadata", "metadata.tier"),
        required=("id", "date"),
    )
    requests_mock.post(
        API,
        [{"status_code": 400, "json": SPEC_400}, {"json": {"id": "exp_1", "status": "SCHEDULED"}}],
    )
    with caplog.at_level("WARNING"):
        assert api.create_export(request).id == "exp_1"
        assert api.create_export(request).id == "exp_1"
    bodies = [r.json()["parameters"]["fields"] for r in requests_mock.request_history]
    assert bodies == [
        ["id", "date", "order_id", "metadata", "metadata.tier"],
        ["id", "date", "metadata", "metadata.tier"],
        ["id", "date", "metadata", "metadata.tier"],  # the run remembers: no second 400
    ]
    assert api.refused.of("redemption") == ("order_id",)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "refuses the field(s) order_id" in warnings[0]
    assert "v-0afdb603910a1a14e0" in warnings[0]


def test_a_refused_required_field_fails_clearly(api, requests_mock):
    request = ExportRequest(
        "redemptions", TABLES["redemption"], ("id", "order_id"), required=("id",)
    )
    body = {**SPEC_400, "details": "Unsupported field used. Allowed fields: date, result"}
    requests_mock.post(API, status_code=400, json=body)
    with pytest.raises(ExportFieldsRefusedError, match=r"refuses the field\(s\) id, which"):
        api.create_export(request)
    assert requests_mock.call_count == 1


def test_a_400_that_refuses_nothing_requested_is_raised_as_is(api, requests_mock):
    request = ExportRequest("redemptions", TABLES["redemption"], ("id", "date"))
    requests_mock.post(API, status_code=400, json=SPEC_400)
    with pytest.raises(VoucherifyAPIError, match="invalid_export_fields"):
        api.create_export(request)
    assert requests_mock.call_count == 1


def test_an_export_done_long_before_its_download_gets_a_fresh_url_first(api, requests_mock):
    # Tokens live 900 s (the spec's JWT examples); one read 11 minutes ago is renewed before use.
    requests_mock.get(f"{API}/exp_1", json=done(token="fresh"))
    requests_mock.get(f"{DOWNLOAD}/exp_1?token=fresh", text=CSV)
    stale = Export.from_json(done(token="stale"))
    stale = dataclasses.replace(stale, read_at=time.monotonic() - 660)
    assert [r["id"] for r in read_export(api, stale, REQUEST, parts())] == ["v1", "v2", "v3"]
    downloads = [r.url for r in requests_mock.request_history if "download" in r.url]
    assert downloads == [f"{DOWNLOAD}/exp_1?token=fresh"], "the stale URL is never tried"


def test_a_recent_export_is_downloaded_without_asking_again(api, requests_mock):
    requests_mock.get(f"{DOWNLOAD}/exp_1?token=t1", text=CSV)
    assert len(list(read_export(api, Export.from_json(done()), REQUEST, parts()))) == 3
    assert [r.method for r in requests_mock.request_history] == ["GET"]
