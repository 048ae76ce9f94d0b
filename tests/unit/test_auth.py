"""App keys go only to the configured API and download origins, and never follow a redirect out."""

from __future__ import annotations

import pytest
import requests

from tap_voucherify_exports.api.auth import AppKeyAuth, TrustedOriginSession

API = "https://api.voucherify.io"
DOWNLOAD = "https://download.voucherify.io"
FOREIGN = "https://bucket.s3.amazonaws.com"
TOKEN = "secret-app-token-123"


@pytest.fixture
def session():
    auth = AppKeyAuth("app-id", TOKEN, [API, DOWNLOAD])
    with TrustedOriginSession(auth) as s:
        yield s


def sent_headers(requests_mock, url: str) -> dict[str, str]:
    return next(r.headers for r in requests_mock.request_history if r.url.startswith(url))


@pytest.mark.parametrize("url", [f"{API}/v1/exports", f"{DOWNLOAD}/v1/exports/exp_1?token=t"])
def test_trusted_origins_get_both_keys(session, requests_mock, url):
    requests_mock.get(url, text="ok")
    session.get(url)
    headers = sent_headers(requests_mock, url)
    assert headers["X-App-Id"] == "app-id"
    assert headers["X-App-Token"] == TOKEN


@pytest.mark.parametrize(
    "url",
    [
        f"{FOREIGN}/exp_1.csv",
        "http://api.voucherify.io/v1/exports",  # same host, other scheme: another origin
        "https://api.voucherify.io.evil.example/v1/exports",
        "https://api.voucherify.io:8443/v1/exports",
    ],
)
def test_any_other_origin_gets_no_keys(session, requests_mock, url):
    requests_mock.get(url, text="ok")
    session.get(url)
    headers = sent_headers(requests_mock, url)
    assert "X-App-Id" not in headers
    assert "X-App-Token" not in headers


def test_a_redirect_to_a_foreign_host_drops_the_keys(session, requests_mock):
    requests_mock.get(f"{DOWNLOAD}/v1/exports/exp_1", status_code=302,
                      headers={"Location": f"{FOREIGN}/exp_1.csv"})  # fmt: skip
    requests_mock.get(f"{FOREIGN}/exp_1.csv", text="ID\nv_1\n")
    response = session.get(f"{DOWNLOAD}/v1/exports/exp_1")
    assert response.text == "ID\nv_1\n"
    first, second = requests_mock.request_history
    assert first.headers["X-App-Token"] == TOKEN
    assert "X-App-Token" not in second.headers
    assert "X-App-Id" not in second.headers


def test_a_redirect_between_trusted_origins_keeps_the_keys(session, requests_mock):
    requests_mock.get(f"{API}/v1/exports/exp_1", status_code=302,
                      headers={"Location": f"{DOWNLOAD}/v1/exports/exp_1?token=t"})  # fmt: skip
    requests_mock.get(f"{DOWNLOAD}/v1/exports/exp_1", text="ok")
    session.get(f"{API}/v1/exports/exp_1")
    assert requests_mock.request_history[1].headers["X-App-Token"] == TOKEN


def test_a_plain_session_would_have_leaked_the_token(requests_mock):
    """Why TrustedOriginSession exists: requests copies custom headers across hosts."""
    requests_mock.get(f"{DOWNLOAD}/x", status_code=302, headers={"Location": f"{FOREIGN}/x"})
    requests_mock.get(f"{FOREIGN}/x", text="ok")
    with requests.Session() as plain:
        plain.auth = AppKeyAuth("app-id", TOKEN, [DOWNLOAD])
        plain.get(f"{DOWNLOAD}/x")
    assert requests_mock.request_history[1].headers.get("X-App-Token") == TOKEN


def test_repr_names_the_origins_not_the_keys():
    text = repr(AppKeyAuth("app-id", TOKEN, [API]))
    assert API in text
    assert TOKEN not in text
    assert "app-id" not in text


def test_an_oauth_token_obtained_mid_run_is_redacted_from_every_log_line():
    import io
    import logging
    import time

    from tap_voucherify_exports.api.auth import OAuthBearerAuth, OAuthToken
    from tap_voucherify_exports.redaction import redact_secrets_in_logs

    out = io.StringIO()
    logger = logging.getLogger("test_auth.oauth")
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    try:
        redact_secrets_in_logs(["app-secret"])
        token = "oauth-access-token-xyz-123"
        auth = OAuthBearerAuth(
            ["https://api.voucherify.io"],
            lambda: OAuthToken.from_json(
                {"access_token": token, "expires_in": 900}, time.monotonic()
            ),
        )
        assert auth.current().value == token
        logger.warning("sent Bearer %s", token)
    finally:
        logger.removeHandler(handler)
    assert "sent Bearer ***" in out.getvalue()
    assert token not in out.getvalue()
