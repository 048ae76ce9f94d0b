"""The fault matrix, over real HTTP against the emulator: each fault either ends in exactly the
emulator's ground truth (every key once) or in the stated, clear error."""

from __future__ import annotations

import contextlib
import csv
import inspect
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tap_voucherify_exports.api import retries
from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.config.settings import parse_settings
from tap_voucherify_exports.errors import ExportFieldsRefusedError, VoucherifyAPIError
from tap_voucherify_exports.fields import TABLES
from tap_voucherify_exports.jobs.exports_api import ExportsAPI
from tap_voucherify_exports.jobs.request import ExportRequest
from tests.support.emulator import arrival_times, base_config, on_nth_create
from tests.support.ground_truth import assert_ground_truth, record_keys
from tests.support.sync import bookmarks, run_sync, sync, without_ledger
from voucherify_emulator import Emulator

ALL = {"vouchers", "customers", "publications"}


def downloads(emu: Emulator, origin: str = "download") -> list:
    return [r for r in emu.requests if r.origin == origin]


def creates(emu: Emulator) -> list:
    return [r for r in emu.requests if r.origin == "api" and r.method == "POST"]


# --- 429 -----------------------------------------------------------------------------------------
PHASE_OF = {
    "create": lambda r: r.origin == "api" and r.method == "POST",
    "poll": lambda r: r.origin == "api" and r.method == "GET",
    "download": lambda r: r.origin == "download",
}


@pytest.mark.parametrize("phase", ["create", "poll", "download"])
def test_429_with_retry_after_waits_as_told_and_completes(emulator, phase):
    emulator.inject("rate_limit", phase=phase, retry_after=1)
    # One job at a time: nothing else is in flight when the 429 arrives.
    messages = run_sync(base_config(emulator, max_concurrent_exports=1), streams=ALL)
    assert_ground_truth(messages, emulator, ALL)
    assert not emulator.faults.armed  # the 429 was served
    limited = next(n for n, r in enumerate(emulator.requests) if PHASE_OF[phase](r))
    request_times = arrival_times(emulator)
    # The next request of the run, whatever it was, came no sooner than Retry-After said.
    assert request_times[limited + 1] - request_times[limited] >= 1.0


def test_429_with_only_x_rate_limit_retry_waits_until_that_epoch_second(emulator):
    emulator.inject("rate_limit", phase="create", retry_after=None, retry_in=1)
    messages = run_sync(base_config(emulator, max_concurrent_exports=1), streams={"vouchers"})
    assert_ground_truth(messages, emulator, {"vouchers"})
    first, second = [n for n, r in enumerate(emulator.requests) if r.method == "POST"][:2]
    request_times = arrival_times(emulator)
    # The emulator answered X-Rate-Limit-Retry = int(arrival + 1.999): the retry came no sooner.
    retry_at = int(request_times[first] + 1.999)
    assert request_times[second] >= retry_at - 0.02  # clock granularity
    assert request_times[second] - request_times[first] < 3.5


# --- 5xx -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("phase", ["create", "poll", "download"])
@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_bursts_back_off_exponentially_and_complete(
    emulator, retry_sleeps, fast_backoff, phase, status
):
    emulator.inject("server_error", phase=phase, times=3, status=status)
    # One job at a time, so the burst hits one call three times in a row.
    streams = {"vouchers", "customers"}
    messages = run_sync(base_config(emulator, max_concurrent_exports=1), streams=streams)
    assert_ground_truth(messages, emulator, streams)
    assert retry_sleeps == [fast_backoff, fast_backoff * 2, fast_backoff * 4]


def test_5xx_that_never_ends_is_bounded_and_fails_clearly(emulator, retry_sleeps, monkeypatch):
    fast_backoff = 0.005
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", fast_backoff)
    emulator.inject("server_error", phase="create", times=None, status=503)
    messages, error = sync(base_config(emulator, max_concurrent_exports=1))
    assert error is not None
    assert "POST" in str(error)
    assert "answered 503" in str(error)
    assert len(creates(emulator)) == 8  # MAX_TRIES, no retry storm
    assert retry_sleeps == [fast_backoff * 2**n for n in range(7)]
    assert not [m for m in messages if m["type"] == "RECORD"]


