"""SyncSession: one sync opened and closed once, one call per window's records."""

import datetime as dt
import logging

import pytest
import requests

from tap_voucherify_exports.errors import ConnectFailedError, ExportFailedError
from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.jobs.windows import Window
from tap_voucherify_exports.session import SyncSession
from tests.support.fake_api import SECRET, voucher

WINDOW = Window(
    dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
)
REQUEST = ExportRequest("vouchers", TABLES["voucher"], ("id", "code"), WINDOW, "created_at")


def test_records_outside_an_open_sync_is_refused(config):
    with pytest.raises(RuntimeError, match="No sync is open"):
        SyncSession(config).records(REQUEST)


def test_a_session_cannot_be_opened_twice_at_once(config, fake):
    session = SyncSession(config)
    with session.open(), pytest.raises(RuntimeError, match="already open"), session.open():
        pass


def test_records_returns_the_typed_rows_of_one_window(config, fake):
    fake.rows["voucher"] = [voucher(1, "2024-01-02T00:00:00.000Z")]
    with SyncSession(config).open() as session:
        rows = list(session.records(REQUEST))
    assert rows == [{"id": "v_1", "code": "CODE1"}]
    assert len(fake.created) == 1


def test_an_export_ending_in_error_raises_before_any_record(config, fake):
    fake.final_status = "ERROR"
    with SyncSession(config).open() as session, pytest.raises(ExportFailedError):
        session.records(REQUEST)


def test_sync_end_is_end_date_or_the_moment_the_sync_opened(config, fake):
    with SyncSession(config).open() as session:
        assert session.sync_end == dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    del config["end_date"]
    before = dt.datetime.now(dt.timezone.utc)
    with SyncSession(config).open() as session:
        assert before <= session.sync_end <= dt.datetime.now(dt.timezone.utc)


def test_closing_deletes_planned_exports_nobody_downloaded(config, fake):
    config["delete_exports"] = True
    config["max_concurrent_exports"] = 2
    fake.polls_before_done = 0
    with SyncSession(config).open() as session:
        session.plan([REQUEST, *REQUEST.split()])
        rows = session.records(REQUEST)
        list(rows)
    deleted = [r for r in fake.mocker.request_history if r.method == "DELETE"]
    assert len(deleted) == len(fake.created)


def test_opening_installs_the_secret_redaction_filter(config, fake, caplog):
    with SyncSession(config).open():
        logging.getLogger("tap_voucherify_exports").warning("leaked %s", SECRET)
    assert SECRET not in caplog.text


def test_the_connection_check_waits_seconds_not_minutes_for_a_host_that_never_answers(
    config, requests_mock, sleeps
):
    requests_mock.get("https://api.voucherify.io/v1/exports", exc=requests.ConnectTimeout("x"))
    with pytest.raises(ConnectFailedError) as error:
        SyncSession(config).check_connection()
    assert "no connection within 10 s after 2 tries" in str(error.value)
    assert sleeps == [1.0]
