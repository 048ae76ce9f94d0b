"""A host the tap cannot connect to (refused, DNS, connect timeout): after the retries, the error
names the setting the host comes from and its value, with a hint; later failures keep their
own message. The CLI's output for it is in tests/integration/test_cli_messages.py."""

import logging
import socket
import threading
from types import SimpleNamespace

import pytest
import requests

from tap_voucherify_exports.api import retries
from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.api.retries import (
    BACKOFF_MAX_SECONDS,
    MAX_TRIES,
    SAME_WARNING_SECONDS,
    RetryPolicy,
)
from tap_voucherify_exports.config.settings import parse_settings
from tap_voucherify_exports.errors import ConnectFailedError, RetriableHTTPError
from tests.support.network import closed_port

API = "https://api.voucherify.io"
DOWNLOAD = "https://download.voucherify.io"


def make_client(connect_tries: int | None = None, **config: object) -> VoucherifyClient:
    return VoucherifyClient(
        parse_settings({"app_id": "id", "app_token": "t", "start_date": "2024-01-01", **config}),
        connect_tries=connect_tries,
    )


def test_a_refused_connection_names_api_url_and_its_value_after_the_retries(sleeps):
    origin = f"http://127.0.0.1:{closed_port()}"
    with make_client(api_url=origin) as client, pytest.raises(ConnectFailedError) as error:
        client.request("POST", f"{origin}/v1/exports", json_body={})
    assert str(error.value) == (
        f"Cannot connect to api_url {origin}: connection refused after {MAX_TRIES} tries "
        f"(POST {origin}/v1/exports)."
    )
    assert error.value.hint is not None
    assert error.value.hint.startswith("Check api_url (a region name, eu, us1 or as1, ")
    assert len(sleeps) == MAX_TRIES - 1  # retried like any other connection failure


@pytest.fixture
def no_dns(monkeypatch):
    """Every host name fails to resolve, as with a typo in it or no DNS server."""

    def getaddrinfo(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.usefixtures("no_dns")
@pytest.mark.parametrize(
    ("url", "named"),
    [
        (f"{API}/v1/exports/exp_1", f"api_url {API}"),
        (f"{DOWNLOAD}/v1/exports/exp_1?token=secret-token", f"download_url {DOWNLOAD}"),
    ],
)
def test_a_host_name_that_does_not_resolve_names_its_setting(sleeps, url, named):
    with make_client() as client, pytest.raises(ConnectFailedError) as error:
        client.request("GET", url)
    message = str(error.value)
    assert message.startswith(f"Cannot connect to {named}: its host name does not resolve (DNS)")
    assert "secret-token" not in message
    assert error.value.hint is not None
    assert error.value.hint.startswith(f"Check {named.split()[0]} ")


def test_a_connect_timeout_says_how_long_it_waited(requests_mock, sleeps):
    requests_mock.get(f"{API}/v1/exports", exc=requests.ConnectTimeout("slow"))
    with make_client(request_timeout=5) as client, pytest.raises(ConnectFailedError) as error:
        client.request("GET", f"{API}/v1/exports")
    assert f"api_url {API}: no connection within 5 s after {MAX_TRIES} tries" in str(error.value)


def test_a_read_timeout_is_not_a_connection_problem(requests_mock, sleeps):
    requests_mock.get(f"{API}/v1/exports", exc=requests.ReadTimeout("no answer"))
    with make_client() as client, pytest.raises(RetriableHTTPError) as error:
        client.request("GET", f"{API}/v1/exports")
    assert not isinstance(error.value, ConnectFailedError)
    assert str(error.value) == (
        f"GET {API}/v1/exports failed: ReadTimeout (gave up after {MAX_TRIES} tries)"
    )
    assert error.value.hint is None


def test_a_check_gives_up_on_a_host_it_cannot_connect_to_after_its_connect_tries(sleeps):
    origin = f"http://127.0.0.1:{closed_port()}"
    client = make_client(connect_tries=2, api_url=origin)
    with client, pytest.raises(ConnectFailedError) as error:
        client.request("GET", f"{origin}/v1/exports")
    assert "connection refused after 2 tries" in str(error.value)
    assert sleeps == [1.0]


def test_connect_tries_leave_other_failures_their_retries(requests_mock, sleeps):
    requests_mock.get(f"{API}/v1/exports", status_code=503, json={"message": "busy"})
    with make_client(connect_tries=2) as client, pytest.raises(RetriableHTTPError) as error:
        client.request("GET", f"{API}/v1/exports")
    assert not isinstance(error.value, ConnectFailedError)
    assert len(sleeps) == MAX_TRIES - 1


def retry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Retrying")]


def test_requests_failing_together_say_each_retry_once(sleeps, caplog):
    # Three prefetched exports created at once against a host that refuses connections.
    origin = f"http://127.0.0.1:{closed_port()}"
    failures: list[BaseException] = []

    def create(client: VoucherifyClient) -> None:
        try:
            client.request("POST", f"{origin}/v1/exports", json_body={})
        except ConnectFailedError as exc:
            failures.append(exc)

    with caplog.at_level(logging.WARNING), make_client(api_url=origin) as client:
        threads = [threading.Thread(target=create, args=(client,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(failures) == 3
    warned = retry_warnings(caplog)
    assert [line.split(":")[0] for line in warned] == [
        f"Retrying in {min(2.0**n, BACKOFF_MAX_SECONDS):.1f} s after try {n + 1}"
        for n in range(MAX_TRIES - 1)
    ]


def test_the_same_retry_is_said_again_once_the_earlier_warning_is_old(monkeypatch, caplog):
    now = [1000.0]
    monkeypatch.setattr(retries, "time", SimpleNamespace(monotonic=lambda: now[0]))
    answers: list[bool] = []

    def send() -> str:
        answers.append(True)
        if len(answers) % 2:  # every other call fails once
            raise RetriableHTTPError("GET /v1/exports answered 503: busy")
        return "ok"

    policy = RetryPolicy()
    retried = policy.wrap(send)  # type: ignore[type-var]  # returns no Response: a stand-in
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    with caplog.at_level(logging.WARNING):
        retried()
        retried()  # the same failure at once: the same event
        assert len(retry_warnings(caplog)) == 1
        now[0] += SAME_WARNING_SECONDS
        retried()  # a minute later: said again
    assert len(retry_warnings(caplog)) == 2
