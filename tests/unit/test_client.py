import time

import pytest
import requests
import requests_mock as rm

from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.api.retries import retry_after_seconds
from tap_voucherify_exports.config.settings import parse_settings
from tap_voucherify_exports.errors import RetriableHTTPError, VoucherifyAPIError

API = "https://api.voucherify.io"
SECRET = "tok-secret"


@pytest.fixture
def client():
    settings = parse_settings({"app_id": "id", "app_token": SECRET, "start_date": "2024-01-01"})
    with VoucherifyClient(settings) as c:
        yield c


def test_429_waits_for_retry_after_then_succeeds(client, requests_mock, sleeps):
    requests_mock.get(
        f"{API}/v1/exports/x",
        [
            {"status_code": 429, "headers": {"Retry-After": "0.4"}, "json": {"code": 429}},
            {"json": {"id": "x"}},
        ],
    )
    started = time.monotonic()
    assert client.request("GET", f"{API}/v1/exports/x").json() == {"id": "x"}
    # The rate gate held the retry (backoff adds no sleep of its own).
    assert time.monotonic() - started >= 0.4
    assert sleeps == [0.0]
    assert client.gate.stats.rate_limited == 1


def test_429_without_retry_after_waits_until_x_rate_limit_retry(client, requests_mock, sleeps):
    retry_at = int(time.time()) + 1
    requests_mock.get(
        f"{API}/v1/exports/x",
        [
            {"status_code": 429, "headers": {"X-Rate-Limit-Retry": str(retry_at)}},
            {"json": {"id": "x"}},
        ],
    )
    client.request("GET", f"{API}/v1/exports/x")
    assert time.time() >= retry_at


def test_5xx_is_retried_with_growing_backoff_and_bounded(client, requests_mock, sleeps):
    requests_mock.get(f"{API}/v1/exports/x", status_code=503, json={"message": "busy"})
    with pytest.raises(RetriableHTTPError, match="503"):
        client.request("GET", f"{API}/v1/exports/x")
    assert len(sleeps) == 7
    assert sleeps == sorted(sleeps)
    assert client.gate.stats.calls["other"] == 8
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
    seconds = retry_after_seconds(response, now=0)
    assert seconds is not None
    assert seconds > 0


# --- OAuth ---------------------------------------------------------------------------------------
TOKEN_URL = f"{API}/v1/oauth/token"


@pytest.fixture
def oauth_client():
    settings = parse_settings(
        {"app_id": "id", "app_token": SECRET, "start_date": "2024-01-01", "auth_method": "oauth"}
    )
    with VoucherifyClient(settings) as c:
        yield c


def token_answers(*tokens: str, expires_in: int = 900) -> list[dict]:
    return [
        {"json": {"access_token": t, "expires_in": expires_in, "token_type": "Bearer"}}
        for t in tokens
    ]


def test_oauth_sends_the_bearer_and_the_app_keys_only_to_the_token_endpoint(
    oauth_client, requests_mock
):
    requests_mock.post(TOKEN_URL, token_answers("bearer-1"))
    requests_mock.post(f"{TOKEN_URL}/revoke", status_code=204)
    requests_mock.get(rm.ANY, text="ok")
    oauth_client.request("GET", f"{API}/v1/exports/x")
    oauth_client.request("GET", "https://download.voucherify.io/v1/exports/x?token=t")
    oauth_client.close()
    token, api, download, revoke = requests_mock.request_history
    assert token.headers["X-App-Token"] == SECRET
    assert token.body == "grant_type=client_credentials&scope=exports"
    for call in (api, download):
        assert call.headers["Authorization"] == "Bearer bearer-1"
        assert "X-App-Token" not in call.headers
    assert revoke.url == f"{TOKEN_URL}/revoke"
    assert revoke.body == "access_token=bearer-1"
    assert oauth_client.gate.stats.calls == {"token": 1, "other": 2, "revoke": 1}


