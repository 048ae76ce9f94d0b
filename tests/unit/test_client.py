import time

import pytest
import requests
import requests_mock as rm

from tap_voucherify_exports.client import VoucherifyClient, retry_after_seconds
from tap_voucherify_exports.errors import RetriableHTTPError, VoucherifyAPIError
from tap_voucherify_exports.settings import parse_settings

API = "https://api.voucherify.io"
SECRET = "tok-secret"


@pytest.fixture
def client():
    settings = parse_settings({"app_id": "id", "app_token": SECRET, "start_date": "2024-01-01"})
    with VoucherifyClient(settings) as c:
        yield c


@pytest.fixture
def sleeps(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr(time, "sleep", waited.append)
    return waited


def test_429_waits_for_retry_after_then_succeeds(client, requests_mock, sleeps):
    requests_mock.get(
        f"{API}/v1/exports/x",
        [
            {"status_code": 429, "headers": {"Retry-After": "7"}, "json": {"code": 429}},
            {"json": {"id": "x"}},
        ],
    )
    assert client.request("GET", f"{API}/v1/exports/x").json() == {"id": "x"}
    assert sleeps == [7.0]


def test_429_without_retry_after_waits_until_x_rate_limit_retry(client, requests_mock, sleeps):
    retry_at = str(int(time.time()) + 30)
    requests_mock.get(
        f"{API}/v1/exports/x",
        [
            {"status_code": 429, "headers": {"X-Rate-Limit-Retry": retry_at}},
            {"json": {"id": "x"}},
        ],
    )
    client.request("GET", f"{API}/v1/exports/x")
    assert 28 <= sleeps[0] <= 31


def test_5xx_is_retried_with_growing_backoff_and_bounded(client, requests_mock, sleeps):
    requests_mock.get(f"{API}/v1/exports/x", status_code=503, json={"message": "busy"})
    with pytest.raises(RetriableHTTPError, match="503"):
        client.request("GET", f"{API}/v1/exports/x")
    assert len(sleeps) == 7
    assert sleeps == sorted(sleeps)
    assert sleeps[0] >= 1


def test_connection_errors_are_retried(client, requests_mock, sleeps):
    requests_mock.get(
        f"{API}/v1/exports/x",
        [
            {"exc": requests.ConnectionError("reset")},
            {"json": {"id": "x"}},
        ],
    )
    assert client.request("GET", f"{API}/v1/exports/x").json() == {"id": "x"}
    assert len(sleeps) == 1


def test_other_4xx_raises_with_voucherify_key_message_details_and_request_id(
    client, requests_mock, sleeps
):
    body = {
        "code": 400,
        "key": "invalid_export_fields",
        "message": "Invalid Export",
        "details": "Unsupported field used. Allowed fields: id, object",
        "request_id": "v-0afdb603910a1a14e0",
    }
    requests_mock.post(f"{API}/v1/exports", status_code=400, json=body)
    with pytest.raises(VoucherifyAPIError) as error:
        client.request("POST", f"{API}/v1/exports", json_body={})
    assert error.value.key == "invalid_export_fields"
    assert error.value.details == body["details"]
    message = str(error.value)
    assert "Allowed fields: id, object" in message
    assert "v-0afdb603910a1a14e0" in message
    assert sleeps == []


def test_401_on_the_api_is_not_retried(client, requests_mock, sleeps):
    requests_mock.get(
        f"{API}/v1/exports/x",
        status_code=401,
        json={"code": 401, "key": "unauthorized", "message": "Unauthorized"},
    )
    with pytest.raises(VoucherifyAPIError, match="401"):
        client.request("GET", f"{API}/v1/exports/x")
    assert requests_mock.call_count == 1


def test_credentials_go_only_to_trusted_origins(client, requests_mock):
    requests_mock.get(rm.ANY, text="ok")
    client.request("GET", f"{API}/v1/exports")
    client.request("GET", "https://download.voucherify.io/v1/exports/x?token=t")
    client.request("GET", "https://evil.example.com/v1/exports/x")
    sent = [(r.netloc, r.headers.get("X-App-Token")) for r in requests_mock.request_history]
    assert sent == [
        ("api.voucherify.io", SECRET),
        ("download.voucherify.io", SECRET),
        ("evil.example.com", None),
    ]


def test_redirect_to_a_foreign_host_drops_the_credentials(client, requests_mock):
    requests_mock.get(
        "https://download.voucherify.io/v1/exports/x",
        status_code=302,
        headers={"Location": "https://s3.amazonaws.com/bucket/file.csv"},
    )
    requests_mock.get("https://s3.amazonaws.com/bucket/file.csv", text="ID\n")
    client.request("GET", "https://download.voucherify.io/v1/exports/x")
    final = requests_mock.request_history[-1]
    assert final.netloc == "s3.amazonaws.com"
    assert "X-App-Token" not in final.headers
    assert "X-App-Id" not in final.headers


def test_retry_after_accepts_http_dates():
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = "Wed, 21 Oct 2037 07:28:00 GMT"
    assert retry_after_seconds(response, now=0) > 0