# --- broken downloads ----------------------------------------------------------------------------
class StallingProxy:
    """A TCP proxy in front of the download origin; the first connection whose response passes
    `after_bytes` goes silent (a read timeout for the client), then is closed."""

    def __init__(self, upstream_port: int, after_bytes: int, stall_seconds: float) -> None:
        self.upstream_port = upstream_port
        self.after_bytes = after_bytes
        self.stall_seconds = stall_seconds
        self.armed = True
        self.stalled = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for args in ((client, upstream, False), (upstream, client, True)):
                thread = threading.Thread(target=self._pump, args=args, daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pump(self, source: socket.socket, sink: socket.socket, response: bool) -> None:
        sent = 0
        try:
            while data := source.recv(65536):
                if response and self.armed and sent + len(data) > self.after_bytes:
                    with self._lock:
                        stall, self.armed = self.armed, False
                    if stall:
                        sink.sendall(data[: self.after_bytes - sent])
                        self.stalled += 1
                        self._closing.wait(self.stall_seconds)
                        break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def stalling_download(emulator) -> Iterator[StallingProxy]:
    port = int(emulator.download_url.rsplit(":", 1)[1])
    proxy = StallingProxy(port, after_bytes=20_000, stall_seconds=3.0)
    # result.url is built from this attribute: point it at the proxy (the tap must trust it).
    emulator.jobs.download_url = proxy.url
    yield proxy
    proxy.close()


def _assert_one_restart(messages, emu, stream="vouchers"):
    assert_ground_truth(messages, emu, {stream})
    # Exports have unique ids within a window (exclusive edges): none may repeat at all.
    assert max(record_keys(messages, stream).values()) == 1


@pytest.fixture(params=[1, 2], ids=["one-process", "2-workers"])
def workers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """`parallel_workers`; with 2, pieces small enough that a break falls after several."""
    monkeypatch.setattr("tap_voucherify_exports.output.workers.PIECE_BYTES", 4096)
    return int(request.param)


@pytest.mark.parametrize("after_bytes", [1024, 40_000])
def test_connection_reset_mid_download_restarts_without_repeating_a_row(
    emulator, after_bytes, workers
):
    emulator.inject("reset_download", after_bytes=after_bytes, exported_object="voucher")
    config = base_config(emulator, max_concurrent_exports=1, parallel_workers=workers)
    messages = run_sync(config)
    _assert_one_restart(messages, emulator)
    assert len(downloads(emulator)) == len(emulator.exports) + 1  # one restart, one export


def test_read_timeout_mid_download_restarts_without_repeating_a_row(emulator, stalling_download):
    config = base_config(emulator, download_url=stalling_download.url, request_timeout=1)
    started = time.monotonic()
    messages = run_sync(config)
    assert stalling_download.stalled == 1
    _assert_one_restart(messages, emulator)
    assert len(downloads(emulator)) == len(emulator.exports) + 1
    assert time.monotonic() - started < 15  # one 1 s read timeout, not the 3 s stall each time


@pytest.mark.parametrize(
    "params",
    [{"mode": "content_length", "after_bytes": 5000}, {"mode": "content_length"},
     {"mode": "clean"}],
    ids=["short-body-early", "short-body-half", "last-line-cut"],
)  # fmt: skip
@pytest.mark.parametrize("stream", ["vouchers", "customers", "publications"])
def test_truncated_body_is_never_emitted_as_a_short_row(emulator, params, stream, workers):
    obj = {"vouchers": "voucher", "customers": "customer", "publications": "publication"}[stream]
    emulator.inject("truncate_download", exported_object=obj, times=2, **params)
    config = base_config(emulator, max_concurrent_exports=1, parallel_workers=workers)
    messages = run_sync(config, streams={stream})
    assert_ground_truth(messages, emulator, {stream})
    # Every record is complete: each has every selected column (a short row would lack some).
    width = len(TABLES[obj].keys)
    assert all(len(m["record"]) == width for m in messages if m["type"] == "RECORD")
    assert not emulator.faults.armed  # both truncations were served and survived
    assert len(downloads(emulator)) == len(emulator.exports) + 2


def test_expired_download_token_gets_a_fresh_result_url(emulator):
    emulator.inject("expire_token", ttl_seconds=0, exported_object="voucher")
    messages = run_sync(base_config(emulator, max_concurrent_exports=1))
    assert_ground_truth(messages, emulator, {"vouchers"})
    rejected = len(downloads(emulator)) - len(emulator.exports)
    assert rejected == 1
    polls = [r for r in emulator.requests if r.origin == "api" and r.method == "GET"]
    tokens = [r.query["token"][0] for r in downloads(emulator)]
    assert len(set(tokens)) == len(tokens)  # the retry used a fresh token
    assert len(polls) >= len(emulator.exports) + 1  # one more Get Export for the fresh url


def test_a_download_token_that_keeps_expiring_fails_after_bounded_tries(emulator):
    emulator.inject("expire_token", ttl_seconds=0, times=None)
    _, error = sync(base_config(emulator, max_concurrent_exports=1))
    assert isinstance(error, VoucherifyAPIError)
    assert error.status == 401
    assert "token=" not in str(error) or "token=…" in str(error)
    assert len(downloads(emulator)) == 5


# --- ERROR and row limits: adaptive split --------------------------------------------------------
def test_export_error_splits_the_window_and_completes(emulator):
    on_nth_create(emulator, 2, lambda: emulator.inject("job_error", times=2))
    messages = run_sync(base_config(emulator, max_concurrent_exports=1))
    assert_ground_truth(messages, emulator, {"vouchers"})
    statuses = [job.status for job in emulator.exports]
    assert statuses.count("ERROR") == 2
    assert len(emulator.exports) == 5 + 2 * 2  # window 2 split, its first half split again
    assert max(record_keys(messages, "vouchers").values()) == 1


def test_export_error_down_to_min_window_fails_naming_object_window_and_export(emulator):
    on_nth_create(emulator, 2, lambda: emulator.inject("job_error", times=None))
    config = base_config(emulator, max_concurrent_exports=1, min_window_seconds=30 * 86400)
    messages, error = sync(config)
    assert error is not None
    failed = [job for job in emulator.exports if job.status == "ERROR"]
    # 365 d -> 182.5 -> 91.25 -> 45.6 d; half of that is under 30 d: give up.
    assert len(failed) == 4
    last = failed[-1]
    message = str(error)
    assert last.id in message
    assert "voucher export" in message
    start = last.parameters["filters"]["created_at"]["conditions"]["$before"][0]
    assert start in message  # the window's end, as sent
    assert "ERROR" in message
    # Window 1 was synced and is the last bookmark; nothing of window 2 was emitted.
    assert bookmarks(messages, "vouchers")[-1] == "2022-01-01T00:00:00+00:00"
    window_one = truth_keys_before(emulator, "2022-01-01T00:00:00.000Z")
    assert set(record_keys(messages, "vouchers")) == window_one


def truth_keys_before(emu: Emulator, before: str) -> set[tuple[str, ...]]:
    return set(truth_keys_window(emu, None, before))


def truth_keys_window(emu: Emulator, after: str | None, before: str) -> set[tuple[str, ...]]:
    return {(row["id"],) for row in emu.ground_truth("voucher", after, before)}


def test_rows_per_export_limit_splits_adaptively_and_completes():
    with Emulator(seed=5, rows={"voucher": 400}, job_latency_seconds=0.01,
                  max_rows_per_export=30) as emu:  # fmt: skip
        messages = run_sync(base_config(emu))
        assert_ground_truth(messages, emu, {"vouchers"})
        assert max(record_keys(messages, "vouchers").values()) == 1
        done = [job for job in emu.exports if job.status == "DONE"]
        assert all(job.row_count is not None and job.row_count <= 30 for job in done)
        assert any(job.status == "ERROR" for job in emu.exports)


def test_injected_row_limit_on_one_export_splits_it_and_completes(emulator):
    emulator.inject("max_rows_per_export", max_rows=20, times=3)
    messages = run_sync(base_config(emulator, max_concurrent_exports=2), streams=ALL)
    assert_ground_truth(messages, emulator, ALL)
    assert sum(job.status == "ERROR" for job in emulator.exports) == 3


# --- a job that never finishes -------------------------------------------------------------------
def test_a_job_that_never_finishes_times_out_and_state_stays_at_the_last_window(emulator):
    on_nth_create(emulator, 3, lambda: emulator.inject("never_finish"))
    config = base_config(emulator, max_concurrent_exports=1, export_timeout=2)
    started = time.monotonic()
    messages, error = sync(config)
    elapsed = time.monotonic() - started
    assert error is not None
    stuck = emulator.exports[2]
    assert stuck.id in str(error)
    assert "export_timeout" in str(error)
    assert "did not finish within 2 s" in str(error)
    assert 2 <= elapsed < 8
    marks = bookmarks(messages, "vouchers")
    assert marks[-1] == "2023-01-01T00:00:00+00:00"  # end of window 2, the last completed one
    assert messages[-1]["type"] == "STATE"  # nothing of window 3 after it
    assert set(record_keys(messages, "vouchers")) == truth_keys_before(
        emulator, "2023-01-01T00:00:00.000Z"
    )


# --- 4xx -----------------------------------------------------------------------------------------
def test_400_refusing_a_key_field_quotes_voucherify_details_at_create(emulator):
    settings = parse_settings(base_config(emulator))
    request = ExportRequest(
        "vouchers", TABLES["voucher"], ("id", "no_such_field"), required=("id", "no_such_field")
    )
    with VoucherifyClient(settings) as client:
        api = ExportsAPI(client, settings)
        with pytest.raises(ExportFieldsRefusedError) as caught:
            api.create_export(request)
    message = str(caught.value)
    assert "refuses the field(s) no_such_field, which the stream needs" in message
    assert "Voucherify API error 400 (invalid_export_fields)" in message
    assert "Unsupported field used. Allowed fields: " in message
    assert "code" in message.split("Allowed fields: ")[1]
    assert re.search(r"\[request_id v-[0-9a-f]+\]", message)
    assert len(creates(emulator)) == 1  # a key field refused is not retried without it


def test_400_unsupported_field_is_dropped_and_the_sync_completes(emulator, monkeypatch):
    from tap_voucherify_exports.streams import VouchersStream

    original = inspect.getattr_static(VouchersStream, "requested_fields")  # the property

    def with_unknown_field(self):
        return (*original.fget(self), "no_such_field")

    # The catalog cannot name a field outside fields.py; pretend Voucherify dropped one.
    monkeypatch.setattr(VouchersStream, "requested_fields", property(with_unknown_field))
    messages, error = sync(base_config(emulator))
    assert error is None
    got = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert len(got) == len(emulator.ground_truth("voucher"))
    assert all("no_such_field" not in record for record in got)
    fields = [c.body["parameters"]["fields"] for c in creates(emulator)]
    assert "no_such_field" in fields[0]
    assert "no_such_field" not in fields[-1]


def test_401_on_the_api_fails_clearly_without_a_retry_storm(emulator):
    config = base_config(emulator, app_token="wrong-token-xyz")
    messages, error = sync(config, streams=ALL)
    assert isinstance(error, VoucherifyAPIError)
    assert error.status == 401
    assert "401" in str(error)
    assert "Unauthorized" in str(error)
    assert "wrong-token-xyz" not in str(error)
    # Only the jobs the pipeline started at once (max_concurrent_exports=3), each tried once.
    assert 1 <= len(emulator.requests) <= 3
    assert not [m for m in messages if m["type"] == "RECORD"]


# --- malformed rows ------------------------------------------------------------------------------
def _bad_line(path: str, position: int) -> tuple[int, list[str]]:
    """Physical line number (1-based) where data row `position` ends, and its cells."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for index, row in enumerate(reader):
            if index == position:
                return reader.line_num, row
    raise AssertionError("row not found")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("cell_count", "has {cells} cells but the header has {width} columns"),
        ("bad_number", "column `{column}`: cannot read '12.3.4x' as number"),
        ("bad_date", "column `{column}`: cannot read '2022-13-45T25:61:00.000Z' as date-time"),
    ],
)
def test_malformed_row_fails_naming_stream_line_column_and_value(emulator, kind, expected):
    on_nth_create(emulator, 2, lambda: emulator.inject("malformed_row", kind=kind))
    # The export is kept (delete_exports off): the test reads the bad line from its file.
    messages, error = sync(base_config(emulator, max_concurrent_exports=1, delete_exports=False))
    assert error is not None
    job = emulator.exports[1]
    position = len(job.rows) // 2
    line, cells = _bad_line(job.path, position)
    keys = list(job.parameters["fields"])
    column = next((k for k, c in zip(keys, cells, strict=False)
                   if c in ("12.3.4x", "2022-13-45T25:61:00.000Z")), None)  # fmt: skip
    message = str(error)
    assert message.startswith(f"vouchers: line {line}")
    assert expected.format(cells=len(cells), width=len(keys), column=column) in message
    # Rows before the bad one were streamed; none after it; STATE stays at window 1's end.
    window_two = [r["id"] for r in emulator.ground_truth("voucher")
                  if "2022-01-01" <= r["created_at"] < "2023-01-01"]  # fmt: skip
    emitted = [m["record"]["id"] for m in messages if m["type"] == "RECORD"]
    window_one = truth_keys_before(emulator, "2022-01-01T00:00:00.000Z")
    assert emitted[len(window_one) :] == window_two[:position]
    assert bookmarks(messages, "vouchers")[-1] == "2022-01-01T00:00:00+00:00"
    # The last STATE that moved a bookmark (a later one only updates the list of exports left).
    moved = without_ledger(messages)
    last_state = max(n for n, m in enumerate(moved) if m["type"] == "STATE")
    assert len([m for m in moved[:last_state] if m["type"] == "RECORD"]) == len(window_one)


# --- a result.url on a foreign host --------------------------------------------------------------
def test_result_url_on_a_foreign_host_is_refused_and_gets_no_credentials(emulator):
    emulator.inject("foreign_download_host", exported_object="voucher")
    # One job at a time: the first window is the foreign one, so nothing is emitted before it.
    messages, error = sync(base_config(emulator, max_concurrent_exports=1))
    assert error is not None
    assert "Refusing to send credentials there" in str(error)
    assert emulator.foreign_url.replace("http://", "") in str(error)
    foreign = downloads(emulator, "foreign")
    assert not [r for r in foreign if "X-App-Token" in r.headers or "X-App-Id" in r.headers]
    assert not foreign  # refused before any request
    assert not [m for m in messages if m["type"] == "RECORD"]