def test_oauth_renews_after_a_401_and_sends_the_request_again(oauth_client, requests_mock):
    requests_mock.post(TOKEN_URL, token_answers("bearer-1", "bearer-2"))
    requests_mock.get(
        f"{API}/v1/exports/x",
        [{"status_code": 401, "json": {"code": 401, "key": "unauthorized"}}, {"json": {"id": "x"}}],
    )
    assert oauth_client.request("GET", f"{API}/v1/exports/x").json() == {"id": "x"}
    calls = [(r.method, r.headers.get("Authorization")) for r in requests_mock.request_history]
    assert calls == [
        ("POST", None),
        ("GET", "Bearer bearer-1"),
        ("POST", None),
        ("GET", "Bearer bearer-2"),
    ]


def test_oauth_renews_a_token_before_it_expires(oauth_client, requests_mock):
    # A 1 s token is renewed once a fifth of its life (0.2 s) is left.
    requests_mock.post(TOKEN_URL, token_answers("bearer-1", "bearer-2", expires_in=1))
    requests_mock.get(f"{API}/v1/exports/x", json={"id": "x"})
    oauth_client.request("GET", f"{API}/v1/exports/x")
    oauth_client.request("GET", f"{API}/v1/exports/x")
    time.sleep(0.85)  # at least this long passes: the token is then due, however loaded we are
    oauth_client.request("GET", f"{API}/v1/exports/x")
    sent = [r.headers.get("Authorization") for r in requests_mock.request_history]
    assert sent == [None, "Bearer bearer-1", "Bearer bearer-1", None, "Bearer bearer-2"]


def test_a_second_401_is_the_callers_to_handle(oauth_client, requests_mock):
    requests_mock.post(TOKEN_URL, token_answers("bearer-1", "bearer-2"))
    requests_mock.get(f"{API}/v1/exports/x", status_code=401, json={"code": 401})
    with pytest.raises(VoucherifyAPIError, match="401"):
        oauth_client.request("GET", f"{API}/v1/exports/x")
    assert [r.method for r in requests_mock.request_history] == ["POST", "GET", "POST", "GET"]


def test_oauth_with_one_request_a_minute_fetches_its_token_outside_the_requests_slot(
    requests_mock,
):
    # The token call takes the minute's one slot; the request then waits for the next window
    # (here 0.3 s: the gate's window is a constructor parameter) instead of deadlocking.
    settings = parse_settings({"app_id": "id", "app_token": SECRET, "start_date": "2024-01-01",
                               "auth_method": "oauth", "max_requests_per_minute": 1})  # fmt: skip
    requests_mock.post(TOKEN_URL, token_answers("bearer-1"))
    requests_mock.post(f"{TOKEN_URL}/revoke", status_code=204)
    requests_mock.get(f"{API}/v1/exports/x", json={"id": "x"})
    with VoucherifyClient(settings, rate_window_seconds=0.3) as client:
        started = time.monotonic()
        assert client.request("GET", f"{API}/v1/exports/x").json() == {"id": "x"}
        assert time.monotonic() - started >= 0.3
        assert client.gate.stats.calls == {"token": 1, "other": 1}


def test_an_unexpected_error_still_frees_the_requests_slot(requests_mock):
    settings = parse_settings({"app_id": "id", "app_token": SECRET, "start_date": "2024-01-01",
                               "max_requests_per_minute": 1})  # fmt: skip
    requests_mock.get(
        f"{API}/v1/exports/x",
        [{"exc": requests.exceptions.TooManyRedirects("loop")}, {"json": {"id": "x"}}],
    )
    with VoucherifyClient(settings, rate_window_seconds=0.2) as client:
        with pytest.raises(requests.exceptions.TooManyRedirects):
            client.request("GET", f"{API}/v1/exports/x")
        # Held for good, the one slot would block this call forever; freed, a window later.
        assert client.request("GET", f"{API}/v1/exports/x").json() == {"id": "x"}
